#pragma once
// Helpers for the data-layer tests: temporary folders and hand-built npy, npz (zip), IDX,
// PNG and JPEG files.
// jpeglib.h needs FILE and size_t declared first.
#include <stdio.h>
#include <stdlib.h>

#include <gtest/gtest.h>
#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "quantscope/dataset.h"
#include "quantscope/error.h"
#include "quantscope/graph.h"
#include "quantscope/npy.h"
#include "quantscope/tensor.h"

namespace fs = std::filesystem;

namespace data_test {

using Bytes = std::vector<unsigned char>;

class TempDir {
 public:
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "qs_test_data_XXXXXX").string();
    if (!mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
};

inline void write_bytes(const std::string& path, const Bytes& b) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
inline void write_text(const std::string& path, const std::string& s) {
  write_bytes(path, Bytes(s.begin(), s.end()));
}
inline Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const qs::Error& e) {
    return e.what();
  }
  return "<no error>";
}
inline bool contains(const std::string& s, const std::string& sub) {
  return s.find(sub) != std::string::npos;
}
#define EXPECT_CONTAINS(s, sub) EXPECT_PRED2(contains, s, sub)

// Raw deflate (windowBits -15) or gzip (windowBits 31) of `in`.
inline Bytes deflate_bytes(const Bytes& in, int window_bits) {
  z_stream s{};
  if (deflateInit2(&s, 9, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2");
  Bytes out(deflateBound(&s, static_cast<uLong>(in.size())) + 64);
  s.next_in = const_cast<unsigned char*>(in.data());
  s.avail_in = static_cast<uInt>(in.size());
  s.next_out = out.data();
  s.avail_out = static_cast<uInt>(out.size());
  if (deflate(&s, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("deflate");
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}
inline Bytes gzip_bytes(const Bytes& in) {
  return deflate_bytes(in, 15 + 16);
}

inline void put16(Bytes& b, unsigned v) {
  b.push_back(v & 0xff);
  b.push_back((v >> 8) & 0xff);
}
inline void put32(Bytes& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back((v >> (8 * i)) & 0xff);
}
inline void put64(Bytes& b, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back((v >> (8 * i)) & 0xff);
}
inline void put_be32(Bytes& b, std::uint32_t v) {
  for (int i = 3; i >= 0; --i) b.push_back((v >> (8 * i)) & 0xff);
}

struct ZipInput {
  std::string name;
  Bytes data;
  bool deflated = false;
  bool numpy_zip64_local = false;  // local header sizes 0xffffffff + zip64 extra, as numpy writes
};

// A zip archive built by hand: local headers, data, central directory, end record.
inline Bytes build_zip(const std::vector<ZipInput>& inputs) {
  Bytes zip, central;
  for (const ZipInput& in : inputs) {
    const Bytes data = in.deflated ? deflate_bytes(in.data, -MAX_WBITS) : in.data;
    const std::uint32_t crc =
        static_cast<std::uint32_t>(crc32(0, in.data.data(), static_cast<uInt>(in.data.size())));
    const std::uint32_t offset = static_cast<std::uint32_t>(zip.size());
    const unsigned method = in.deflated ? 8 : 0;
    // local header
    put32(zip, 0x04034b50);
    put16(zip, in.numpy_zip64_local ? 45 : 20);
    put16(zip, 0);
    put16(zip, method);
    put16(zip, 0);
    put16(zip, 0);
    put32(zip, crc);
    put32(zip, in.numpy_zip64_local ? 0xffffffff : static_cast<std::uint32_t>(data.size()));
    put32(zip, in.numpy_zip64_local ? 0xffffffff : static_cast<std::uint32_t>(in.data.size()));
    put16(zip, static_cast<unsigned>(in.name.size()));
    put16(zip, in.numpy_zip64_local ? 20 : 0);
    zip.insert(zip.end(), in.name.begin(), in.name.end());
    if (in.numpy_zip64_local) {
      put16(zip, 1);
      put16(zip, 16);
      put64(zip, in.data.size());
      put64(zip, data.size());
    }
    zip.insert(zip.end(), data.begin(), data.end());
    // central directory entry
    put32(central, 0x02014b50);
    put16(central, 20);
    put16(central, 20);
    put16(central, 0);
    put16(central, method);
    put16(central, 0);
    put16(central, 0);
    put32(central, crc);
    put32(central, static_cast<std::uint32_t>(data.size()));
    put32(central, static_cast<std::uint32_t>(in.data.size()));
    put16(central, static_cast<unsigned>(in.name.size()));
    put16(central, 0);
    put16(central, 0);
    put16(central, 0);
    put16(central, 0);
    put32(central, 0);
    put32(central, offset);
    central.insert(central.end(), in.name.begin(), in.name.end());
  }
  const std::uint32_t cd_offset = static_cast<std::uint32_t>(zip.size());
  zip.insert(zip.end(), central.begin(), central.end());
  put32(zip, 0x06054b50);
  put16(zip, 0);
  put16(zip, 0);
  put16(zip, static_cast<unsigned>(inputs.size()));
  put16(zip, static_cast<unsigned>(inputs.size()));
  put32(zip, static_cast<std::uint32_t>(central.size()));
  put32(zip, cd_offset);
  put16(zip, 0);
  return zip;
}

inline Bytes npy_bytes(const TempDir& dir, const qs::Tensor& t) {
  const std::string path = dir.file("tmp_for_bytes.npy");
  qs::write_npy(path, t);
  Bytes b = read_bytes(path);
  fs::remove(path);
  return b;
}

// A hand-written .npy with a given header dict and data.
inline Bytes raw_npy(const std::string& dict, const Bytes& data, int version = 1) {
  Bytes b = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<unsigned char>(version), 0};
  if (version == 1)
    put16(b, static_cast<unsigned>(dict.size()));
  else
    put32(b, static_cast<std::uint32_t>(dict.size()));
  b.insert(b.end(), dict.begin(), dict.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

inline Bytes idx_images(std::uint32_t n, std::uint32_t rows, std::uint32_t cols,
                        const std::function<unsigned char(std::uint32_t, std::uint32_t)>& pixel) {
  Bytes b;
  put_be32(b, 2051);
  put_be32(b, n);
  put_be32(b, rows);
  put_be32(b, cols);
  for (std::uint32_t i = 0; i < n; ++i)
    for (std::uint32_t p = 0; p < rows * cols; ++p) b.push_back(pixel(i, p));
  return b;
}
inline Bytes idx_labels(const std::vector<unsigned char>& labels) {
  Bytes b;
  put_be32(b, 2049);
  put_be32(b, static_cast<std::uint32_t>(labels.size()));
  b.insert(b.end(), labels.begin(), labels.end());
  return b;
}

inline void write_png(const std::string& path, int w, int h, int channels, const Bytes& pixels) {
  fs::create_directories(fs::path(path).parent_path());
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  img.width = w;
  img.height = h;
  img.format = channels == 1 ? PNG_FORMAT_GRAY : channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_RGBA;
  if (!png_image_write_to_file(&img, path.c_str(), 0, pixels.data(), 0, nullptr))
    throw std::runtime_error(std::string("png write: ") + img.message);
}

inline void write_jpeg(const std::string& path, int w, int h, int channels, const Bytes& pixels) {
  fs::create_directories(fs::path(path).parent_path());
  FILE* f = fopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error("fopen");
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  jpeg_stdio_dest(&c, f);
  c.image_width = w;
  c.image_height = h;
  c.input_components = channels;
  c.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 100, TRUE);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<unsigned char*>(pixels.data()) + c.next_scanline * w * channels;
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  fclose(f);
}

inline Bytes solid(int w, int h, const std::vector<unsigned char>& color) {
  Bytes b;
  for (int i = 0; i < w * h; ++i) b.insert(b.end(), color.begin(), color.end());
  return b;
}

inline qs::DataOptions opts(std::vector<float> mean = {0.0f}, std::vector<float> std = {1.0f},
                            std::int64_t channels = 0, std::int64_t height = 0,
                            std::int64_t width = 0) {
  qs::DataOptions o;
  o.preprocess.mean = std::move(mean);
  o.preprocess.std = std::move(std);
  o.preprocess.channels = channels;
  o.preprocess.height = height;
  o.preprocess.width = width;
  return o;
}

}  // namespace data_test
