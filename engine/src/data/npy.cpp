// NumPy .npy: header parsing (robust against hostile files), read_npy and write_npy.
#include "quantscope/npy.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>

#include "data_internal.h"
#include "quantscope/atomic_file.h"

namespace qs {
namespace data {

static_assert(std::endian::native == std::endian::little,
              "the .npy reader assumes a little-endian host");

namespace {

constexpr unsigned char kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
constexpr std::uint64_t kMaxHeaderBytes = 1 << 20;

// Parser for the Python dict literal of an .npy header, e.g.
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& name) : s_(text), name_(name) {}

  void parse(std::string& descr, bool& fortran, Shape& shape) {
    bool have_descr = false, have_fortran = false, have_shape = false;
    skip_ws();
    expect('{');
    for (;;) {
      skip_ws();
      if (peek() == '}') break;
      std::string key = parse_string();
      skip_ws();
      expect(':');
      skip_ws();
      if (key == "descr") {
        if (peek() != '\'' && peek() != '"')
          fail("'descr' is not a simple type string (structured dtypes are not supported)");
        descr = parse_string();
        have_descr = true;
      } else if (key == "fortran_order") {
        fortran = parse_bool();
        have_fortran = true;
      } else if (key == "shape") {
        shape = parse_shape();
        have_shape = true;
      } else {
        fail("unexpected key '" + key + "'");
      }
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip_ws();
      if (peek() != '}') fail("expected ',' or '}' after the value of '" + key + "'");
    }
    if (!have_descr) fail("missing 'descr'");
    if (!have_fortran) fail("missing 'fortran_order'");
    if (!have_shape) fail("missing 'shape'");
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(name_ + ": bad .npy header: " + what);
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "' at offset " + std::to_string(pos_));
    ++pos_;
  }
  std::string parse_string() {
    char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string at offset " + std::to_string(pos_));
    ++pos_;
    std::string out;
    while (pos_ < s_.size() && s_[pos_] != q) {
      if (out.size() > 64) fail("string too long");
      out += s_[pos_++];
    }
    if (pos_ >= s_.size()) fail("unterminated string");
    ++pos_;
    return out;
  }
  bool parse_bool() {
    if (s_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (s_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    fail("'fortran_order' is not True or False");
  }
  std::int64_t parse_int() {
    constexpr std::int64_t limit = std::int64_t{1} << 62;
    if (peek() < '0' || peek() > '9') fail("expected a non-negative integer in 'shape'");
    std::int64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      const int digit = s_[pos_++] - '0';
      if (v > (limit - digit) / 10) fail("dimension too large in 'shape'");
      v = v * 10 + digit;
    }
    if (peek() == 'L') ++pos_;  // Python 2 long
    return v;
  }
  Shape parse_shape() {
    Shape shape;
    expect('(');
    for (;;) {
      skip_ws();
      if (peek() == ')') break;
      if (shape.size() >= 32) fail("'shape' has too many dimensions");
      shape.push_back(parse_int());
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != ')') fail("expected ',' or ')' in 'shape'");
    }
    ++pos_;
    return shape;
  }

  const std::string& s_;
  const std::string& name_;
  std::size_t pos_ = 0;
};

void parse_descr(const std::string& descr, const std::string& name, NpyType& type,
                 std::size_t& size) {
  std::string d = descr;
  char order = '|';
  if (!d.empty() && (d[0] == '<' || d[0] == '>' || d[0] == '|' || d[0] == '=')) {
    order = d[0];
    d = d.substr(1);
  }
  if (d == "f4")
    type = NpyType::f32, size = 4;
  else if (d == "f8")
    type = NpyType::f64, size = 8;
  else if (d == "i8")
    type = NpyType::i64, size = 8;
  else if (d == "i4")
    type = NpyType::i32, size = 4;
  else if (d == "i1")
    type = NpyType::i8, size = 1;
  else if (d == "u1")
    type = NpyType::u8, size = 1;
  else if (d == "b1")
    type = NpyType::boolean, size = 1;
  else
    throw Error(name + ": unsupported .npy dtype '" + descr +
                "' (supported: float32, float64, int64, int32, int8, uint8, bool)");
  if (order == '>' && size > 1)
    throw Error(name + ": big-endian .npy dtype '" + descr + "' is not supported");
}

}  // namespace

NpyHeader parse_npy_header(const unsigned char* prefix, std::size_t prefix_size,
                           std::uint64_t total_size, const std::string& name) {
  if (prefix_size < 10 || std::memcmp(prefix, kMagic, 6) != 0)
    throw Error(name + ": not an .npy file (bad magic)");
  const int major = prefix[6];
  std::uint64_t header_len = 0;
  std::uint64_t header_start = 0;
  if (major == 1) {
    header_len = load_le16(prefix + 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (prefix_size < 12) throw Error(name + ": truncated .npy header");
    header_len = load_le32(prefix + 8);
    header_start = 12;
  } else {
    throw Error(name + ": unsupported .npy format version " + std::to_string(major));
  }
  if (header_len > kMaxHeaderBytes)
    throw Error(name + ": bad .npy header: header length " + std::to_string(header_len) +
                " is too large");
  if (header_start + header_len > total_size || header_start + header_len > prefix_size)
    throw Error(name + ": truncated .npy header (header length " + std::to_string(header_len) +
                " but the file has " + std::to_string(total_size) + " bytes)");

  std::string text(reinterpret_cast<const char*>(prefix + header_start),
                   static_cast<std::size_t>(header_len));
  std::string descr;
  bool fortran = false;
  NpyHeader h;
  HeaderParser(text, name).parse(descr, fortran, h.shape);
  if (fortran)
    throw Error(name + ": .npy arrays in Fortran order are not supported (save with C order)");
  parse_descr(descr, name, h.type, h.item_size);
  try {
    h.numel = shape_numel(h.shape);
  } catch (const Error&) {
    throw Error(name + ": bad .npy header: shape " + shape_to_string(h.shape) +
                " has too many elements");
  }
  h.data_offset = header_start + header_len;
  const std::uint64_t available = total_size - h.data_offset;
  if (static_cast<std::uint64_t>(h.numel) > available / h.item_size)
    throw Error(name + ": truncated .npy data: shape " + shape_to_string(h.shape) + " needs " +
                std::to_string(h.numel) + " x " + std::to_string(h.item_size) + " bytes but only " +
                std::to_string(available) + " bytes follow the header");
  return h;
}

DType npy_result_dtype(NpyType t) {
  switch (t) {
    case NpyType::f32:
    case NpyType::f64:
      return DType::f32;
    case NpyType::i64:
      return DType::i64;
    case NpyType::i32:
      return DType::i32;
    case NpyType::i8:
      return DType::i8;
    case NpyType::u8:
      return DType::u8;
    case NpyType::boolean:
      return DType::boolean;
  }
  return DType::undefined;
}

void npy_convert(NpyType t, const unsigned char* raw, std::int64_t count, void* out) {
  const auto n = static_cast<std::size_t>(count);
  switch (t) {
    case NpyType::f64: {
      float* o = static_cast<float*>(out);
      for (std::size_t i = 0; i < n; ++i) {
        double v;
        std::memcpy(&v, raw + i * 8, 8);
        o[i] = static_cast<float>(v);
      }
      return;
    }
    case NpyType::boolean: {
      bool* o = static_cast<bool*>(out);
      for (std::size_t i = 0; i < n; ++i) o[i] = raw[i] != 0;
      return;
    }
    case NpyType::f32:
    case NpyType::i32:
      std::memcpy(out, raw, n * 4);
      return;
    case NpyType::i64:
      std::memcpy(out, raw, n * 8);
      return;
    case NpyType::i8:
    case NpyType::u8:
      std::memcpy(out, raw, n);
      return;
  }
}

Tensor parse_npy_bytes(const unsigned char* bytes, std::size_t size, const std::string& name) {
  NpyHeader h = parse_npy_header(bytes, size, size, name);
  Tensor t(npy_result_dtype(h.type), h.shape);
  npy_convert(h.type, bytes + h.data_offset, h.numel, t.raw());
  return t;
}

NpyHeader read_npy_header(InputFile& f) {
  std::vector<unsigned char> prefix(
      static_cast<std::size_t>(std::min<std::uint64_t>(f.size(), 12)));
  f.read_at(0, prefix.data(), prefix.size(), ".npy header");
  if (prefix.size() >= 12 && std::memcmp(prefix.data(), kMagic, 6) == 0) {
    std::uint64_t len =
        prefix[6] == 1 ? load_le16(prefix.data() + 8) : load_le32(prefix.data() + 8);
    std::uint64_t want = std::min<std::uint64_t>({f.size(), 12 + len, 12 + kMaxHeaderBytes});
    prefix.resize(static_cast<std::size_t>(want));
    f.read_at(0, prefix.data(), prefix.size(), ".npy header");
  }
  return parse_npy_header(prefix.data(), prefix.size(), f.size(), f.path());
}

}  // namespace data

Tensor read_npy(const std::string& path) {
  data::InputFile f(path);
  data::NpyHeader h = data::read_npy_header(f);
  Tensor t(data::npy_result_dtype(h.type), h.shape);
  const std::uint64_t bytes = static_cast<std::uint64_t>(h.numel) * h.item_size;
  if (h.type == data::NpyType::f64 || h.type == data::NpyType::boolean) {
    // Convert in chunks to bound the temporary buffer.
    constexpr std::int64_t chunk = 1 << 16;
    std::vector<unsigned char> raw(static_cast<std::size_t>(std::min(h.numel, chunk)) *
                                   h.item_size);
    const std::size_t out_item = dtype_size(t.dtype());
    for (std::int64_t i = 0; i < h.numel; i += chunk) {
      const std::int64_t n = std::min(chunk, h.numel - i);
      f.read_at(h.data_offset + static_cast<std::uint64_t>(i) * h.item_size, raw.data(),
                static_cast<std::size_t>(n) * h.item_size, "array data");
      data::npy_convert(h.type, raw.data(), n,
                        static_cast<std::byte*>(t.raw()) + static_cast<std::size_t>(i) * out_item);
    }
  } else {
    f.read_at(h.data_offset, t.raw(), static_cast<std::size_t>(bytes), "array data");
  }
  return t;
}

void write_npy(const std::string& path, const Tensor& tensor) {
  if (!tensor.has_data()) throw Error(path + ": cannot write a tensor without data as .npy");
  std::string descr;
  switch (tensor.dtype()) {
    case DType::f32:
      descr = "<f4";
      break;
    case DType::u8:
      descr = "|u1";
      break;
    case DType::i8:
      descr = "|i1";
      break;
    case DType::i32:
      descr = "<i4";
      break;
    case DType::i64:
      descr = "<i8";
      break;
    case DType::boolean:
      descr = "|b1";
      break;
    default:
      throw Error(path + ": cannot write dtype " + dtype_name(tensor.dtype()) + " as .npy");
  }
  std::string shape = "(";
  for (std::size_t i = 0; i < tensor.shape().size(); ++i) {
    if (i) shape += ", ";
    shape += std::to_string(tensor.shape()[i]);
  }
  if (tensor.shape().size() == 1) shape += ",";
  shape += ")";
  std::string header =
      "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad with spaces so that the data starts at a multiple of 64 bytes; end with '\n'.
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  if (header.size() > 65535) throw Error(path + ": .npy header too long");

  const unsigned char preamble[10] = {0x93,
                                      'N',
                                      'U',
                                      'M',
                                      'P',
                                      'Y',
                                      1,
                                      0,
                                      static_cast<unsigned char>(header.size() & 0xff),
                                      static_cast<unsigned char>(header.size() >> 8)};
  write_file_atomically(path, [&](const ByteSink& out) {
    out(preamble, sizeof preamble);
    out(header.data(), header.size());
    out(tensor.raw(), tensor.size_bytes());
  });
}

}  // namespace qs
