// IDX (MNIST-format) image and label files, plain or gzipped, read lazily.
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>

#include "data_internal.h"

namespace qs::data {
namespace {

constexpr std::uint32_t kImageMagic = 2051;  // 0x00000803: unsigned byte, 3 dimensions
constexpr std::uint32_t kLabelMagic = 2049;  // 0x00000801: unsigned byte, 1 dimension
// Gzipped image data up to this size is decompressed once at open and kept in memory.
constexpr std::uint64_t kGzCacheBytes = std::uint64_t{64} << 20;
// Deflate expands at most about 1032:1.
constexpr std::uint64_t kMaxGzipRatio = 1100;

// Decompressed image data of the last few gzipped files opened, shared by every dataset opened
// on the same unchanged file (same path, size and modification time). The workbench opens its
// data sets again for each job, and inflating Fashion-MNIST's training images (47 MB) took about
// 0.3 s each time, time in which a job could not be cancelled.
class InflatedCache {
 public:
  using Bytes = std::shared_ptr<const std::vector<unsigned char>>;
  static InflatedCache& instance() {
    static InflatedCache cache;
    return cache;
  }
  Bytes find(const std::string& key) {
    std::lock_guard lock(mutex_);
    for (const auto& [k, bytes] : entries_)
      if (k == key) return bytes;
    return nullptr;
  }
  void put(const std::string& key, Bytes bytes) {
    std::lock_guard lock(mutex_);
    std::erase_if(entries_, [&](const auto& e) { return e.first == key; });
    entries_.emplace_front(key, std::move(bytes));
    if (entries_.size() > kEntries) entries_.pop_back();
  }

 private:
  static constexpr std::size_t kEntries = 4;  // train and test images, and two others
  std::mutex mutex_;
  std::deque<std::pair<std::string, Bytes>> entries_;
};

// The cache key of a file as it is now; empty (no caching) when it cannot be told. A file
// written in the last few seconds is not cached: file times advance in coarse ticks, so two
// writes of the same size within one tick would look the same.
std::string file_identity(const std::string& path) {
  std::error_code ec;
  const auto canonical = std::filesystem::canonical(path, ec);
  if (ec) return {};
  const auto size = std::filesystem::file_size(canonical, ec);
  if (ec) return {};
  const auto time = std::filesystem::last_write_time(canonical, ec);
  if (ec) return {};
  const auto age = std::filesystem::file_time_type::clock::now() - time;
  if (age < std::chrono::seconds(2)) return {};
  return canonical.string() + '\n' + std::to_string(size) + '\n' +
         std::to_string(time.time_since_epoch().count());
}

// Byte access to a plain or gzipped file. Reads of a gzipped file seek by decompressing
// (forward) or rewinding (backward).
class ByteSource {
 public:
  explicit ByteSource(const std::string& path) : path_(path) {
    file_size_ = file_size_checked(path);
    gz_ = is_gzip_file(path);
    if (!gz_) {
      plain_ = std::make_unique<InputFile>(path);
      return;
    }
    gz_file_ = gzopen(path.c_str(), "rb");
    if (!gz_file_) throw Error(path + ": cannot open gzip file");
    gzbuffer(gz_file_, 1 << 18);
  }
  ~ByteSource() {
    if (gz_file_) gzclose(gz_file_);
  }
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;

  bool gz() const { return gz_; }
  // Size of the file on disk (compressed for gzip).
  std::uint64_t file_size() const { return file_size_; }
  // Size of a plain file (not known for gzip).
  std::uint64_t plain_size() const { return plain_ ? plain_->size() : 0; }

  // Reads up to n bytes at offset; returns how many were read (short at end of data).
  std::size_t read_some(std::uint64_t offset, void* out, std::size_t n) {
    if (!gz_) {
      const std::uint64_t size = plain_->size();
      if (offset >= size) return 0;
      const std::size_t m = static_cast<std::size_t>(std::min<std::uint64_t>(n, size - offset));
      plain_->read_at(offset, out, m, "data");
      return m;
    }
    if (offset != pos_) {
      const z_off_t got = gzseek(gz_file_, static_cast<z_off_t>(offset), SEEK_SET);
      if (got < 0 || static_cast<std::uint64_t>(got) != offset) {
        pos_ = UINT64_MAX;  // unknown: seek again next time
        fail_gz("seek to offset " + std::to_string(offset));
      }
      pos_ = offset;
    }
    std::size_t done = 0;
    auto* dst = static_cast<unsigned char*>(out);
    while (done < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n - done, 1u << 30));
      const int r = gzread(gz_file_, dst + done, chunk);
      if (r < 0) {
        pos_ = UINT64_MAX;
        fail_gz("read");
      }
      done += static_cast<std::size_t>(r);
      pos_ += static_cast<std::uint64_t>(r);
      if (static_cast<unsigned>(r) < chunk) {
        int err = Z_OK;
        const char* msg = gzerror(gz_file_, &err);
        if (err != Z_OK) {
          const std::string text = strip_path(msg ? msg : "zlib error");
          pos_ = UINT64_MAX;
          gzclearerr(gz_file_);
          throw Error(path_ + ": corrupt or truncated gzip data (" + text + ")");
        }
        break;
      }
    }
    return done;
  }

  // Reads exactly n bytes at offset or throws "truncated", naming `what`.
  void read_exact(std::uint64_t offset, void* out, std::size_t n, const std::string& what) {
    const std::size_t got = read_some(offset, out, n);
    if (got != n)
      throw Error(path_ + ": truncated " + what + ": expected " + std::to_string(n) +
                  " bytes at offset " + std::to_string(offset) + ", got " + std::to_string(got));
  }

 private:
  // gzerror() messages start with the path; the caller adds it already.
  std::string strip_path(const std::string& msg) const {
    const std::string prefix = path_ + ": ";
    return msg.compare(0, prefix.size(), prefix) == 0 ? msg.substr(prefix.size()) : msg;
  }
  [[noreturn]] void fail_gz(const std::string& op) {
    int err = Z_OK;
    const char* msg = gzerror(gz_file_, &err);
    std::string text = strip_path((msg && *msg) ? msg : "unexpected end of data");
    gzclearerr(gz_file_);
    throw Error(path_ + ": gzip " + op + " failed (" + text + ")");
  }

  std::string path_;
  bool gz_ = false;
  std::uint64_t file_size_ = 0;
  std::unique_ptr<InputFile> plain_;
  gzFile gz_file_ = nullptr;
  std::uint64_t pos_ = 0;
};

std::uint32_t read_magic(ByteSource& src, const std::string& path, std::uint32_t expected,
                         const char* kind) {
  unsigned char h[4];
  src.read_exact(0, h, 4, "IDX header");
  const std::uint32_t magic = load_be32(h);
  if (magic != expected) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%08x", magic);
    std::string hint;
    if (magic == kImageMagic) hint = " (this is an IDX image file)";
    if (magic == kLabelMagic) hint = " (this is an IDX label file)";
    throw Error(path + ": wrong IDX magic " + hex + hint + ", expected " +
                std::to_string(expected) + " for an " + kind + " file");
  }
  return magic;
}

std::vector<std::int64_t> read_idx_labels(const std::string& path) {
  ByteSource src(path);
  read_magic(src, path, kLabelMagic, "IDX label");
  unsigned char h[4];
  src.read_exact(4, h, 4, "IDX header");
  const std::uint64_t n = load_be32(h);
  if (!src.gz() && src.plain_size() - 8 < n)
    throw Error(path + ": truncated IDX label file: header says " + std::to_string(n) +
                " labels but the file has " + std::to_string(src.plain_size() - 8));
  if (src.gz() && n / kMaxGzipRatio > src.file_size())
    throw Error(path + ": IDX header claims " + std::to_string(n) +
                " labels, impossible for a gzip file of " + std::to_string(src.file_size()) +
                " bytes");
  // Read in chunks so that a hostile count does not allocate beyond the real data.
  std::vector<unsigned char> bytes;
  constexpr std::size_t kChunk = 1 << 20;
  while (bytes.size() < n) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, n - bytes.size()));
    const std::size_t old = bytes.size();
    bytes.resize(old + want);
    const std::size_t got = src.read_some(8 + old, bytes.data() + old, want);
    if (got != want)
      throw Error(path + ": truncated IDX label file: header says " + std::to_string(n) +
                  " labels but the data ends after " + std::to_string(old + got));
  }
  return std::vector<std::int64_t>(bytes.begin(), bytes.end());
}

class IdxDataset : public Dataset {
 public:
  IdxDataset(const std::string& images, const std::string& labels, const Preprocess& p,
             const std::string& display_name)
      : path_(images), name_(display_name), src_(images) {
    read_magic(src_, images, kImageMagic, "IDX image");
    unsigned char h[12];
    src_.read_exact(4, h, 12, "IDX header");
    n_ = load_be32(h);
    rows_ = load_be32(h + 4);
    cols_ = load_be32(h + 8);
    if (rows_ == 0 || cols_ == 0)
      throw Error(images + ": IDX images have an empty size " + std::to_string(rows_) + "x" +
                  std::to_string(cols_));
    // Checked on its own too: with a count of 0 the total is 0 whatever the image size.
    constexpr std::int64_t kMaxImagePixels = std::int64_t{1} << 26;
    if (rows_ > kMaxImagePixels / cols_)
      throw Error(images + ": IDX images of " + std::to_string(rows_) + "x" +
                  std::to_string(cols_) + " are too large");
    image_bytes_ = rows_ * cols_;
    std::int64_t total = 0;
    try {
      total = shape_numel({n_, rows_, cols_});
    } catch (const Error&) {
      throw Error(images + ": IDX header claims too much data");
    }
    if (!src_.gz()) {
      if (src_.plain_size() - 16 < static_cast<std::uint64_t>(total))
        throw Error(images + ": truncated IDX image file: header says " + std::to_string(n_) +
                    " images of " + std::to_string(rows_) + "x" + std::to_string(cols_) + " (" +
                    std::to_string(total) + " bytes) but the file has " +
                    std::to_string(src_.plain_size() - 16) + " bytes of data");
    } else if (static_cast<std::uint64_t>(total) / kMaxGzipRatio > src_.file_size()) {
      throw Error(images + ": IDX header claims " + std::to_string(n_) + " images of " +
                  std::to_string(rows_) + "x" + std::to_string(cols_) +
                  ", impossible for a gzip file of " + std::to_string(src_.file_size()) + " bytes");
    } else if (static_cast<std::uint64_t>(total) <= kGzCacheBytes) {
      const std::string key = file_identity(images);
      cache_ = key.empty() ? nullptr : InflatedCache::instance().find(key);
      if (!cache_ || cache_->size() != static_cast<std::size_t>(total)) {
        auto bytes = std::make_shared<std::vector<unsigned char>>(static_cast<std::size_t>(total));
        src_.read_exact(16, bytes->data(), bytes->size(), "IDX image data");
        cache_ = bytes;
        if (!key.empty()) InflatedCache::instance().put(key, cache_);
      }
    }

    if (!labels.empty()) {
      labels_ = read_idx_labels(labels);
      check_label_count(n_, labels_.size(), labels, "images");
      has_labels_ = true;
    }

    if (p.channels != 0 && p.channels != 1 && p.channels != 3)
      throw Error(images + ": cannot make " + std::to_string(p.channels) +
                  "-channel samples from gray IDX images");
    channels_ = p.channels == 3 ? 3 : 1;
    out_h_ = p.height > 0 ? p.height : rows_;
    out_w_ = p.width > 0 ? p.width : cols_;
    norm_ = make_normalizer(p, channels_, images);
  }

  std::int64_t size() const override { return n_; }
  bool has_labels() const override { return has_labels_; }
  Shape sample_shape() const override { return {channels_, out_h_, out_w_}; }
  std::string describe() const override {
    std::string s = name_ + " (" + std::to_string(n_) + " images " + std::to_string(rows_) + "x" +
                    std::to_string(cols_);
    if (out_h_ != rows_ || out_w_ != cols_)
      s += " resized to " + std::to_string(out_h_) + "x" + std::to_string(out_w_);
    if (has_labels_) s += ", " + std::to_string(class_count(labels_)) + " classes";
    return s + ")";
  }

  Batch read(std::int64_t first, std::int64_t count) override {
    check_read_range(first, count, n_, path_);
    Batch b;
    b.inputs = Tensor(DType::f32, {count, channels_, out_h_, out_w_});
    const std::size_t bytes = static_cast<std::size_t>(count * image_bytes_);
    const std::uint64_t offset = static_cast<std::uint64_t>(first * image_bytes_);
    if (has_labels_) b.labels.assign(labels_.begin() + first, labels_.begin() + first + count);
    if (count == 0) return b;
    const unsigned char* raw = nullptr;
    std::vector<unsigned char> buffer;
    if (cache_) {
      raw = cache_->data() + offset;
    } else {
      buffer.resize(bytes);
      src_.read_exact(16 + offset, buffer.data(), bytes, "IDX image data");
      raw = buffer.data();
    }
    float* out = b.inputs.data<float>();
    const std::int64_t sample = channels_ * out_h_ * out_w_;
    for (std::int64_t i = 0; i < count; ++i)
      image_to_chw(raw + i * image_bytes_, rows_, cols_, 1, static_cast<int>(channels_), out_h_,
                   out_w_, norm_, out + i * sample);
    return b;
  }

 private:
  std::string path_;
  std::string name_;
  ByteSource src_;
  std::int64_t n_ = 0, rows_ = 0, cols_ = 0, image_bytes_ = 0;
  InflatedCache::Bytes cache_;  // the whole decompressed image data, for gzip files that fit
  std::vector<std::int64_t> labels_;
  bool has_labels_ = false;
  std::int64_t channels_ = 1, out_h_ = 0, out_w_ = 0;
  PixelNormalizer norm_;
};

}  // namespace

std::unique_ptr<Dataset> open_idx_dataset(const std::string& images, const std::string& labels,
                                          const Preprocess& p, const std::string& display_name) {
  return std::make_unique<IdxDataset>(images, labels, p, display_name);
}

}  // namespace qs::data
