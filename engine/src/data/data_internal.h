// Internal pieces of the data layer (engine/src/data): file access, the .npy header parser,
// the zip reader, image decoding and preprocessing. Not part of the public API.
#pragma once

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "quantscope/dataset.h"
#include "quantscope/tensor.h"

namespace qs::data {

// ---- files (file_io.cpp) ------------------------------------------------------------------

// A file opened for random-access reads. Every read is checked against the file size.
class InputFile {
 public:
  explicit InputFile(const std::string& path);  // throws Error naming the path
  const std::string& path() const { return path_; }
  std::uint64_t size() const { return size_; }
  // Reads exactly n bytes at offset; throws Error ("<path>: truncated ...") when the file is
  // shorter, naming `what` (e.g. "image data").
  void read_at(std::uint64_t offset, void* out, std::size_t n, const char* what);
  std::vector<unsigned char> read_all(std::uint64_t max_bytes);

 private:
  std::string path_;
  std::ifstream in_;
  std::uint64_t size_ = 0;
};

// Size of a regular file; throws Error naming the path when it is missing or not a file.
std::uint64_t file_size_checked(const std::string& path);
// Whole file, refused when larger than max_bytes.
std::vector<unsigned char> read_file_bytes(const std::string& path, std::uint64_t max_bytes);
// True when the file starts with the gzip magic 1f 8b.
bool is_gzip_file(const std::string& path);

// Big/little-endian loads from a byte buffer.
inline std::uint32_t load_be32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}
inline std::uint16_t load_le16(const unsigned char* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
inline std::uint32_t load_le32(const unsigned char* p) {
  return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
         (std::uint32_t{p[3]} << 24);
}
inline std::uint64_t load_le64(const unsigned char* p) {
  return std::uint64_t{load_le32(p)} | (std::uint64_t{load_le32(p + 4)} << 32);
}

// ---- .npy (npy.cpp) -----------------------------------------------------------------------

enum class NpyType { f32, f64, i64, i32, i8, u8, boolean };

struct NpyHeader {
  NpyType type = NpyType::f32;
  std::size_t item_size = 4;
  Shape shape;
  std::int64_t numel = 0;
  std::uint64_t data_offset = 0;  // bytes from the start of the .npy data
};

// Parses the header of .npy data. `prefix` holds the first bytes of the file (at least the
// whole header when the file has one); `total_size` is the size of the whole .npy data. Checks
// that the array's bytes fit in total_size. `name` is used in error messages.
NpyHeader parse_npy_header(const unsigned char* prefix, std::size_t prefix_size,
                           std::uint64_t total_size, const std::string& name);
// The dtype read_npy gives for an .npy type (float64 -> f32).
DType npy_result_dtype(NpyType t);
// Converts `count` elements of raw little-endian .npy data to the result dtype into `out`.
void npy_convert(NpyType t, const unsigned char* raw, std::int64_t count, void* out);
// Reads and parses the header of an .npy file.
NpyHeader read_npy_header(InputFile& f);
// A whole .npy held in memory.
Tensor parse_npy_bytes(const unsigned char* bytes, std::size_t size, const std::string& name);

// ---- .npz / zip (npz.cpp) -----------------------------------------------------------------

// Every array of an .npz, in archive order, names without ".npy".
std::vector<std::pair<std::string, Tensor>> read_npz_ordered(const std::string& path);

// ---- images (image_decode.cpp) ------------------------------------------------------------

struct Image {
  std::int64_t width = 0;
  std::int64_t height = 0;
  int channels = 0;                   // 1 (gray) or 3 (RGB); alpha is dropped
  std::vector<unsigned char> pixels;  // HWC, row-major
};

// Largest image decoded, in pixels (width * height).
inline constexpr std::int64_t kMaxImagePixels = std::int64_t{1} << 26;

// Decodes a PNG or JPEG (by content, not by extension). Throws Error naming the file.
Image decode_image_file(const std::string& path);
Image decode_png(const unsigned char* bytes, std::size_t size, const std::string& name);
Image decode_jpeg(const unsigned char* bytes, std::size_t size, const std::string& name);

// ---- preprocessing (preprocess.cpp) -------------------------------------------------------

// Per-channel normalization of a pixel scaled to [0,1]: (x - mean[c]) / std[c].
struct PixelNormalizer {
  std::vector<float> mean;
  std::vector<float> std;
  float operator()(int c, float pixel01) const { return (pixel01 - mean[c]) / std[c]; }
};
// Checks mean/std against the channel count (sizes 1 or channels, std != 0). `where` prefixes
// error messages.
PixelNormalizer make_normalizer(const Preprocess& p, std::int64_t channels,
                                const std::string& where);

// Bilinear resize of one float plane with half-pixel centers (edges clamped).
void resize_bilinear(const float* in, std::int64_t in_h, std::int64_t in_w, float* out,
                     std::int64_t out_h, std::int64_t out_w);

// Converts 8-bit pixels (HWC with `in_channels` 1 or 3) to `out_channels` (1 or 3) float
// planes in [0,1], resizes them to out_h x out_w when different, normalizes and writes CHW
// to `out` (out_channels * out_h * out_w floats).
void image_to_chw(const unsigned char* pixels, std::int64_t h, std::int64_t w, int in_channels,
                  int out_channels, std::int64_t out_h, std::int64_t out_w,
                  const PixelNormalizer& norm, float* out);

// ---- datasets -----------------------------------------------------------------------------

std::unique_ptr<Dataset> open_idx_dataset(const std::string& images, const std::string& labels,
                                          const Preprocess& p, const std::string& display_name);
std::unique_ptr<Dataset> open_folder_dataset(const std::string& dir, const Preprocess& p);
std::unique_ptr<Dataset> open_npy_dataset(const std::string& inputs, const std::string& labels,
                                          const Preprocess& p);
std::unique_ptr<Dataset> open_npz_dataset(const std::string& path, const std::string& input_key,
                                          const std::string& label_key, const Preprocess& p);
std::unique_ptr<Dataset> limit_dataset(std::unique_ptr<Dataset> inner, std::int64_t limit);

// Labels from an .npy (1-D, or [N,1], integer dtype). Throws naming the file.
std::vector<std::int64_t> labels_from_tensor(const Tensor& t, const std::string& name);
// Throws "<name>: N images but M labels" when they differ.
void check_label_count(std::int64_t samples, std::size_t labels, const std::string& name,
                       const char* noun);
// Checks 0 <= first, 0 <= count, first + count <= size.
void check_read_range(std::int64_t first, std::int64_t count, std::int64_t size,
                      const std::string& name);
// Number of classes: max label + 1 (0 when empty).
std::int64_t class_count(const std::vector<std::int64_t>& labels);

}  // namespace qs::data
