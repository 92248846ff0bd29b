// The few Unicode facts byte-level BPE tokenizers need: code points out of UTF-8, letters and
// numbers (\p{L}, \p{N}), whitespace as JavaScript's regular expressions define \s (the
// reference implementation the tokenizers are tested against), and UTF-8 out of bytes with
// invalid sequences replaced as TextDecoder does.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qs::text {

enum class CharClass : std::uint8_t { other, letter, number };

CharClass char_class(char32_t c);
bool is_space(char32_t c);

struct CodePoint {
  char32_t value;    // U+FFFD for a byte that starts no well-formed sequence
  std::uint32_t at;  // its first byte in the text
};
// The text's code points; each byte of an ill-formed sequence is a code point of its own.
std::vector<CodePoint> code_points(std::string_view text);

// Where the first byte that starts no well-formed UTF-8 sequence is, or npos.
std::size_t first_invalid_utf8(std::string_view bytes);

// `bytes` as UTF-8, each maximal ill-formed subpart replaced by U+FFFD (the WHATWG decoder's rule).
std::string utf8_replacing_invalid(std::string_view bytes);

// The UTF-8 of one code point.
void append_utf8(std::string& out, char32_t c);

}  // namespace qs::text
