// Text data: documents read and tokenized into one stream, windows over it, token bytes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "quantscope/error.h"
#include "quantscope/npy.h"
#include "quantscope/text_data.h"

namespace qs {
namespace {

const std::string kTokenizer = QS_RESOURCES_MODELS_DIR "/decoder/tokenizer.model";

// SentencePiece runs in a link-map namespace of its own (dlmopen, sentencepiece_tokenizer.cpp),
// where AddressSanitizer's runtime cannot come first: the tests that tokenize skip under ASan
// (the integration tests tokenize in the normal build).
#if defined(__SANITIZE_ADDRESS__)
#define SKIP_WITHOUT_TOKENIZER() \
  GTEST_SKIP() << "SentencePiece (dlmopen) cannot load under AddressSanitizer"
#else
#define SKIP_WITHOUT_TOKENIZER() (void)0
#endif

struct TempFile {
  explicit TempFile(const std::string& name, const std::string& content)
      : path((std::filesystem::temp_directory_path() /
              ("qs_text_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
               "_" + name))
                 .string()) {
    std::ofstream(path, std::ios::binary) << content;
  }
  ~TempFile() { std::filesystem::remove(path); }
  std::string path;
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Side by side (stride == context) a window's first token has nothing before it in the window
// and is not scored (as the decoder's PyTorch perplexity does); overlapping, every token is.
TEST(TokenWindows, ScoreEachTokenOnceAndSideBySideAllButEachWindowsFirst) {
  for (std::int64_t n : {2, 3, 17, 256, 257, 1000}) {
    for (auto [context, stride] : {std::pair{4, 4}, {16, 16}, {16, 8}, {16, 1}, {256, 100}}) {
      const auto windows = token_windows(n, context, stride);
      std::vector<int> scored(static_cast<std::size_t>(n), 0);
      for (const TokenWindow& w : windows) {
        EXPECT_LE(w.end - w.begin, context);
        EXPECT_GT(w.scored, w.begin);
        EXPECT_LT(w.scored, w.end);
        for (std::int64_t t = w.scored; t < w.end; ++t) ++scored[t];
      }
      EXPECT_EQ(scored[0], 0);
      for (std::int64_t t = 1; t < n; ++t) {
        const int want = stride == context && t % context == 0 ? 0 : 1;
        EXPECT_EQ(scored[t], want)
            << "token " << t << " of " << n << ", context " << context << ", stride " << stride;
      }
    }
  }
}

TEST(TokenWindows, WithAShorterStrideEveryLaterWindowSeesHistory) {
  const auto windows = token_windows(100, 16, 4);
  for (std::size_t k = 1; k < windows.size(); ++k) {
    if (windows[k].end - windows[k].begin == 16) {
      EXPECT_EQ(windows[k].scored - windows[k].begin, 12);
    }
  }
  EXPECT_EQ(token_windows(100, 16, 16, 3).size(), 3u);
  EXPECT_TRUE(token_windows(1, 16, 16).empty());
}

TEST(TokenWindows, BadSizesAreErrors) {
  EXPECT_NE(error_of([] { token_windows(10, 1, 1); }).find("at least 2"), std::string::npos);
  EXPECT_NE(error_of([] { token_windows(10, 8, 9); }).find("stride"), std::string::npos);
  EXPECT_NE(error_of([] { token_windows(10, 8, 0); }).find("stride"), std::string::npos);
}

TEST(TokenBytes, SumToTheTextsBytesWithSentencePiecesLeadingSpace) {
  SKIP_WITHOUT_TOKENIZER();
  const auto tokenizer = open_tokenizer(kTokenizer);
  for (const std::string text : {"In the beginning God created the heaven and the earth.",
                                 "naïve café, Zoë", "東京 and 🙂 fall back to bytes", "x"}) {
    std::int64_t bytes = 0;
    for (std::int64_t id : tokenizer->encode(text)) bytes += tokenizer->token_bytes(id);
    EXPECT_EQ(bytes, static_cast<std::int64_t>(text.size()) + 1) << text;  // + the dummy space
  }
  EXPECT_EQ(tokenizer->token_bytes(tokenizer->bos()), 0);
  EXPECT_THROW(tokenizer->token_bytes(tokenizer->vocab_size()), Error);
}

TEST(TextData, LinesAreDocumentsEachLedByTheBeginningToken) {
  SKIP_WITHOUT_TOKENIZER();
  const auto tokenizer = open_tokenizer(kTokenizer);
  TempFile file("lines.txt", "And God said\n\n   \nLet there be light\r\n");
  const TokenStream s = open_token_stream("text:" + file.path, tokenizer.get());
  EXPECT_EQ(s.documents, 2);
  std::vector<std::int64_t> want{tokenizer->bos()};
  for (const char* doc : {"And God said", "Let there be light"}) {
    if (want.size() > 1) want.push_back(tokenizer->bos());
    const auto ids = tokenizer->encode(doc);
    want.insert(want.end(), ids.begin(), ids.end());
  }
  EXPECT_EQ(s.ids, want);
  ASSERT_EQ(s.bytes.size(), s.ids.size());
  EXPECT_EQ(s.bytes[0], 0);
  EXPECT_NE(s.description.find("2 documents"), std::string::npos) << s.description;
}

TEST(TextData, JsonLinesTakeTheTextField) {
  SKIP_WITHOUT_TOKENIZER();
  const auto tokenizer = open_tokenizer(kTokenizer);
  TempFile file("records.jsonl",
                "{\"text\": \"And God said\", \"id\": 1}\n{\"text\": \"light\"}\n");
  const TokenStream s = open_token_stream("text:" + file.path, tokenizer.get());
  EXPECT_EQ(s.documents, 2);
  EXPECT_EQ(s.ids.size(),
            tokenizer->encode("And God said").size() + tokenizer->encode("light").size() + 2);
  TempFile bad("bad.jsonl", "{\"text\": \"fine\"}\n{\"body\": \"no text\"}\n");
  EXPECT_NE(error_of([&] {
              open_token_stream("text:" + bad.path, tokenizer.get());
            }).find(":2: the record has no \"text\""),
            std::string::npos);
}

TEST(TextData, BadTextIsAnErrorNamingTheLine) {
  SKIP_WITHOUT_TOKENIZER();
  const auto tokenizer = open_tokenizer(kTokenizer);
  TempFile latin1("latin1.txt", "fine\ncaf\xe9 au lait\n");
  EXPECT_NE(error_of([&] {
              open_token_stream("text:" + latin1.path, tokenizer.get());
            }).find(":2: not UTF-8 text (byte 4)"),
            std::string::npos);
  for (const std::string bad :
       {"over\xC0\xAFlong", "sur\xED\xA0\x80rogate", "big\xF4\x90\x80\x80", "cut\xE2\x82"}) {
    TempFile file("bad.txt", bad + "\n");
    EXPECT_NE(error_of([&] {
                open_token_stream("text:" + file.path, tokenizer.get());
              }).find(":1: not UTF-8 text"),
              std::string::npos)
        << bad;
  }
  TempFile fine("fine.txt", "\xF0\x9F\x99\x82 caf\xC3\xA9 \xE6\x9D\xB1\n");
  EXPECT_EQ(open_token_stream("text:" + fine.path, tokenizer.get()).documents, 1);
  TempFile empty("empty.txt", "\n\n");
  EXPECT_NE(
      error_of([&] { open_token_stream("text:" + empty.path, tokenizer.get()); }).find("no text"),
      std::string::npos);
  EXPECT_NE(error_of([] {
              open_token_stream("text:/no/such/file.txt", nullptr);
            }).find("needs a tokenizer"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              open_token_stream("text:/no/such/file.txt", tokenizer.get());
            }).find("no such file"),
            std::string::npos);
}

TEST(TextData, TokenFilesAreStreamsOrRowsOfIds) {
  SKIP_WITHOUT_TOKENIZER();
  const auto tokenizer = open_tokenizer(kTokenizer);
  const std::string path = (std::filesystem::temp_directory_path() / "qs_text_tokens.npy").string();
  write_npy(path, Tensor::from_vector<std::int64_t>({2, 3}, {1, 5, 6, 1, 7, 8}));
  const TokenStream s = open_token_stream("tokens:" + path, tokenizer.get());
  EXPECT_EQ(s.ids, (std::vector<std::int64_t>{1, 5, 6, 1, 7, 8}));
  EXPECT_EQ(s.documents, 2);
  EXPECT_EQ(s.bytes.size(), 6u);
  EXPECT_TRUE(open_token_stream("tokens:" + path, nullptr).bytes.empty());

  write_npy(path, Tensor::from_vector<std::int64_t>({3}, {1, 99999, 2}));
  EXPECT_NE(error_of([&] {
              open_token_stream("tokens:" + path, tokenizer.get());
            }).find("id 99999 at position 1"),
            std::string::npos);
  write_npy(path, Tensor::from_vector<float>({2}, {1.0f, 2.0f}));
  EXPECT_NE(error_of([&] { open_token_stream("tokens:" + path, nullptr); }).find("integers"),
            std::string::npos);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace qs
