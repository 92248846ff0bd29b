// open_tokenizer: the format by the file's content, not its name (a tokenizer.json renamed, a
// SentencePiece model saved as tokenizer.bin).
#include <filesystem>
#include <fstream>

#include "quantscope/error.h"
#include "tokenizers.h"

namespace qs {

std::unique_ptr<Tokenizer> open_tokenizer(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw Error(path + ": no such tokenizer file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot be read");
  // JSON opens with '{' after any whitespace; a SentencePiece model is a protobuf, whose first
  // byte is a field tag (0x0A for its pieces).
  char c = 0;
  char bom[3] = {};
  if (!in.read(bom, 3) || std::string(bom, 3) != "\xEF\xBB\xBF") {  // a UTF-8 byte order mark
    in.clear();
    in.seekg(0);
  }
  while (in.get(c) && (c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
  }
  if (in && c == '{') return open_byte_level_bpe(path);
  return open_sentencepiece(path);
}

std::string tokenizer_beside(const std::string& model_path) {
  for (const char* name : {"tokenizer.model", "tokenizer.json"}) {
    const std::filesystem::path beside = std::filesystem::path(model_path).parent_path() / name;
    std::error_code ec;
    if (std::filesystem::is_regular_file(beside, ec)) return beside.string();
  }
  return {};
}

}  // namespace qs
