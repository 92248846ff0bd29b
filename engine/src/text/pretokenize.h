// The splitting of text into words before byte-level BPE merges them: the regular expressions of
// GPT-2 and of Llama 3 (and Qwen 2, which takes one digit at a time where Llama 3 takes up to
// three), written out as scanners. Each is recognised by its pattern string in tokenizer.json;
// another pattern is refused rather than approximated.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qs::text {

enum class WordPattern { gpt2, llama3, qwen2 };

// The pattern a tokenizer.json's Split pre-tokenizer gives, if it is one of those above.
std::optional<WordPattern> word_pattern(const std::string& regex);
std::string pattern_name(WordPattern p);

// The words of `text`, in order, covering it: every byte belongs to exactly one word.
std::vector<std::string_view> split_words(std::string_view text, WordPattern pattern);

}  // namespace qs::text
