// Tokenizers: text to token ids and back, for language models: SentencePiece models
// (tokenizer.model, through Debian's libsentencepiece) and Hugging Face's tokenizer.json with a
// byte-level BPE model (GPT-2, Llama 3 and Qwen 2 pre-tokenizers; engine/src/text).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace qs {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // What it is ("SentencePiece BPE, 4096 tokens: PATH").
  virtual std::string describe() const = 0;
  virtual std::int64_t vocab_size() const = 0;
  // The ids of `text`, without a beginning-of-sequence token (add bos() where a model wants it).
  // A tokenizer.json's added tokens ("<|endoftext|>") written in the text become their ids.
  virtual std::vector<std::int64_t> encode(std::string_view text) const = 0;
  // The text of `ids`; Error naming an id outside the vocabulary.
  virtual std::string decode(const std::vector<std::int64_t>& ids) const = 0;
  // The UTF-8 bytes of text the token stands for (0 for <s>, </s> and other control tokens): what
  // bits per byte divides by. Error naming an id outside the vocabulary.
  virtual std::int64_t token_bytes(std::int64_t id) const = 0;
  // One token's piece as the vocabulary spells it ("▁the"), for showing token boundaries.
  virtual std::string piece(std::int64_t id) const = 0;
  // Special tokens; -1 when the tokenizer has none. A tokenizer.json's beginning token is the one
  // its post-processor puts before a text; its end token is tokenizer_config.json's eos_token.
  virtual std::int64_t bos() const = 0;
  virtual std::int64_t eos() const = 0;
};

// Opens a tokenizer file: a SentencePiece model (tokenizer.model) or a Hugging Face
// tokenizer.json. Error naming the file and what is wrong when it is missing, unreadable, not a
// tokenizer, or asks for what is not supported (a normalizer, another pre-tokenizer pattern).
std::unique_ptr<Tokenizer> open_tokenizer(const std::string& path);

// The tokenizer a model's folder holds, as Hugging Face folders keep it: tokenizer.model, else
// tokenizer.json beside the model; empty when there is neither.
std::string tokenizer_beside(const std::string& model_path);

}  // namespace qs
