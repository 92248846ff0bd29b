#include "export/zip_writer.h"

#include <zlib.h>

#include <cstdint>
#include <limits>

#include "quantscope/error.h"

namespace qs::exporter {

namespace {

void put16(std::string& out, std::uint32_t v) {
  out += static_cast<char>(v & 0xFF);
  out += static_cast<char>((v >> 8) & 0xFF);
}
void put32(std::string& out, std::uint32_t v) {
  put16(out, v & 0xFFFF);
  put16(out, v >> 16);
}

constexpr std::uint32_t kDosDate =
    (46u << 9) | (1u << 5) | 1u;  // 2026-01-01: fixed, so builds repeat

}  // namespace

std::string zip_archive(const std::vector<std::pair<std::string, std::string>>& entries) {
  constexpr std::uint64_t kLimit = std::numeric_limits<std::uint32_t>::max();
  if (entries.size() > 0xFFFF) throw Error("zip: too many files for one archive");
  std::string out, central;
  for (const auto& [name, data] : entries) {
    if (data.size() >= kLimit || name.size() > 0xFFFF)
      throw Error("zip: '" + name + "' is too large for the zip format (4 GiB)");
    const auto crc = static_cast<std::uint32_t>(
        crc32(0L, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
    const auto offset = static_cast<std::uint64_t>(out.size());
    if (offset >= kLimit) throw Error("zip: the archive exceeds 4 GiB");
    const auto size = static_cast<std::uint32_t>(data.size());
    // Local file header.
    put32(out, 0x04034b50);
    put16(out, 20);      // version needed: 2.0
    put16(out, 0x0800);  // UTF-8 names
    put16(out, 0);       // stored
    put16(out, 0);       // time
    put16(out, kDosDate);
    put32(out, crc);
    put32(out, size);
    put32(out, size);
    put16(out, static_cast<std::uint32_t>(name.size()));
    put16(out, 0);
    out += name;
    out += data;
    // Its central directory record.
    put32(central, 0x02014b50);
    put16(central, 0x0314);  // made by: Unix, 2.0
    put16(central, 20);
    put16(central, 0x0800);
    put16(central, 0);
    put16(central, 0);
    put16(central, kDosDate);
    put32(central, crc);
    put32(central, size);
    put32(central, size);
    put16(central, static_cast<std::uint32_t>(name.size()));
    put16(central, 0);               // extra
    put16(central, 0);               // comment
    put16(central, 0);               // disk
    put16(central, 0);               // internal attributes
    put32(central, 0100644u << 16);  // external: a regular file, rw-r--r--
    put32(central, static_cast<std::uint32_t>(offset));
    central += name;
  }
  const std::uint64_t central_offset = out.size();
  if (central_offset + central.size() >= kLimit) throw Error("zip: the archive exceeds 4 GiB");
  out += central;
  put32(out, 0x06054b50);
  put16(out, 0);
  put16(out, 0);
  put16(out, static_cast<std::uint32_t>(entries.size()));
  put16(out, static_cast<std::uint32_t>(entries.size()));
  put32(out, static_cast<std::uint32_t>(central.size()));
  put32(out, static_cast<std::uint32_t>(central_offset));
  put16(out, 0);
  return out;
}

}  // namespace qs::exporter
