// Hugging Face tokenizer.json (byte-level BPE) on a vocabulary made here: the word patterns of
// GPT-2 and Llama 3 against splits worked out from their regular expressions, merges by rank,
// added tokens, decoding of broken UTF-8, and what is refused. The integration test
// (test_text.HuggingFaceTokenizer) compares published files with Hugging Face's own code.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "quantscope/error.h"
#include "quantscope/tokenizer.h"
#include "text/pretokenize.h"
#include "text/unicode_text.h"

namespace {

using qs::text::split_words;
using qs::text::WordPattern;

std::vector<std::string> words(const std::string& text, WordPattern p) {
  std::vector<std::string> out;
  for (std::string_view w : split_words(text, p)) out.emplace_back(w);
  return out;
}

TEST(BytePairWords, Gpt2Pattern) {
  using V = std::vector<std::string>;
  // A run of spaces leaves its last one to the next word; numbers take a leading space.
  EXPECT_EQ(words("Hello world's  12345 !!\n\n x", WordPattern::gpt2),
            (V{"Hello", " world", "'s", " ", " 12345", " !!", "\n\n", " x"}));
  // Contractions are case-sensitive in GPT-2's pattern.
  EXPECT_EQ(words("it'S it's", WordPattern::gpt2), (V{"it", "'", "S", " it", "'s"}));
  EXPECT_EQ(words("  ", WordPattern::gpt2), (V{"  "}));
  EXPECT_EQ(words("naïve 日本語", WordPattern::gpt2), (V{"naïve", " 日本語"}));
  EXPECT_TRUE(words("", WordPattern::gpt2).empty());
}

TEST(BytePairWords, Llama3Pattern) {
  using V = std::vector<std::string>;
  // Digits three at a time; punctuation keeps the line breaks after it; a letter run takes one
  // non-letter before it.
  EXPECT_EQ(words("Hello world's  12345 !!\n\n x", WordPattern::llama3),
            (V{"Hello", " world", "'s", " ", " ", "123", "45", " !!\n\n", " x"}));
  EXPECT_EQ(words("it'S (a)", WordPattern::llama3), (V{"it", "'S", " (", "a", ")"}));
  // Whitespace up to its last line break is one word.
  EXPECT_EQ(words("a\r\n\r\nb", WordPattern::llama3), (V{"a", "\r\n\r\n", "b"}));
  EXPECT_EQ(words("x  \n  y", WordPattern::llama3), (V{"x", "  \n", " ", " y"}));
  EXPECT_EQ(words("12345", WordPattern::qwen2), (V{"1", "2", "3", "4", "5"}));
}

TEST(BytePairWords, PatternsAreRecognisedExactly) {
  EXPECT_FALSE(qs::text::word_pattern("\\w+").has_value());
  EXPECT_FALSE(qs::text::word_pattern("").has_value());
}

TEST(Utf8, InvalidSequencesAreReplacedAsTextDecoderDoes) {
  EXPECT_EQ(qs::text::utf8_replacing_invalid("a\xE6\x97"), "a\xEF\xBF\xBD");  // cut short
  EXPECT_EQ(qs::text::utf8_replacing_invalid("\xC0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(qs::text::utf8_replacing_invalid("\xF0\x9F\xA4\x97"), "\xF0\x9F\xA4\x97");
  EXPECT_EQ(qs::text::utf8_replacing_invalid("\xED\xA0\x80"),  // a surrogate: three bytes, three
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

// GPT-2's stand-in for a byte.
std::string stand_in(int b) {
  int next = 256;
  for (int x = 0; x < 256; ++x) {
    const bool printable = (x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || x >= 0xAE;
    const int c = printable ? x : next++;
    if (x == b) {
      std::string s;
      qs::text::append_utf8(s, static_cast<char32_t>(c));
      return s;
    }
  }
  return {};
}

class TokenizerJson : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("qs_bpe_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    nlohmann::json vocab;
    for (int b = 0; b < 256; ++b) vocab[stand_in(b)] = b;
    const std::string sp = stand_in(' ');
    std::vector<std::string> merges{"h e", "l l", "he ll", "hell o", sp + " w", "a a"};
    int id = 256;
    for (const char* t : {"he", "ll", "hell", "hello", "", "aa"})
      vocab[*t ? std::string(t) : sp + "w"] = id++;
    spec_ = {{"version", "1.0"},
             {"normalizer", nullptr},
             {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}}},
             {"post_processor",
              {{"type", "TemplateProcessing"},
               {"single",
                {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                 {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
               {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {300}}}}}}}},
             {"added_tokens",
              {{{"id", 300}, {"content", "<s>"}, {"special", true}},
               {{"id", 301}, {"content", "<|eot|>"}, {"special", true}, {"rstrip", true}}}},
             {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}};
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<qs::Tokenizer> open(const nlohmann::json& spec) {
    const std::string path = (dir_ / "tokenizer.json").string();
    std::ofstream(path) << spec.dump();
    return qs::open_tokenizer(path);
  }

  std::filesystem::path dir_;
  nlohmann::json spec_;
};

TEST_F(TokenizerJson, MergesApplyByRank) {
  auto t = open(spec_);
  using V = std::vector<std::int64_t>;
  EXPECT_EQ(t->encode("hello"), (V{259}));
  EXPECT_EQ(t->encode("hello world"), (V{259, 260, 'o', 'r', 'l', 'd'}));
  EXPECT_EQ(t->encode("aaa"), (V{261, 'a'}));  // the leftmost pair of equal rank first
  EXPECT_EQ(t->decode(t->encode("hello world")), "hello world");
  EXPECT_EQ(t->vocab_size(), 302);
  EXPECT_EQ(t->bos(), 300);  // the post-processor's
  EXPECT_EQ(t->eos(), -1);   // no tokenizer_config.json
  EXPECT_EQ(t->token_bytes(259), 5);
  EXPECT_EQ(t->token_bytes(260), 2);  // " w"
  EXPECT_EQ(t->piece(260), stand_in(' ') + "w");
  EXPECT_NE(t->describe().find("GPT-2 words"), std::string::npos);
}

TEST_F(TokenizerJson, AddedTokensAreCutOutOfTheText) {
  auto t = open(spec_);
  using V = std::vector<std::int64_t>;
  // rstrip: the spaces after <|eot|> go with it.
  EXPECT_EQ(t->encode("he<|eot|>  he<s>"), (V{256, 301, 256, 300}));
  EXPECT_EQ(t->decode({256, 301, 300}), "he<|eot|><s>");
  EXPECT_EQ(t->token_bytes(301), 0);
  EXPECT_EQ(t->piece(301), "<|eot|>");
  EXPECT_EQ(t->encode("<|eot"), (V{'<', '|', 'e', 'o', 't'}));
}

TEST_F(TokenizerJson, StrippedWhitespaceIsWholeCharacters) {
  nlohmann::json spec = spec_;
  spec["added_tokens"][1]["lstrip"] = true;
  auto t = open(spec);
  using V = std::vector<std::int64_t>;
  // "à" ends in byte 0xA0, which is no space: it stays.
  EXPECT_EQ(t->encode("\xC3\xA0<|eot|>"), (V{0xC3, 0xA0, 301}));
  // U+3000 (three bytes) and U+00A0 before the token are spaces: they go with it.
  EXPECT_EQ(t->encode("a\xE3\x80\x80\xC2\xA0 <|eot|>"), (V{'a', 301}));
}

TEST_F(TokenizerJson, ALongWordMergesAsAShortOneDoes) {
  auto t = open(spec_);
  // 20,001 letters without a space: one word, merged pair by pair (the heap keeps it linear).
  const std::vector<std::int64_t> ids = t->encode(std::string(20001, 'a'));
  ASSERT_EQ(ids.size(), 10001u);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 261), 10000);
  EXPECT_EQ(ids.back(), 'a');
}

TEST_F(TokenizerJson, BrokenUtf8DecodesToReplacementCharacters) {
  auto t = open(spec_);
  EXPECT_EQ(t->decode({0xE6, 'a'}),
            "\xEF\xBF\xBD"
            "a");
  EXPECT_THROW(t->decode({302}), qs::Error);
  EXPECT_THROW(t->token_bytes(-1), qs::Error);
}

TEST_F(TokenizerJson, EndTokenComesFromTheConfigBesideIt) {
  std::ofstream(dir_ / "tokenizer_config.json") << R"({"eos_token": {"content": "<|eot|>"}})";
  EXPECT_EQ(open(spec_)->eos(), 301);
}

TEST_F(TokenizerJson, WhatIsNotSupportedIsRefusedByName) {
  auto refused = [&](nlohmann::json spec, const std::string& what) {
    try {
      open(spec);
      ADD_FAILURE() << "accepted, expected: " << what;
    } catch (const qs::Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  nlohmann::json s = spec_;
  s["normalizer"] = {{"type", "NFKC"}};
  refused(s, "the normalizer 'NFKC' is not supported");
  s = spec_;
  s["model"]["type"] = "Unigram";
  refused(s, "model type 'Unigram' is not supported");
  s = spec_;
  s["model"]["byte_fallback"] = true;
  refused(s, "byte fallback");
  s = spec_;
  s["pre_tokenizer"] = {{"type", "Whitespace"}};
  refused(s, "pre-tokenizer");
  s = spec_;
  s["model"]["merges"] = {"nospace"};
  refused(s, "merge 'nospace'");
  s = spec_;
  s["pre_tokenizer"]["use_regex"] = false;
  refused(s, "splits no words");
  s = spec_;
  s["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers",
                         {{{"type", "Split"},
                           {"pattern", {{"Regex", "\\s+"}}},
                           {"behavior", "Isolated"},
                           {"invert", false}},
                          {{"type", "ByteLevel"}, {"use_regex", false}}}}};
  refused(s, "pattern '\\s+'");
  s = spec_;
  s["added_tokens"][0]["id"] = 2147483000;
  refused(s, "is past");
  s = spec_;
  s.erase("model");
  refused(s, "not a tokenizer.json this version reads");
  const std::string path = (dir_ / "broken.json").string();
  std::ofstream(path) << "{\"model\": ";
  EXPECT_THROW(qs::open_tokenizer(path), qs::Error);
}

}  // namespace
