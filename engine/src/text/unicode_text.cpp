#include "unicode_text.h"

#include <algorithm>
#include <iterator>

namespace qs::text {

namespace {

struct Range {
  char32_t first, last;
  std::uint8_t cls;
};

constexpr Range kRanges[] = {
#include "unicode_classes.inc"
};

// The length of the well-formed UTF-8 sequence at p[i] (Unicode's table: no overlong forms, no
// surrogates, nothing above U+10FFFF), or the negated length of its maximal ill-formed subpart.
int sequence_at(const unsigned char* p, std::size_t n, std::size_t i) {
  const unsigned c = p[i];
  if (c < 0x80) return 1;
  int more = 0;
  unsigned lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    more = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    more = 2;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    more = 3;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return -1;
  }
  for (int k = 1; k <= more; ++k) {
    if (i + static_cast<std::size_t>(k) >= n) return -k;
    const unsigned b = p[i + static_cast<std::size_t>(k)];
    if (k == 1 ? (b < lo || b > hi) : (b & 0xC0) != 0x80) return -k;
  }
  return more + 1;
}

}  // namespace

CharClass char_class(char32_t c) {
  const Range* end = std::end(kRanges);
  const Range* r = std::upper_bound(std::begin(kRanges), end, c,
                                    [](char32_t v, const Range& x) { return v < x.first; });
  if (r == std::begin(kRanges)) return CharClass::other;
  --r;
  return c <= r->last ? static_cast<CharClass>(r->cls) : CharClass::other;
}

bool is_space(char32_t c) {
  switch (c) {
    case 0x09:
    case 0x0A:
    case 0x0B:
    case 0x0C:
    case 0x0D:
    case 0x20:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
    case 0xFEFF:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

std::vector<CodePoint> code_points(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  std::vector<CodePoint> out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const int len = sequence_at(p, text.size(), i);
    if (len < 0) {
      out.push_back({0xFFFD, static_cast<std::uint32_t>(i)});
      ++i;
      continue;
    }
    char32_t c = len == 1 ? p[i] : p[i] & (0xFF >> (len + 1));
    for (int k = 1; k < len; ++k) c = (c << 6) | (p[i + static_cast<std::size_t>(k)] & 0x3F);
    out.push_back({c, static_cast<std::uint32_t>(i)});
    i += static_cast<std::size_t>(len);
  }
  return out;
}

std::size_t first_invalid_utf8(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  for (std::size_t i = 0; i < bytes.size();) {
    const int len = sequence_at(p, bytes.size(), i);
    if (len < 0) return i;
    i += static_cast<std::size_t>(len);
  }
  return std::string_view::npos;
}

std::string utf8_replacing_invalid(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::string out;
  out.reserve(bytes.size());
  for (std::size_t i = 0; i < bytes.size();) {
    const int len = sequence_at(p, bytes.size(), i);
    if (len > 0) {
      out.append(bytes.substr(i, static_cast<std::size_t>(len)));
      i += static_cast<std::size_t>(len);
    } else {
      out += "\xEF\xBF\xBD";
      i += static_cast<std::size_t>(-len);
    }
  }
  return out;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

}  // namespace qs::text
