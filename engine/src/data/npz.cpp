// NumPy .npz: a zip archive of .npy files. Reads the central directory (zip64 included), stored
// and deflated entries, checking every size against the file before allocating.
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "data_internal.h"
#include "quantscope/npy.h"

namespace qs {
namespace data {
namespace {

constexpr std::uint32_t kSigEocd = 0x06054b50;
constexpr std::uint32_t kSigEocd64 = 0x06064b50;
constexpr std::uint32_t kSigEocd64Locator = 0x07064b50;
constexpr std::uint32_t kSigCentral = 0x02014b50;
constexpr std::uint32_t kSigLocal = 0x04034b50;
// Deflate cannot compress better than about 1032:1.
constexpr std::uint64_t kMaxDeflateRatio = 1100;

struct ZipEntry {
  std::string name;
  std::uint16_t method = 0;
  std::uint16_t flags = 0;
  std::uint32_t crc = 0;
  std::uint64_t compressed = 0;
  std::uint64_t uncompressed = 0;
  std::uint64_t local_offset = 0;
};

struct CentralDirectory {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  std::uint64_t entries = 0;
};

CentralDirectory find_central_directory(InputFile& f) {
  const std::string& path = f.path();
  const std::uint64_t size = f.size();
  if (size < 22) throw Error(path + ": not a zip/.npz file (too small)");
  const std::uint64_t tail_len = std::min<std::uint64_t>(size, 22 + 65535);
  std::vector<unsigned char> tail(static_cast<std::size_t>(tail_len));
  f.read_at(size - tail_len, tail.data(), tail.size(), "zip end of central directory");
  std::int64_t pos = -1;
  for (std::int64_t i = static_cast<std::int64_t>(tail_len) - 22; i >= 0; --i) {
    if (load_le32(&tail[i]) == kSigEocd &&
        static_cast<std::uint64_t>(i) + 22 + load_le16(&tail[i + 20]) <= tail_len) {
      pos = i;
      break;
    }
  }
  if (pos < 0) throw Error(path + ": not a zip/.npz file (no end of central directory record)");
  const unsigned char* e = &tail[pos];
  const std::uint64_t eocd_offset = size - tail_len + static_cast<std::uint64_t>(pos);
  if (load_le16(e + 4) != 0 || load_le16(e + 6) != 0)
    throw Error(path + ": multi-disk zip archives are not supported");
  CentralDirectory cd;
  cd.entries = load_le16(e + 10);
  cd.size = load_le32(e + 12);
  cd.offset = load_le32(e + 16);
  std::uint64_t cd_end_limit = eocd_offset;
  if (cd.entries == 0xffff || cd.size == 0xffffffff || cd.offset == 0xffffffff) {
    // zip64: the locator sits just before the end record.
    if (eocd_offset < 20) throw Error(path + ": zip64 archive without a zip64 locator");
    unsigned char loc[20];
    f.read_at(eocd_offset - 20, loc, 20, "zip64 locator");
    if (load_le32(loc) != kSigEocd64Locator)
      throw Error(path + ": zip64 archive without a zip64 locator");
    const std::uint64_t rec_offset = load_le64(loc + 8);
    if (rec_offset > eocd_offset - 20 || eocd_offset - 20 - rec_offset < 56)
      throw Error(path + ": zip64 end record offset out of range");
    unsigned char rec[56];
    f.read_at(rec_offset, rec, 56, "zip64 end record");
    if (load_le32(rec) != kSigEocd64) throw Error(path + ": bad zip64 end record signature");
    if (load_le32(rec + 16) != 0 || load_le32(rec + 20) != 0)
      throw Error(path + ": multi-disk zip archives are not supported");
    cd.entries = load_le64(rec + 32);
    cd.size = load_le64(rec + 40);
    cd.offset = load_le64(rec + 48);
    cd_end_limit = rec_offset;
  }
  if (cd.offset > cd_end_limit || cd.size > cd_end_limit - cd.offset)
    throw Error(path + ": zip central directory (offset " + std::to_string(cd.offset) + ", " +
                std::to_string(cd.size) + " bytes) lies outside the file");
  if (cd.entries > cd.size / 46)
    throw Error(path + ": zip central directory claims " + std::to_string(cd.entries) +
                " entries but has only " + std::to_string(cd.size) + " bytes");
  return cd;
}

std::vector<ZipEntry> read_entries(InputFile& f, const CentralDirectory& cd) {
  const std::string& path = f.path();
  std::vector<unsigned char> dir(static_cast<std::size_t>(cd.size));
  f.read_at(cd.offset, dir.data(), dir.size(), "zip central directory");
  std::vector<ZipEntry> entries;
  std::size_t p = 0;
  for (std::uint64_t i = 0; i < cd.entries; ++i) {
    if (dir.size() - p < 46 || load_le32(&dir[p]) != kSigCentral)
      throw Error(path + ": corrupt zip central directory (entry " + std::to_string(i) + ")");
    const unsigned char* h = &dir[p];
    ZipEntry z;
    z.flags = load_le16(h + 8);
    z.method = load_le16(h + 10);
    z.crc = load_le32(h + 16);
    z.compressed = load_le32(h + 20);
    z.uncompressed = load_le32(h + 24);
    const std::size_t name_len = load_le16(h + 28);
    const std::size_t extra_len = load_le16(h + 30);
    const std::size_t comment_len = load_le16(h + 32);
    const std::uint16_t disk = load_le16(h + 34);
    z.local_offset = load_le32(h + 42);
    if (dir.size() - p - 46 < name_len + extra_len + comment_len)
      throw Error(path + ": corrupt zip central directory (entry " + std::to_string(i) +
                  " overruns it)");
    z.name.assign(reinterpret_cast<const char*>(h + 46), name_len);
    // zip64 extended information: the 64-bit values that are saturated in the header.
    const unsigned char* x = h + 46 + name_len;
    for (std::size_t q = 0; q + 4 <= extra_len;) {
      const std::uint16_t id = load_le16(x + q);
      const std::size_t len = load_le16(x + q + 2);
      if (q + 4 + len > extra_len) break;
      if (id == 0x0001) {
        const unsigned char* v = x + q + 4;
        std::size_t left = len;
        auto take = [&](std::uint64_t& field) {
          if (left < 8) throw Error(path + ": corrupt zip64 field of entry '" + z.name + "'");
          field = load_le64(v);
          v += 8;
          left -= 8;
        };
        if (z.uncompressed == 0xffffffff) take(z.uncompressed);
        if (z.compressed == 0xffffffff) take(z.compressed);
        if (z.local_offset == 0xffffffff) take(z.local_offset);
      }
      q += 4 + len;
    }
    if (disk != 0 && disk != 0xffff)
      throw Error(path + ": multi-disk zip archives are not supported");
    entries.push_back(std::move(z));
    p += 46 + name_len + extra_len + comment_len;
  }
  return entries;
}

std::vector<unsigned char> read_entry(InputFile& f, const ZipEntry& z, std::uint64_t data_end) {
  const std::string where = f.path() + ": entry '" + z.name + "'";
  if (z.flags & 1) throw Error(where + " is encrypted");
  if (z.local_offset > data_end || data_end - z.local_offset < 30)
    throw Error(where + ": local header offset out of range");
  unsigned char lh[30];
  f.read_at(z.local_offset, lh, 30, "zip local header");
  if (load_le32(lh) != kSigLocal) throw Error(where + ": bad local header signature");
  const std::uint64_t data_offset =
      z.local_offset + 30 + load_le16(lh + 26) + std::uint64_t{load_le16(lh + 28)};
  if (data_offset > data_end || z.compressed > data_end - data_offset)
    throw Error(where + ": data (" + std::to_string(z.compressed) +
                " bytes) extends past the end of the archive data");
  if (z.method == 0) {
    if (z.compressed != z.uncompressed)
      throw Error(where + ": stored entry with different compressed and uncompressed sizes");
  } else if (z.method == 8) {
    if (z.uncompressed / kMaxDeflateRatio > z.compressed + 1)
      throw Error(where + ": claims " + std::to_string(z.uncompressed) + " bytes from " +
                  std::to_string(z.compressed) + " compressed (impossible ratio)");
  } else {
    throw Error(where + ": unsupported compression method " + std::to_string(z.method) +
                " (only stored and deflate)");
  }
  if (z.uncompressed > SIZE_MAX / 2) throw Error(where + ": too large");

  std::vector<unsigned char> packed(static_cast<std::size_t>(z.compressed));
  f.read_at(data_offset, packed.data(), packed.size(), "zip entry data");
  std::vector<unsigned char> out;
  if (z.method == 0) {
    out = std::move(packed);
  } else {
    out.resize(static_cast<std::size_t>(z.uncompressed));
    z_stream s{};
    if (inflateInit2(&s, -MAX_WBITS) != Z_OK) throw Error(where + ": inflateInit2 failed");
    constexpr std::size_t kChunk = std::size_t{1} << 30;
    std::size_t in_pos = 0, out_pos = 0;
    std::string problem;
    for (;;) {
      if (s.avail_in == 0 && in_pos < packed.size()) {
        const std::size_t n = std::min(kChunk, packed.size() - in_pos);
        s.next_in = packed.data() + in_pos;
        s.avail_in = static_cast<uInt>(n);
        in_pos += n;
      }
      if (s.avail_out == 0 && out_pos < out.size()) {
        const std::size_t n = std::min(kChunk, out.size() - out_pos);
        s.next_out = out.data() + out_pos;
        s.avail_out = static_cast<uInt>(n);
        out_pos += n;
      }
      const int rc = inflate(&s, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) break;
      if (rc == Z_OK) continue;
      if (rc == Z_BUF_ERROR && s.avail_out == 0 && out_pos == out.size())
        problem = "inflates to more than the recorded " + std::to_string(out.size()) + " bytes";
      else if (rc == Z_BUF_ERROR)
        problem = "truncated deflate data";
      else
        problem = std::string("corrupt deflate data (") + (s.msg ? s.msg : "zlib error") + ")";
      break;
    }
    const std::uint64_t total = s.total_out;
    inflateEnd(&s);
    if (!problem.empty()) throw Error(where + ": " + problem);
    if (total != out.size())
      throw Error(where + ": inflated to " + std::to_string(total) +
                  " bytes but the directory records " + std::to_string(out.size()));
  }
  uLong crc = crc32(0L, Z_NULL, 0);
  for (std::size_t i = 0; i < out.size();) {
    const std::size_t n = std::min<std::size_t>(out.size() - i, std::size_t{1} << 30);
    crc = crc32(crc, out.data() + i, static_cast<uInt>(n));
    i += n;
  }
  if (crc != z.crc) throw Error(where + ": CRC mismatch (corrupt data)");
  return out;
}

}  // namespace

std::vector<std::pair<std::string, Tensor>> read_npz_ordered(const std::string& path) {
  InputFile f(path);
  const CentralDirectory cd = find_central_directory(f);
  const std::vector<ZipEntry> entries = read_entries(f, cd);
  std::vector<std::pair<std::string, Tensor>> arrays;
  std::set<std::string> seen;
  for (const ZipEntry& z : entries) {
    if (z.name.size() < 4 || z.name.compare(z.name.size() - 4, 4, ".npy") != 0) continue;
    const std::string key = z.name.substr(0, z.name.size() - 4);
    if (!seen.insert(key).second) throw Error(path + ": duplicate entry '" + z.name + "'");
    std::vector<unsigned char> bytes = read_entry(f, z, cd.offset);
    arrays.emplace_back(key, parse_npy_bytes(bytes.data(), bytes.size(), path + ":" + z.name));
  }
  return arrays;
}

}  // namespace data

std::map<std::string, Tensor> read_npz(const std::string& path) {
  std::map<std::string, Tensor> out;
  for (auto& [name, t] : data::read_npz_ordered(path)) out.emplace(name, std::move(t));
  return out;
}

}  // namespace qs
