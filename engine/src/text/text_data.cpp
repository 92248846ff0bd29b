// Text data: documents read, tokenized and concatenated into one stream; windows over it.
#include "quantscope/text_data.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "quantscope/error.h"
#include "quantscope/npy.h"
#include "unicode_text.h"

namespace qs {

namespace {

constexpr std::uint64_t kMaxTextBytes = std::uint64_t{4} << 30;

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The documents of a text file: its non-empty lines, or the "text" of each .jsonl record.
std::vector<std::string> read_documents(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw Error(path + ": no such file");
  if (std::filesystem::file_size(path, ec) > kMaxTextBytes)
    throw Error(path + ": larger than 4 GiB");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot be read");
  const bool jsonl = ends_with(path, ".jsonl");
  std::vector<std::string> documents;
  std::string line;
  for (std::int64_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string where = path + ":" + std::to_string(number);
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    if (const auto at = text::first_invalid_utf8(line); at != std::string::npos)
      throw Error(where + ": not UTF-8 text (byte " + std::to_string(at + 1) + ")");
    if (!jsonl) {
      documents.push_back(std::move(line));
      continue;
    }
    const auto record = nlohmann::json::parse(line, nullptr, false);
    if (record.is_discarded()) throw Error(where + ": not a JSON record");
    const auto text = record.is_object() ? record.find("text") : record.end();
    if (!record.is_object() || text == record.end() || !text->is_string())
      throw Error(where + ": the record has no \"text\" string");
    documents.push_back(text->get<std::string>());
  }
  if (in.bad()) throw Error(path + ": read error");
  if (documents.empty()) throw Error(path + ": no text in it");
  return documents;
}

std::string with_commas(std::int64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

TokenStream tokenize_text(const std::string& path, const Tokenizer& tokenizer) {
  TokenStream stream;
  for (const std::string& document : read_documents(path)) {
    if (tokenizer.bos() >= 0) stream.ids.push_back(tokenizer.bos());
    const auto ids = tokenizer.encode(document);
    stream.ids.insert(stream.ids.end(), ids.begin(), ids.end());
    ++stream.documents;
  }
  return stream;
}

TokenStream read_tokens(const std::string& path, const Tokenizer* tokenizer) {
  const Tensor t = read_npy(path);
  if (t.rank() != 1 && t.rank() != 2)
    throw Error(path + ": token ids must be 1-D (one stream) or 2-D (a row per document), not " +
                std::to_string(t.rank()) + "-D");
  if (t.dtype() == DType::f32 || t.dtype() == DType::boolean)
    throw Error(path + ": token ids must be integers, not floating point");
  TokenStream stream;
  stream.ids = t.to_i64();
  stream.documents = t.rank() == 2 ? t.dim(0) : 1;
  if (stream.ids.empty()) throw Error(path + ": no token ids in it");
  for (std::size_t i = 0; i < stream.ids.size(); ++i) {
    const std::int64_t id = stream.ids[i];
    if (id < 0 || (tokenizer && id >= tokenizer->vocab_size()))
      throw Error(path + ": id " + std::to_string(id) + " at position " + std::to_string(i) +
                  (id < 0 ? " is negative" : " is outside the tokenizer's vocabulary"));
  }
  return stream;
}

}  // namespace

bool is_text_spec(const std::string& spec) {
  return spec.rfind("text:", 0) == 0 || spec.rfind("tokens:", 0) == 0;
}

TokenStream open_token_stream(const std::string& spec, const Tokenizer* tokenizer) {
  if (!is_text_spec(spec))
    throw Error("'" + spec + "' is not text data (text:FILE or tokens:FILE.npy)");
  const bool text = spec.rfind("text:", 0) == 0;
  const std::string path = spec.substr(text ? 5 : 7);
  if (path.empty()) throw Error("'" + spec + "': no file after the colon");
  if (text && !tokenizer) throw Error("'" + spec + "' needs a tokenizer (--tokenizer FILE)");
  TokenStream stream = text ? tokenize_text(path, *tokenizer) : read_tokens(path, tokenizer);
  if (tokenizer) {
    stream.bytes.reserve(stream.ids.size());
    for (std::int64_t id : stream.ids)
      stream.bytes.push_back(static_cast<std::int32_t>(tokenizer->token_bytes(id)));
  }
  stream.description = spec + " (" + with_commas(stream.documents) +
                       (stream.documents == 1 ? " document, " : " documents, ") +
                       with_commas(static_cast<std::int64_t>(stream.ids.size())) + " tokens)";
  return stream;
}

std::vector<TokenWindow> token_windows(std::int64_t tokens, std::int64_t context,
                                       std::int64_t stride, std::int64_t limit) {
  if (context < 2) throw Error("the context must be at least 2 tokens");
  if (stride < 1 || stride > context)
    throw Error("the stride must be between 1 and the context (" + std::to_string(context) +
                "), not " + std::to_string(stride));
  std::vector<TokenWindow> windows;
  std::int64_t seen = 0;  // tokens [0, seen) are in some window already
  for (std::int64_t begin = 0; begin + 1 < tokens; begin += stride) {
    if (limit >= 0 && static_cast<std::int64_t>(windows.size()) >= limit) break;
    const std::int64_t end = std::min(begin + context, tokens);
    const std::int64_t scored = std::max(begin + 1, seen);
    if (scored < end) windows.push_back({begin, end, scored});
    seen = end;
    if (end == tokens) break;
  }
  return windows;
}

}  // namespace qs
