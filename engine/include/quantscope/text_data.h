// Text data for language models: documents as one stream of token ids, cut into windows.
//   text:FILE          plain text, one document per non-empty line (as Hugging Face's "text"
//                      loader reads it), or .jsonl with a "text" field per record; tokenized
//                      with the tokenizer, each document led by its <s> when it has one
//   tokens:FILE.npy    token ids already made: 1-D (one stream) or 2-D (one row per document)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "quantscope/dataset.h"
#include "quantscope/tokenizer.h"

namespace qs {

struct TokenStream {
  std::vector<std::int64_t> ids;
  // Per id: the UTF-8 bytes of text it stands for (tokenizer.token_bytes); empty when the
  // stream came without a tokenizer (tokens:), and then bits per byte is not known.
  std::vector<std::int32_t> bytes;
  std::int64_t documents = 0;
  std::string description;  // "text:test.txt (59 documents, 48,315 tokens)"
};

// Whether `spec` names text data (text: or tokens:) rather than samples for open_dataset().
bool is_text_spec(const std::string& spec);

// Reads and tokenizes the data. `tokenizer` is required for text: (Error otherwise) and, when
// given for tokens:, checks the ids and gives their bytes. Error naming the file and the line or
// record when it is missing, not UTF-8 text, a .jsonl record lacks "text", or an id is outside
// the vocabulary.
TokenStream open_token_stream(const std::string& spec, const Tokenizer* tokenizer);

// A window over a stream: tokens [begin, end) are fed; those from `scored` on are predicted
// (each from the tokens before it in the window).
struct TokenWindow {
  std::int64_t begin = 0, end = 0, scored = 0;
};

// Windows of `context` tokens every `stride` tokens (stride <= context), the last one shorter;
// each token is scored once, in the first window that holds it with something before it: with
// stride == context every token but each window's first, with a smaller stride the last
// `stride` of each window after the first (every window then sees context - stride tokens of
// history). At most `limit` windows when >= 0. Error when context < 2 or stride is out of
// range.
std::vector<TokenWindow> token_windows(std::int64_t tokens, std::int64_t context,
                                       std::int64_t stride, std::int64_t limit = -1);

// The stream as samples for calibration: windows of `context` tokens side by side (the last,
// shorter one dropped; a stream shorter than `context` is one window), at most `limit` of them
// when >= 0; each an int64 row of ids [context]. Error when the stream is empty.
std::unique_ptr<Dataset> token_window_dataset(TokenStream stream, std::int64_t context,
                                              std::int64_t limit = -1);

}  // namespace qs
