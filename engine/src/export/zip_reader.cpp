#include "export/zip_reader.h"

#include <zlib.h>

#include <cstdint>

#include "quantscope/error.h"

namespace qs::exporter {

namespace {

std::uint32_t get16(const std::string& s, std::size_t at) {
  return static_cast<unsigned char>(s[at]) | (static_cast<unsigned char>(s[at + 1]) << 8);
}
std::uint32_t get32(const std::string& s, std::size_t at) {
  return get16(s, at) | (get16(s, at + 2) << 16);
}

}  // namespace

std::string zip_entry(const std::string& zip, const std::string& name, const std::string& archive,
                      std::size_t max_bytes) {
  auto bad = [&](const std::string& why) {
    return Error(archive + ": not a valid .zip (" + why + ")");
  };
  // The end record: the last 22 bytes, or earlier when the archive has a comment.
  if (zip.size() < 22) throw bad("too short");
  std::size_t end = std::string::npos;
  for (std::size_t at = zip.size() - 22;; --at) {
    if (get32(zip, at) == 0x06054b50) {
      end = at;
      break;
    }
    if (at == 0 || zip.size() - at > 22 + 0xFFFF) break;
  }
  if (end == std::string::npos) throw bad("no end of central directory");
  const std::uint32_t entries = get16(zip, end + 10);
  std::size_t at = get32(zip, end + 16);
  for (std::uint32_t i = 0; i < entries; ++i) {
    if (at + 46 > zip.size() || get32(zip, at) != 0x02014b50) throw bad("broken central directory");
    const std::uint32_t method = get16(zip, at + 10), crc = get32(zip, at + 16);
    const std::uint32_t packed = get32(zip, at + 20), size = get32(zip, at + 24);
    const std::uint32_t name_len = get16(zip, at + 28), extra = get16(zip, at + 30),
                        comment = get16(zip, at + 32);
    const std::uint32_t local = get32(zip, at + 42);
    if (std::size_t{at} + 46 + name_len > zip.size()) throw bad("broken central directory");
    const std::string entry = zip.substr(at + 46, name_len);
    at += 46 + name_len + extra + comment;
    if (entry != name) continue;
    if (size > max_bytes) throw Error(archive + ": '" + name + "' is too large");
    const std::size_t header = local;  // sums in size_t: no 32-bit wrap-around
    if (header + 30 > zip.size() || get32(zip, header) != 0x04034b50)
      throw bad("broken local header");
    const std::size_t data = header + 30 + get16(zip, header + 26) + get16(zip, header + 28);
    if (data > zip.size() || std::size_t{packed} > zip.size() - data)
      throw bad("'" + name + "' runs past the end");
    // Deflate expands at most about 1032:1; a larger claim is a lie, not worth allocating.
    if (method == 8 && std::size_t{size} > std::size_t{packed} * 1032 + 1024)
      throw bad("'" + name + "' claims more data than its compressed size can hold");
    std::string out;
    if (method == 0) {
      if (packed != size) throw bad("stored entry with two sizes");
      out = zip.substr(data, size);
    } else if (method == 8) {
      out.assign(size, '\0');
      z_stream z{};
      if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw Error(archive + ": zlib failed to start");
      z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(zip.data() + data));
      z.avail_in = packed;
      z.next_out = reinterpret_cast<Bytef*>(out.data());
      z.avail_out = size;
      const int rc = inflate(&z, Z_FINISH);
      const bool complete = rc == Z_STREAM_END && z.total_out == size;
      inflateEnd(&z);
      if (!complete) throw bad("'" + name + "' does not inflate to its size");
    } else {
      throw Error(archive + ": '" + name + "' is compressed with method " + std::to_string(method) +
                  "; only stored and deflated entries are read");
    }
    const auto actual = static_cast<std::uint32_t>(
        crc32(0L, reinterpret_cast<const Bytef*>(out.data()), static_cast<uInt>(out.size())));
    if (actual != crc) throw Error(archive + ": '" + name + "' fails its CRC check (corrupt)");
    return out;
  }
  throw Error(archive + ": has no '" + name + "'");
}

}  // namespace qs::exporter
