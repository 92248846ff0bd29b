// The tokenizer formats behind open_tokenizer (quantscope/tokenizer.h).
#pragma once

#include <memory>
#include <string>

#include "quantscope/tokenizer.h"

namespace qs {

std::unique_ptr<Tokenizer> open_sentencepiece(const std::string& path);
// Hugging Face's tokenizer.json with a byte-level BPE model (GPT-2, Llama 3, Qwen 2 style).
std::unique_ptr<Tokenizer> open_byte_level_bpe(const std::string& path);

}  // namespace qs
