// Each scanner returns where the pattern's match starting at a position ends, taking the
// alternatives in the pattern's order as a backtracking regex engine does.
#include "pretokenize.h"

#include <algorithm>

#include "unicode_text.h"

namespace qs::text {

namespace {

// GPT-2's pattern (the ByteLevel pre-tokenizer's built-in one), Llama 3's, Qwen 2's.
constexpr const char* kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr const char* kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

class Scanner {
 public:
  explicit Scanner(std::string_view text) : cps_(code_points(text)), n_(cps_.size()) {
    cls_.reserve(n_);
    for (const CodePoint& c : cps_) cls_.push_back(char_class(c.value));
  }
  std::size_t size() const { return n_; }
  std::uint32_t byte_at(std::size_t i, std::size_t text_size) const {
    return i < n_ ? cps_[i].at : static_cast<std::uint32_t>(text_size);
  }

  std::size_t gpt2(std::size_t i) const {
    if (std::size_t e = contraction(i, false)) return e;
    for (CharClass want : {CharClass::letter, CharClass::number}) {
      if (at(i) == U' ' && i + 1 < n_ && cls_[i + 1] == want) return run_of(i + 1, want);
      if (cls_[i] == want) return run_of(i, want);
    }
    if (std::size_t e = punctuation(i)) return e;
    return whitespace(i);
  }

  std::size_t llama3(std::size_t i, std::size_t max_digits) const {
    if (std::size_t e = contraction(i, true)) return e;
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (!newline(i) && cls_[i] == CharClass::other && i + 1 < n_ &&
        cls_[i + 1] == CharClass::letter)
      return run_of(i + 1, CharClass::letter);
    if (cls_[i] == CharClass::letter) return run_of(i, CharClass::letter);
    if (cls_[i] == CharClass::number) return std::min(run_of(i, CharClass::number), i + max_digits);
    // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    if (std::size_t e = punctuation(i)) {
      while (e < n_ && newline(e)) ++e;
      return e;
    }
    // \s*[\r\n]+ : the whitespace up to and with its last line break.
    std::size_t end = i;
    while (end < n_ && space(end)) ++end;
    for (std::size_t k = end; k > i; --k)
      if (newline(k - 1)) return k;
    return whitespace(i);
  }

 private:
  char32_t at(std::size_t i) const { return i < n_ ? cps_[i].value : 0; }
  bool space(std::size_t i) const { return is_space(cps_[i].value); }
  bool newline(std::size_t i) const { return at(i) == U'\r' || at(i) == U'\n'; }
  bool symbol(std::size_t i) const { return cls_[i] == CharClass::other && !space(i); }
  std::size_t run_of(std::size_t i, CharClass c) const {
    while (i < n_ && cls_[i] == c) ++i;
    return i;
  }

  // 's 't 're 've 'm 'll 'd, ASCII case folded when `fold`.
  std::size_t contraction(std::size_t i, bool fold) const {
    if (at(i) != U'\'') return 0;
    auto lower = [&](std::size_t k) {
      const char32_t c = at(k);
      return fold && c >= U'A' && c <= U'Z' ? c + 32 : c;
    };
    for (const char* tail : {"s", "t", "re", "ve", "m", "ll", "d"}) {
      std::size_t k = 0;
      while (tail[k] && lower(i + 1 + k) == static_cast<char32_t>(tail[k])) ++k;
      if (!tail[k]) return i + 1 + k;
    }
    return 0;
  }

  //  ?[^\s\p{L}\p{N}]+
  std::size_t punctuation(std::size_t i) const {
    std::size_t s = at(i) == U' ' && i + 1 < n_ && symbol(i + 1) ? i + 1 : i;
    if (!symbol(s)) return 0;
    while (s < n_ && symbol(s)) ++s;
    return s;
  }

  // \s+(?!\S)|\s+ : a run of whitespace leaves its last one to the word that follows it.
  std::size_t whitespace(std::size_t i) const {
    std::size_t e = i;
    while (e < n_ && space(e)) ++e;
    if (e == i) return i + 1;  // not reached: every character is a letter, number, space or other
    return e == n_ || e - 1 == i ? e : e - 1;
  }

  std::vector<CodePoint> cps_;
  std::vector<CharClass> cls_;
  std::size_t n_;
};

}  // namespace

std::optional<WordPattern> word_pattern(const std::string& regex) {
  if (regex == kGpt2) return WordPattern::gpt2;
  if (regex == kLlama3) return WordPattern::llama3;
  if (regex == kQwen2) return WordPattern::qwen2;
  return std::nullopt;
}

std::string pattern_name(WordPattern p) {
  switch (p) {
    case WordPattern::gpt2:
      return "GPT-2";
    case WordPattern::llama3:
      return "Llama 3";
    case WordPattern::qwen2:
      return "Qwen 2";
  }
  return "?";
}

std::vector<std::string_view> split_words(std::string_view text, WordPattern pattern) {
  const Scanner s(text);
  std::vector<std::string_view> words;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t e = pattern == WordPattern::gpt2     ? s.gpt2(i)
                          : pattern == WordPattern::llama3 ? s.llama3(i, 3)
                                                           : s.llama3(i, 1);
    const std::uint32_t from = s.byte_at(i, text.size()), to = s.byte_at(e, text.size());
    words.push_back(text.substr(from, to - from));
    i = e;
  }
  return words;
}

}  // namespace qs::text
