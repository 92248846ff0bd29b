// Tests of the data layer: .npy/.npz, IDX, PNG/JPEG folders, preprocessing and dataset specs.
// Every test writes its own small files into a temporary folder.
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

namespace {

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

void write_bytes(const std::string& path, const Bytes& b) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
void write_text(const std::string& path, const std::string& s) {
  write_bytes(path, Bytes(s.begin(), s.end()));
}
Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const qs::Error& e) {
    return e.what();
  }
  return "<no error>";
}
bool contains(const std::string& s, const std::string& sub) {
  return s.find(sub) != std::string::npos;
}
#define EXPECT_CONTAINS(s, sub) EXPECT_PRED2(contains, s, sub)

// Raw deflate (windowBits -15) or gzip (windowBits 31) of `in`.
Bytes deflate_bytes(const Bytes& in, int window_bits) {
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
Bytes gzip_bytes(const Bytes& in) {
  return deflate_bytes(in, 15 + 16);
}

void put16(Bytes& b, unsigned v) {
  b.push_back(v & 0xff);
  b.push_back((v >> 8) & 0xff);
}
void put32(Bytes& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back((v >> (8 * i)) & 0xff);
}
void put64(Bytes& b, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back((v >> (8 * i)) & 0xff);
}
void put_be32(Bytes& b, std::uint32_t v) {
  for (int i = 3; i >= 0; --i) b.push_back((v >> (8 * i)) & 0xff);
}

struct ZipInput {
  std::string name;
  Bytes data;
  bool deflated = false;
  bool numpy_zip64_local = false;  // local header sizes 0xffffffff + zip64 extra, as numpy writes
};

// A zip archive built by hand: local headers, data, central directory, end record.
Bytes build_zip(const std::vector<ZipInput>& inputs) {
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

Bytes npy_bytes(const TempDir& dir, const qs::Tensor& t) {
  const std::string path = dir.file("tmp_for_bytes.npy");
  qs::write_npy(path, t);
  Bytes b = read_bytes(path);
  fs::remove(path);
  return b;
}

// A hand-written .npy with a given header dict and data.
Bytes raw_npy(const std::string& dict, const Bytes& data, int version = 1) {
  Bytes b = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<unsigned char>(version), 0};
  if (version == 1)
    put16(b, static_cast<unsigned>(dict.size()));
  else
    put32(b, static_cast<std::uint32_t>(dict.size()));
  b.insert(b.end(), dict.begin(), dict.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

Bytes idx_images(std::uint32_t n, std::uint32_t rows, std::uint32_t cols,
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
Bytes idx_labels(const std::vector<unsigned char>& labels) {
  Bytes b;
  put_be32(b, 2049);
  put_be32(b, static_cast<std::uint32_t>(labels.size()));
  b.insert(b.end(), labels.begin(), labels.end());
  return b;
}

void write_png(const std::string& path, int w, int h, int channels, const Bytes& pixels) {
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

void write_jpeg(const std::string& path, int w, int h, int channels, const Bytes& pixels) {
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

Bytes solid(int w, int h, const std::vector<unsigned char>& color) {
  Bytes b;
  for (int i = 0; i < w * h; ++i) b.insert(b.end(), color.begin(), color.end());
  return b;
}

qs::DataOptions opts(std::vector<float> mean = {0.0f}, std::vector<float> std = {1.0f},
                     std::int64_t channels = 0, std::int64_t height = 0, std::int64_t width = 0) {
  qs::DataOptions o;
  o.preprocess.mean = std::move(mean);
  o.preprocess.std = std::move(std);
  o.preprocess.channels = channels;
  o.preprocess.height = height;
  o.preprocess.width = width;
  return o;
}

}  // namespace

// ---- .npy --------------------------------------------------------------------------------

TEST(DataNpy, RoundTripsEveryDtype) {
  TempDir dir;
  auto check = [&](const qs::Tensor& t) {
    const std::string path = dir.file("t.npy");
    qs::write_npy(path, t);
    const Bytes b = read_bytes(path);
    ASSERT_GE(b.size(), 10u);
    EXPECT_EQ((10 + (b[8] | (b[9] << 8))) % 64, 0);  // data aligned to 64 bytes
    const qs::Tensor r = qs::read_npy(path);
    EXPECT_EQ(r.dtype(), t.dtype());
    EXPECT_EQ(r.shape(), t.shape());
    ASSERT_EQ(r.size_bytes(), t.size_bytes());
    EXPECT_EQ(std::memcmp(r.raw(), t.raw(), t.size_bytes()), 0);
  };
  check(qs::Tensor::from_vector<float>({2, 3}, {1.5f, -2, 3, 4, 5, 6.25f}));
  check(qs::Tensor::from_vector<std::int64_t>({3}, {-1, 0, 1LL << 40}));
  check(qs::Tensor::from_vector<std::int32_t>({1, 2, 2}, {7, -8, 9, 10}));
  check(qs::Tensor::from_vector<std::uint8_t>({4}, {0, 1, 128, 255}));
  check(qs::Tensor::from_vector<std::int8_t>({2}, {-128, 127}));
  check(qs::Tensor::from_vector<bool>({3}, {true, false, true}));
  check(qs::Tensor::scalar_f32(3.5f));
  check(qs::Tensor(qs::DType::f32, {0, 5}));
}

TEST(DataNpy, ReadsFloat64AndVersion2Headers) {
  TempDir dir;
  Bytes data;
  for (double v : {1.0, -2.5, 1e-3}) {
    unsigned char raw[8];
    std::memcpy(raw, &v, 8);
    data.insert(data.end(), raw, raw + 8);
  }
  write_bytes(
      dir.file("f64.npy"),
      raw_npy("{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (3,)}\n", data, 2));
  const qs::Tensor t = qs::read_npy(dir.file("f64.npy"));
  EXPECT_EQ(t.dtype(), qs::DType::f32);
  EXPECT_EQ(t.shape(), (qs::Shape{3}));
  EXPECT_FLOAT_EQ(t.data<float>()[1], -2.5f);
  EXPECT_FLOAT_EQ(t.data<float>()[2], 1e-3f);
}

TEST(DataNpy, MissingFileNamesIt) {
  TempDir dir;
  const std::string path = dir.file("nope.npy");
  const std::string msg = error_of([&] { qs::read_npy(path); });
  EXPECT_CONTAINS(msg, path);
  EXPECT_CONTAINS(msg, "not found");
}

TEST(DataNpy, TruncatedDataIsAnError) {
  TempDir dir;
  const std::string path = dir.file("t.npy");
  qs::write_npy(path, qs::Tensor(qs::DType::f32, {10, 10}));
  fs::resize_file(path, fs::file_size(path) - 5);
  const std::string msg = error_of([&] { qs::read_npy(path); });
  EXPECT_CONTAINS(msg, path);
  EXPECT_CONTAINS(msg, "truncated");
}

TEST(DataNpy, BadHeadersAreErrors) {
  TempDir dir;
  const Bytes four_floats(16, 0);
  struct Case {
    Bytes bytes;
    std::string expect;
  };
  std::vector<Case> cases = {
      {Bytes{'n', 'o', 't', ' ', 'n', 'p', 'y', '!', 0, 0, 0, 0}, "bad magic"},
      {raw_npy("{'descr': '<f4', 'fortran_order': True, 'shape': (4,), }", four_floats), "Fortran"},
      {raw_npy("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", four_floats), "<c8"},
      {raw_npy("{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", four_floats),
       "big-endian"},
      {raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, "
               "4611686018427387904), }",
               four_floats),
       "too many elements"},
      {raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
               four_floats),
       "too large"},
      {raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000,), }", four_floats),
       "truncated"},
      {raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }", four_floats),
       "bad .npy header"},
      {raw_npy("{'descr': '<f4', 'shape': (4,), }", four_floats), "fortran_order"},
      {raw_npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,), }", four_floats),
       "structured"},
      {raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4,", Bytes{}),
       "bad .npy header"},
      {raw_npy("garbage", four_floats), "bad .npy header"},
      {raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", four_floats, 9),
       "version"},
  };
  // Header length pointing past the end of the file.
  Bytes past = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0xff, 0xff, '{', '}'};
  cases.push_back({past, "truncated .npy header"});
  Bytes past2 = {0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0xff, 0xff, 0xff, 0xff, '{', '}'};
  cases.push_back({past2, "header"});
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const std::string path = dir.file("bad" + std::to_string(i) + ".npy");
    write_bytes(path, cases[i].bytes);
    const std::string msg = error_of([&] { qs::read_npy(path); });
    EXPECT_CONTAINS(msg, path) << "case " << i;
    EXPECT_CONTAINS(msg, cases[i].expect) << "case " << i;
  }
}

TEST(DataNpy, WriteToMissingFolderIsAnError) {
  TempDir dir;
  const std::string path = dir.file("no/such/folder/x.npy");
  EXPECT_CONTAINS(error_of([&] { qs::write_npy(path, qs::Tensor::scalar_f32(1)); }), path);
}

// ---- .npz --------------------------------------------------------------------------------

TEST(DataNpz, ReadsStoredAndDeflatedEntries) {
  TempDir dir;
  const qs::Tensor x = qs::Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4});
  std::vector<std::int64_t> lv(300);
  for (std::size_t i = 0; i < lv.size(); ++i) lv[i] = static_cast<std::int64_t>(i % 7);
  const qs::Tensor labels = qs::Tensor::from_vector<std::int64_t>({300}, lv);
  const std::string path = dir.file("a.npz");
  write_bytes(path, build_zip({{"x.npy", npy_bytes(dir, x), false, false},
                               {"labels.npy", npy_bytes(dir, labels), true, false},
                               {"readme.txt", Bytes{'h', 'i'}, false, false}}));
  const auto arrays = qs::read_npz(path);
  ASSERT_EQ(arrays.size(), 2u);
  ASSERT_TRUE(arrays.count("x"));
  ASSERT_TRUE(arrays.count("labels"));
  EXPECT_EQ(arrays.at("x").shape(), (qs::Shape{2, 2}));
  EXPECT_FLOAT_EQ(arrays.at("x").data<float>()[3], 4.0f);
  EXPECT_EQ(arrays.at("labels").to_i64(), lv);
}

TEST(DataNpz, ReadsNumpyStyleZip64LocalHeaders) {
  TempDir dir;
  const qs::Tensor x = qs::Tensor::from_vector<float>({3}, {1, 2, 3});
  const std::string path = dir.file("np.npz");
  write_bytes(path, build_zip({{"arr_0.npy", npy_bytes(dir, x), false, true},
                               {"arr_1.npy", npy_bytes(dir, x), true, true}}));
  const auto arrays = qs::read_npz(path);
  ASSERT_EQ(arrays.size(), 2u);
  EXPECT_FLOAT_EQ(arrays.at("arr_1").data<float>()[2], 3.0f);
}

TEST(DataNpz, CorruptArchivesAreErrors) {
  TempDir dir;
  const qs::Tensor x = qs::Tensor::from_vector<float>({64}, std::vector<float>(64, 1.0f));
  const Bytes good = build_zip({{"x.npy", npy_bytes(dir, x), true, false}});
  auto expect_error = [&](const std::string& name, const Bytes& b, const std::string& sub) {
    const std::string path = dir.file(name);
    write_bytes(path, b);
    const std::string msg = error_of([&] { qs::read_npz(path); });
    EXPECT_CONTAINS(msg, path) << name;
    EXPECT_CONTAINS(msg, sub) << name;
  };
  expect_error("notzip.npz", Bytes(100, 'x'), "not a zip");
  expect_error("tiny.npz", Bytes{'P', 'K'}, "not a zip");
  // Cut in the middle: the end record is gone.
  expect_error("cut.npz", Bytes(good.begin(), good.begin() + good.size() / 2), "not a zip");
  // Flip a byte of the compressed data: CRC or deflate error.
  Bytes flipped = good;
  flipped[30 + 5 + 10] ^= 0x55;
  expect_error("flipped.npz", flipped, "entry 'x.npy'");
  // Claim an uncompressed size far beyond what deflate can produce.
  Bytes bomb = good;
  const std::size_t cd = bomb.size() - 22 - 46 - 5;
  bomb[cd + 24] = 0xff;
  bomb[cd + 25] = 0xff;
  bomb[cd + 26] = 0xff;
  bomb[cd + 27] = 0x7f;
  expect_error("bomb.npz", bomb, "impossible ratio");
  // Compressed size beyond the archive.
  Bytes big = good;
  big[cd + 20] = 0xff;
  big[cd + 21] = 0xff;
  big[cd + 22] = 0xff;
  expect_error("big.npz", big, "past the end");
  // Unsupported method.
  Bytes bz = good;
  bz[cd + 10] = 12;
  expect_error("bzip2.npz", bz, "compression method 12");
  // Central directory offset out of range.
  Bytes off = good;
  off[off.size() - 22 + 16] = 0xf0;
  off[off.size() - 22 + 19] = 0x70;
  expect_error("cdoff.npz", off, "outside the file");
  // A corrupt .npy inside.
  expect_error("badnpy.npz", build_zip({{"x.npy", Bytes{'n', 'o', 'p', 'e'}, false, false}}),
               "x.npy");
}

TEST(DataNpz, OpensAsDataset) {
  TempDir dir;
  const qs::Tensor x = qs::Tensor::from_vector<float>({3, 2}, {0, 1, 2, 3, 4, 5});
  const qs::Tensor y = qs::Tensor::from_vector<std::int32_t>({3}, {2, 0, 1});
  const std::string path = dir.file("d.npz");
  // Labels first in the archive: the inputs default to the first array that is not the labels.
  write_bytes(path, build_zip({{"y.npy", npy_bytes(dir, y), false, false},
                               {"data.npy", npy_bytes(dir, x), true, false}}));
  auto ds = qs::open_dataset("npz:" + path, {});
  EXPECT_EQ(ds->size(), 3);
  EXPECT_TRUE(ds->has_labels());
  EXPECT_EQ(ds->sample_shape(), (qs::Shape{2}));
  qs::Batch b = ds->read(1, 2);
  EXPECT_EQ(b.inputs.shape(), (qs::Shape{2, 2}));
  EXPECT_FLOAT_EQ(b.inputs.data<float>()[0], 2.0f);
  EXPECT_EQ(b.labels, (std::vector<std::int64_t>{0, 1}));

  auto explicit_keys = qs::open_dataset("npz:" + path + ":data,y", {});
  EXPECT_EQ(explicit_keys->read(0, 3).labels, (std::vector<std::int64_t>{2, 0, 1}));
  auto no_labels = qs::open_dataset("npz:" + path + ":data", {});
  EXPECT_TRUE(no_labels->has_labels());  // "y" is still found by default
  const std::string msg = error_of([&] { qs::open_dataset("npz:" + path + ":nope", {}); });
  EXPECT_CONTAINS(msg, "'nope'");
  EXPECT_CONTAINS(msg, "y, data");
}

// ---- IDX ---------------------------------------------------------------------------------

TEST(DataIdx, ReadsPlainAndGzippedFiles) {
  TempDir dir;
  auto pixel = [](std::uint32_t i, std::uint32_t p) {
    return static_cast<unsigned char>(i * 20 + p);
  };
  const Bytes images = idx_images(5, 3, 4, pixel);
  const Bytes labels = idx_labels({3, 1, 4, 1, 5});
  write_bytes(dir.file("img"), images);
  write_bytes(dir.file("lbl"), labels);
  write_bytes(dir.file("img.gz"), gzip_bytes(images));
  write_bytes(dir.file("lbl.gz"), gzip_bytes(labels));
  for (const std::string suffix : {"", ".gz"}) {
    auto ds = qs::open_dataset("idx:" + dir.file("img" + suffix) + "," + dir.file("lbl" + suffix),
                               opts({0.5f}, {0.25f}));
    EXPECT_EQ(ds->size(), 5);
    EXPECT_TRUE(ds->has_labels());
    EXPECT_EQ(ds->sample_shape(), (qs::Shape{1, 3, 4}));
    EXPECT_CONTAINS(ds->describe(), "5 images 3x4, 6 classes");
    qs::Batch b = ds->read(3, 2);
    ASSERT_EQ(b.inputs.shape(), (qs::Shape{2, 1, 3, 4}));
    EXPECT_EQ(b.labels, (std::vector<std::int64_t>{1, 5}));
    for (int i = 0; i < 2; ++i)
      for (int p = 0; p < 12; ++p)
        EXPECT_FLOAT_EQ(b.inputs.data<float>()[i * 12 + p],
                        (pixel(3 + i, p) / 255.0f - 0.5f) / 0.25f);
    // Backward read after a forward one.
    EXPECT_FLOAT_EQ(ds->read(0, 1).inputs.data<float>()[5], (5 / 255.0f - 0.5f) / 0.25f);
    EXPECT_EQ(ds->read(5, 0).inputs.shape(), (qs::Shape{0, 1, 3, 4}));
  }
  auto unlabeled = qs::open_dataset("idx:" + dir.file("img"), {});
  EXPECT_FALSE(unlabeled->has_labels());
  EXPECT_TRUE(unlabeled->read(0, 5).labels.empty());
}

TEST(DataIdx, ResizesBilinearWithHalfPixelCenters) {
  TempDir dir;
  // 2x2 image: left column 0, right column 255.
  write_bytes(dir.file("img"), idx_images(1, 2, 2, [](std::uint32_t, std::uint32_t p) {
                return static_cast<unsigned char>(p % 2 ? 255 : 0);
              }));
  auto ds = qs::open_dataset("idx:" + dir.file("img"), opts({0}, {1}, 0, 4, 4));
  EXPECT_EQ(ds->sample_shape(), (qs::Shape{1, 4, 4}));
  qs::Batch b = ds->read(0, 1);
  const float expect[4] = {0.0f, 0.25f, 0.75f, 1.0f};
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) EXPECT_NEAR(b.inputs.data<float>()[y * 4 + x], expect[x], 1e-6);
  // Three channels from gray: replicated.
  auto rgb = qs::open_dataset("idx:" + dir.file("img"), opts({0}, {1}, 3));
  EXPECT_EQ(rgb->sample_shape(), (qs::Shape{3, 2, 2}));
  EXPECT_FLOAT_EQ(rgb->read(0, 1).inputs.data<float>()[2 * 4 + 1], 1.0f);
}

TEST(DataIdx, WrongMagicIsAnError) {
  TempDir dir;
  write_bytes(dir.file("lbl"), idx_labels({1, 2}));
  write_bytes(dir.file("img"), idx_images(2, 2, 2, [](auto, auto) { return 0; }));
  // Labels file given as images.
  std::string msg = error_of([&] { qs::open_dataset("idx:" + dir.file("lbl"), {}); });
  EXPECT_CONTAINS(msg, dir.file("lbl"));
  EXPECT_CONTAINS(msg, "wrong IDX magic");
  // Images file given as labels.
  msg = error_of([&] { qs::open_dataset("idx:" + dir.file("img") + "," + dir.file("img"), {}); });
  EXPECT_CONTAINS(msg, "wrong IDX magic");
  // Garbage.
  write_bytes(dir.file("junk"), Bytes(100, 7));
  EXPECT_CONTAINS(error_of([&] { qs::open_dataset("idx:" + dir.file("junk"), {}); }),
                  "wrong IDX magic");
  // Shorter than a header.
  write_bytes(dir.file("short"), Bytes{0, 0});
  EXPECT_CONTAINS(error_of([&] { qs::open_dataset("idx:" + dir.file("short"), {}); }), "truncated");
}

TEST(DataIdx, LabelCountMismatchIsAnError) {
  TempDir dir;
  write_bytes(dir.file("img"), idx_images(5, 2, 2, [](auto, auto) { return 0; }));
  write_bytes(dir.file("lbl"), idx_labels({1, 2, 3, 4}));
  const std::string msg =
      error_of([&] { qs::open_dataset("idx:" + dir.file("img") + "," + dir.file("lbl"), {}); });
  EXPECT_CONTAINS(msg, "5 images but 4 labels");
  EXPECT_CONTAINS(msg, dir.file("lbl"));
}

TEST(DataIdx, TruncatedFilesAreErrors) {
  TempDir dir;
  const Bytes images = idx_images(50, 8, 8, [](std::uint32_t i, std::uint32_t p) {
    return static_cast<unsigned char>(i * 7 + p * 13);
  });
  // Plain: cut off.
  write_bytes(dir.file("img"), Bytes(images.begin(), images.end() - 10));
  std::string msg = error_of([&] { qs::open_dataset("idx:" + dir.file("img"), {}); });
  EXPECT_CONTAINS(msg, dir.file("img"));
  EXPECT_CONTAINS(msg, "truncated");
  // Gzip cut in the middle of the stream.
  const Bytes gz = gzip_bytes(images);
  write_bytes(dir.file("img.gz"), Bytes(gz.begin(), gz.begin() + gz.size() / 2));
  msg = error_of([&] { qs::open_dataset("idx:" + dir.file("img.gz"), {}); });
  EXPECT_CONTAINS(msg, dir.file("img.gz"));
  // Gzip with corrupted bytes.
  Bytes bad = gz;
  for (std::size_t i = 20; i < 40 && i < bad.size(); ++i) bad[i] ^= 0xa5;
  write_bytes(dir.file("bad.gz"), bad);
  msg = error_of([&] {
    auto ds = qs::open_dataset("idx:" + dir.file("bad.gz"), {});
    ds->read(0, ds->size());
  });
  EXPECT_CONTAINS(msg, dir.file("bad.gz"));
  // Gzipped labels cut off.
  write_bytes(dir.file("ok"), images);
  Bytes lgz = gzip_bytes(idx_labels(std::vector<unsigned char>(50, 1)));
  write_bytes(dir.file("lbl.gz"), Bytes(lgz.begin(), lgz.begin() + lgz.size() / 2));
  msg = error_of([&] { qs::open_dataset("idx:" + dir.file("ok") + "," + dir.file("lbl.gz"), {}); });
  EXPECT_CONTAINS(msg, dir.file("lbl.gz"));
  // Hostile header: billions of huge images in a tiny file.
  Bytes hostile;
  put_be32(hostile, 2051);
  put_be32(hostile, 0xffffffff);
  put_be32(hostile, 0xffffffff);
  put_be32(hostile, 0xffffffff);
  write_bytes(dir.file("hostile"), hostile);
  write_bytes(dir.file("hostile.gz"), gzip_bytes(hostile));
  EXPECT_CONTAINS(error_of([&] { qs::open_dataset("idx:" + dir.file("hostile"), {}); }),
                  dir.file("hostile"));
  EXPECT_CONTAINS(error_of([&] { qs::open_dataset("idx:" + dir.file("hostile.gz"), {}); }),
                  dir.file("hostile.gz"));
  Bytes hostile_labels;
  put_be32(hostile_labels, 2049);
  put_be32(hostile_labels, 0xfffffff0);
  write_bytes(dir.file("hl.gz"), gzip_bytes(hostile_labels));
  EXPECT_CONTAINS(
      error_of([&] { qs::open_dataset("idx:" + dir.file("ok") + "," + dir.file("hl.gz"), {}); }),
      "impossible for a gzip file");
  // Plausible for the file size, but the data ends early.
  Bytes short_labels;
  put_be32(short_labels, 2049);
  put_be32(short_labels, 5000);
  write_bytes(dir.file("sl.gz"), gzip_bytes(short_labels));
  EXPECT_CONTAINS(
      error_of([&] { qs::open_dataset("idx:" + dir.file("ok") + "," + dir.file("sl.gz"), {}); }),
      "truncated");
  // A gzipped image file whose header claims far more than the file can hold.
  Bytes many;
  put_be32(many, 2051);
  put_be32(many, 1000000);
  put_be32(many, 1000);
  put_be32(many, 1000);
  write_bytes(dir.file("many.gz"), gzip_bytes(many));
  EXPECT_CONTAINS(error_of([&] { qs::open_dataset("idx:" + dir.file("many.gz"), {}); }),
                  "impossible for a gzip file");
}

TEST(DataIdx, StreamsLargeGzippedFiles) {
  TempDir dir;
  // 1100 images of 256x240 = 67.6 MB decompressed: above the in-memory cache limit.
  const std::uint32_t n = 1100, rows = 256, cols = 240;
  Bytes images;
  images.reserve(16 + std::size_t{n} * rows * cols);
  put_be32(images, 2051);
  put_be32(images, n);
  put_be32(images, rows);
  put_be32(images, cols);
  images.resize(16 + std::size_t{n} * rows * cols, 0);
  for (std::uint32_t i = 0; i < n; ++i) {
    images[16 + std::size_t{i} * rows * cols] = static_cast<unsigned char>(i % 251);
    images[16 + std::size_t{i} * rows * cols + rows * cols - 1] =
        static_cast<unsigned char>(i % 13);
  }
  const Bytes gz = gzip_bytes(images);
  write_bytes(dir.file("big.gz"), gz);
  auto ds = qs::open_dataset("idx:" + dir.file("big.gz"), {});
  EXPECT_EQ(ds->size(), n);
  const std::int64_t sample = std::int64_t{rows} * cols;
  qs::Batch b = ds->read(1000, 3);
  for (int k = 0; k < 3; ++k) {
    EXPECT_FLOAT_EQ(b.inputs.data<float>()[k * sample], ((1000 + k) % 251) / 255.0f);
    EXPECT_FLOAT_EQ(b.inputs.data<float>()[k * sample + sample - 1], ((1000 + k) % 13) / 255.0f);
  }
  // Backward seek rewinds.
  EXPECT_FLOAT_EQ(ds->read(7, 1).inputs.data<float>()[0], 7 / 255.0f);
  // Truncated: only noticed when the missing part is read.
  write_bytes(dir.file("cut.gz"), Bytes(gz.begin(), gz.begin() + gz.size() * 98 / 100));
  auto cut = qs::open_dataset("idx:" + dir.file("cut.gz"), {});
  EXPECT_NO_THROW(cut->read(0, 1));
  EXPECT_CONTAINS(error_of([&] { cut->read(n - 1, 1); }), dir.file("cut.gz"));
}

TEST(DataIdx, LimitAndRangeChecks) {
  TempDir dir;
  write_bytes(dir.file("img"), idx_images(10, 2, 2, [](std::uint32_t i, std::uint32_t) {
                return static_cast<unsigned char>(i);
              }));
  qs::DataOptions o;
  o.limit = 3;
  auto ds = qs::open_dataset("idx:" + dir.file("img"), o);
  EXPECT_EQ(ds->size(), 3);
  EXPECT_FLOAT_EQ(ds->read(2, 1).inputs.data<float>()[0], 2 / 255.0f);
  EXPECT_THROW(ds->read(2, 2), qs::Error);
  EXPECT_THROW(ds->read(-1, 1), qs::Error);
  o.limit = 100;
  EXPECT_EQ(qs::open_dataset("idx:" + dir.file("img"), o)->size(), 10);
  o.limit = 0;
  EXPECT_EQ(qs::open_dataset("idx:" + dir.file("img"), o)->size(), 0);
  auto full = qs::open_dataset("idx:" + dir.file("img"), {});
  EXPECT_THROW(full->read(9, 2), qs::Error);
  EXPECT_THROW(full->read(0, -1), qs::Error);
  EXPECT_THROW(full->read(11, 0), qs::Error);
}

// ---- folders of images -------------------------------------------------------------------

TEST(DataFolder, ReadsPngAndJpegClasses) {
  TempDir dir;
  const std::string root = dir.file("images");
  write_png(root + "/classA/b.png", 4, 4, 3, solid(4, 4, {200, 100, 50}));
  write_png(root + "/classA/a.png", 4, 4, 4, solid(4, 4, {10, 20, 30, 0}));  // alpha dropped
  write_jpeg(root + "/classB/z.jpg", 8, 8, 3, solid(8, 8, {40, 80, 120}));
  write_jpeg(root + "/classC/x.JPEG", 8, 8, 1, solid(8, 8, {90}));
  write_text(root + "/classC/notes.txt", "not an image");
  write_text(root + "/stray.png", "files directly in the root are not samples");
  fs::create_directories(root + "/emptyD");

  auto ds = qs::open_dataset("folder:" + root, opts({0.5f, 0.4f, 0.3f}, {0.2f}, 3, 4, 4));
  ASSERT_EQ(ds->size(), 4);
  EXPECT_TRUE(ds->has_labels());
  EXPECT_EQ(ds->sample_shape(), (qs::Shape{3, 4, 4}));
  EXPECT_CONTAINS(ds->describe(), "4 images");
  EXPECT_CONTAINS(ds->describe(), "4 classes");
  qs::Batch b = ds->read(0, 4);
  EXPECT_EQ(b.labels, (std::vector<std::int64_t>{0, 0, 1, 2}));
  const float* v = b.inputs.data<float>();
  const float mean[3] = {0.5f, 0.4f, 0.3f};
  auto at = [&](int i, int c, int y, int x) { return v[((i * 3 + c) * 4 + y) * 4 + x]; };
  // a.png (sorted first), exact.
  const int a[3] = {10, 20, 30}, bb[3] = {200, 100, 50}, z[3] = {40, 80, 120};
  for (int c = 0; c < 3; ++c) {
    EXPECT_FLOAT_EQ(at(0, c, 1, 2), (a[c] / 255.0f - mean[c]) / 0.2f);
    EXPECT_FLOAT_EQ(at(1, c, 3, 3), (bb[c] / 255.0f - mean[c]) / 0.2f);
    // JPEG, resized from 8x8: close to the color.
    EXPECT_NEAR(at(2, c, 0, 0), (z[c] / 255.0f - mean[c]) / 0.2f, 4 / 255.0f / 0.2f);
    // Gray JPEG replicated to RGB.
    EXPECT_NEAR(at(3, c, 2, 2), (90 / 255.0f - mean[c]) / 0.2f, 3 / 255.0f / 0.2f);
  }
}

TEST(DataFolder, ConvertsToGrayAndKeepsOwnChannels) {
  TempDir dir;
  const std::string root = dir.file("imgs");
  write_png(root + "/c0/p.png", 3, 2, 3, solid(3, 2, {255, 128, 0}));
  auto gray = qs::open_dataset("folder:" + root, opts({0}, {1}, 1));
  EXPECT_EQ(gray->sample_shape(), (qs::Shape{1, 2, 3}));
  EXPECT_NEAR(gray->read(0, 1).inputs.data<float>()[4], (0.299f * 255 + 0.587f * 128) / 255.0f,
              1e-5);
  auto own = qs::open_dataset("folder:" + root, {});
  EXPECT_EQ(own->sample_shape(), (qs::Shape{3, 2, 3}));
  write_png(root + "/c1/g.png", 3, 2, 1, solid(3, 2, {7}));
  auto own_gray = qs::open_dataset("folder:" + dir.file("imgs/c1/.."), {});
  EXPECT_EQ(own_gray->sample_shape(), (qs::Shape{3, 2, 3}));  // the first image decides
  fs::remove_all(root + "/c0");
  EXPECT_EQ(qs::open_dataset("folder:" + root, {})->sample_shape(), (qs::Shape{1, 2, 3}));
}

TEST(DataFolder, SizeMismatchWithoutResizeNamesTheFile) {
  TempDir dir;
  const std::string root = dir.file("imgs");
  write_png(root + "/c/1.png", 4, 4, 1, solid(4, 4, {1}));
  write_png(root + "/c/2.png", 5, 4, 1, solid(5, 4, {1}));
  auto ds = qs::open_dataset("folder:" + root, {});
  EXPECT_NO_THROW(ds->read(0, 1));
  const std::string msg = error_of([&] { ds->read(0, 2); });
  EXPECT_CONTAINS(msg, root + "/c/2.png");
  // With a size set, both are resized.
  auto resized = qs::open_dataset("folder:" + root, opts({0}, {1}, 0, 3, 3));
  EXPECT_EQ(resized->read(0, 2).inputs.shape(), (qs::Shape{2, 1, 3, 3}));
}

TEST(DataFolder, CorruptImagesNameTheFile) {
  TempDir dir;
  const std::string root = dir.file("imgs");
  write_png(root + "/c/0good.png", 4, 4, 1, solid(4, 4, {1}));
  write_jpeg(root + "/c/1good.jpg", 8, 8, 3, solid(8, 8, {1, 2, 3}));
  auto expect_bad = [&](const std::string& name, const Bytes& bytes) {
    const std::string path = root + "/bad/" + name;
    write_bytes(path, bytes);
    auto ds = qs::open_dataset("folder:" + root, opts({0}, {1}, 1, 4, 4));
    const std::string msg = error_of([&] { ds->read(0, ds->size()); });
    EXPECT_CONTAINS(msg, path);
    fs::remove(path);
  };
  Bytes png = read_bytes(root + "/c/0good.png");
  Bytes png_bad = png;
  for (std::size_t i = 16; i < png_bad.size(); ++i) png_bad[i] ^= 0x3c;
  expect_bad("bad.png", png_bad);
  expect_bad("cut.png", Bytes(png.begin(), png.begin() + png.size() / 2));
  Bytes jpg = read_bytes(root + "/c/1good.jpg");
  Bytes jpg_bad = jpg;
  for (std::size_t i = 3; i < 60 && i < jpg_bad.size(); ++i) jpg_bad[i] = 0x12;
  expect_bad("bad.jpg", jpg_bad);
  expect_bad("cut.jpg", Bytes(jpg.begin(), jpg.begin() + jpg.size() / 2));
  // Truncated inside the entropy-coded data of a larger, noisy JPEG.
  Bytes noise(64 * 64 * 3);
  for (std::size_t i = 0; i < noise.size(); ++i)
    noise[i] = static_cast<unsigned char>(i * 7919 % 251);
  write_jpeg(root + "/tmp/noise.jpg", 64, 64, 3, noise);
  Bytes big = read_bytes(root + "/tmp/noise.jpg");
  fs::remove_all(root + "/tmp");
  expect_bad("cut_scan.jpg", Bytes(big.begin(), big.begin() + big.size() * 9 / 10));
  // A PNG header claiming a huge image in a small file.
  Bytes huge = png;
  huge[16] = 0x00;
  huge[17] = 0x00;
  huge[18] = 0x10;
  huge[19] = 0x00;  // width 4096
  huge[20] = 0x00;
  huge[21] = 0x00;
  huge[22] = 0x10;
  huge[23] = 0x00;  // height 4096
  const uLong crc = crc32(0, huge.data() + 12, 17);
  for (int k = 0; k < 4; ++k) huge[29 + k] = static_cast<unsigned char>(crc >> (24 - 8 * k));
  expect_bad("huge.png", huge);
  expect_bad("text.png", Bytes{'h', 'e', 'l', 'l', 'o'});
  expect_bad("empty.jpg", Bytes{});
}

TEST(DataFolder, MissingOrEmptyFolderIsAnError) {
  TempDir dir;
  EXPECT_CONTAINS(error_of([&] { qs::open_dataset("folder:" + dir.file("none"), {}); }),
                  dir.file("none"));
  fs::create_directories(dir.file("empty/classA"));
  EXPECT_CONTAINS(error_of([&] { qs::open_dataset("folder:" + dir.file("empty"), {}); }),
                  "no PNG or JPEG");
  write_png(dir.file("c3/a/x.png"), 2, 2, 1, solid(2, 2, {0}));
  EXPECT_CONTAINS(
      error_of([&] { qs::open_dataset("folder:" + dir.file("c3"), opts({0}, {1}, 2)); }),
      "channel");
  // mean with 2 values for 3 channels
  EXPECT_CONTAINS(error_of([&] {
                    qs::open_dataset("folder:" + dir.file("c3"), opts({0, 0}, {1}, 3));
                  }),
                  "mean has 2 values");
}

// ---- npy datasets ------------------------------------------------------------------------

TEST(DataNpyDataset, StreamsFloatInputsWithLabels) {
  TempDir dir;
  std::vector<float> values(6 * 2 * 3);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) * 0.5f;
  qs::write_npy(dir.file("x.npy"), qs::Tensor::from_vector<float>({6, 2, 3}, values));
  qs::write_npy(dir.file("y.npy"), qs::Tensor::from_vector<std::int64_t>({6}, {0, 1, 2, 0, 1, 2}));
  auto ds = qs::open_dataset("npy:" + dir.file("x.npy") + "," + dir.file("y.npy"),
                             opts({0.5f}, {2.0f}));  // ignored for float inputs
  EXPECT_EQ(ds->size(), 6);
  EXPECT_EQ(ds->sample_shape(), (qs::Shape{2, 3}));
  qs::Batch b = ds->read(2, 3);
  EXPECT_EQ(b.inputs.shape(), (qs::Shape{3, 2, 3}));
  for (int i = 0; i < 18; ++i) EXPECT_FLOAT_EQ(b.inputs.data<float>()[i], values[12 + i]);
  EXPECT_EQ(b.labels, (std::vector<std::int64_t>{2, 0, 1}));
  auto no_labels = qs::open_dataset("npy:" + dir.file("x.npy"), {});
  EXPECT_FALSE(no_labels->has_labels());
}

TEST(DataNpyDataset, ConvertsFloat64AndPreprocessesUint8) {
  TempDir dir;
  Bytes data;
  for (double v : {0.25, 0.5, 0.75, 1.0}) {
    unsigned char raw[8];
    std::memcpy(raw, &v, 8);
    data.insert(data.end(), raw, raw + 8);
  }
  write_bytes(dir.file("f64.npy"),
              raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", data));
  EXPECT_FLOAT_EQ(
      qs::open_dataset("npy:" + dir.file("f64.npy"), {})->read(1, 1).inputs.data<float>()[1], 1.0f);
  // uint8 [N,C,H,W] pixels: per-channel mean/std.
  std::vector<std::uint8_t> px(2 * 2 * 1 * 2);
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<std::uint8_t>(i * 30);
  qs::write_npy(dir.file("u8.npy"), qs::Tensor::from_vector<std::uint8_t>({2, 2, 1, 2}, px));
  auto ds = qs::open_dataset("npy:" + dir.file("u8.npy"), opts({0.1f, 0.2f}, {0.5f, 0.25f}));
  qs::Batch b = ds->read(0, 2);
  for (int i = 0; i < 8; ++i) {
    const int c = (i / 2) % 2;
    EXPECT_FLOAT_EQ(b.inputs.data<float>()[i],
                    (px[i] / 255.0f - (c ? 0.2f : 0.1f)) / (c ? 0.25f : 0.5f));
  }
  qs::write_npy(dir.file("i64.npy"), qs::Tensor(qs::DType::i64, {2, 2}));
  EXPECT_CONTAINS(error_of([&] { qs::open_dataset("npy:" + dir.file("i64.npy"), {}); }),
                  "unsupported input dtype");
}

TEST(DataNpyDataset, LabelErrors) {
  TempDir dir;
  qs::write_npy(dir.file("x.npy"), qs::Tensor(qs::DType::f32, {4, 3}));
  qs::write_npy(dir.file("y3.npy"), qs::Tensor(qs::DType::i64, {3}));
  qs::write_npy(dir.file("yf.npy"), qs::Tensor(qs::DType::f32, {4}));
  qs::write_npy(dir.file("y2d.npy"), qs::Tensor(qs::DType::i32, {2, 2}));
  qs::write_npy(dir.file("ycol.npy"), qs::Tensor(qs::DType::u8, {4, 1}));
  const std::string x = "npy:" + dir.file("x.npy") + ",";
  std::string msg = error_of([&] { qs::open_dataset(x + dir.file("y3.npy"), {}); });
  EXPECT_CONTAINS(msg, "4 samples but 3 labels");
  EXPECT_CONTAINS(msg, dir.file("y3.npy"));
  EXPECT_CONTAINS(error_of([&] { qs::open_dataset(x + dir.file("yf.npy"), {}); }), "integers");
  EXPECT_CONTAINS(error_of([&] { qs::open_dataset(x + dir.file("y2d.npy"), {}); }), "1-D");
  EXPECT_EQ(qs::open_dataset(x + dir.file("ycol.npy"), {})->read(0, 4).labels.size(), 4u);
  EXPECT_CONTAINS(error_of([&] { qs::open_dataset(x + dir.file("missing.npy"), {}); }),
                  dir.file("missing.npy"));
  // Truncated inputs are found at open.
  fs::resize_file(dir.file("x.npy"), fs::file_size(dir.file("x.npy")) - 4);
  EXPECT_CONTAINS(error_of([&] { qs::open_dataset("npy:" + dir.file("x.npy"), {}); }), "truncated");
}

// ---- specs -------------------------------------------------------------------------------

TEST(DataSpec, MalformedSpecsAreErrors) {
  std::string msg = error_of([] { qs::open_dataset("imagenet:val", {}); });
  EXPECT_CONTAINS(msg, "imagenet:val");
  EXPECT_CONTAINS(msg, "unknown scheme 'imagenet'");
  EXPECT_CONTAINS(error_of([] { qs::open_dataset("just-a-path.npy", {}); }), "SCHEME:");
  EXPECT_CONTAINS(error_of([] { qs::open_dataset("npy:", {}); }), "nothing after");
  EXPECT_CONTAINS(error_of([] { qs::open_dataset("fashion-mnist:validation", {}); }), "validation");
  EXPECT_CONTAINS(error_of([] { qs::open_dataset("idx:/nonexistent/images.gz", {}); }),
                  "/nonexistent/images.gz");
}

// ---- preprocessing from the model --------------------------------------------------------

TEST(DataPreprocess, FromModelMetadataAndShape) {
  qs::Graph g;
  qs::ValueInfo in;
  in.name = "x";
  in.dtype = qs::DType::f32;
  in.shape = {-1, 3, 32, -1};
  in.has_shape = true;
  g.inputs.push_back(in);
  qs::Preprocess p = qs::preprocess_from_model(g);
  EXPECT_EQ(p.channels, 3);
  EXPECT_EQ(p.height, 32);
  EXPECT_EQ(p.width, 0);
  EXPECT_EQ(p.mean, (std::vector<float>{0.0f}));
  EXPECT_EQ(p.std, (std::vector<float>{1.0f}));

  g.metadata["quantscope.preprocess"] =
      R"({"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "width": 48})";
  p = qs::preprocess_from_model(g);
  EXPECT_EQ(p.mean.size(), 3u);
  EXPECT_FLOAT_EQ(p.std[2], 0.225f);
  EXPECT_EQ(p.width, 48);
  EXPECT_EQ(p.height, 32);

  g.inputs.clear();
  g.metadata["quantscope.preprocess"] =
      R"({"mean": 0.286, "std": 0.353, "channels": 1, "height": 28, "width": 28})";
  p = qs::preprocess_from_model(g);
  EXPECT_EQ(p.mean, (std::vector<float>{0.286f}));
  EXPECT_EQ(p.channels, 1);
  EXPECT_EQ(p.height, 28);
}

TEST(DataPreprocess, MalformedMetadataNamesTheKey) {
  qs::Graph g;
  auto msg_for = [&](const std::string& json) {
    g.metadata["quantscope.preprocess"] = json;
    return error_of([&] { qs::preprocess_from_model(g); });
  };
  EXPECT_CONTAINS(msg_for("{not json"), "quantscope.preprocess");
  EXPECT_CONTAINS(msg_for("[1, 2]"), "quantscope.preprocess");
  EXPECT_CONTAINS(msg_for(R"({"mean": "zero"})"), "'mean'");
  EXPECT_CONTAINS(msg_for(R"({"std": [1, "x"]})"), "'std'");
  EXPECT_CONTAINS(msg_for(R"({"std": 0})"), "'std'");
  EXPECT_CONTAINS(msg_for(R"({"height": 2.5})"), "'height'");
  EXPECT_CONTAINS(msg_for(R"({"width": -3})"), "'width'");
  EXPECT_CONTAINS(msg_for(R"({"channels": 3, "mean": [1, 2]})"), "'mean'");
}

// ---- Fashion-MNIST (Debian package dataset-fashion-mnist) --------------------------------

TEST(DataFashionMnist, TestSplitMatchesTheRawFile) {
  const std::string images = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
  const std::string labels = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
  if (!fs::exists(images) || !fs::exists(labels))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  auto ds = qs::open_dataset("fashion-mnist:test", opts({0.286f}, {0.353f}));
  EXPECT_EQ(ds->size(), 10000);
  EXPECT_TRUE(ds->has_labels());
  EXPECT_EQ(ds->sample_shape(), (qs::Shape{1, 28, 28}));
  EXPECT_CONTAINS(ds->describe(), "fashion-mnist:test (10000 images 28x28, 10 classes)");

  // Independent read of the raw files with zlib.
  Bytes raw(16 + 10000 * 784), raw_labels(8 + 10000);
  gzFile f = gzopen(images.c_str(), "rb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzread(f, raw.data(), static_cast<unsigned>(raw.size())), static_cast<int>(raw.size()));
  gzclose(f);
  f = gzopen(labels.c_str(), "rb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzread(f, raw_labels.data(), static_cast<unsigned>(raw_labels.size())),
            static_cast<int>(raw_labels.size()));
  gzclose(f);

  std::int64_t checked = 0;
  for (std::int64_t first = 0; first < 10000; first += 2500) {
    qs::Batch b = ds->read(first, 2500);
    ASSERT_EQ(b.labels.size(), 2500u);
    for (std::int64_t i = 0; i < 2500; ++i) {
      ASSERT_GE(b.labels[i], 0);
      ASSERT_LE(b.labels[i], 9);
      EXPECT_EQ(b.labels[i], raw_labels[8 + first + i]);
    }
    // A few pixels of each sample against the raw bytes.
    const float* v = b.inputs.data<float>();
    for (std::int64_t i = 0; i < 2500; i += 97) {
      for (std::int64_t p : {0, 14 * 28 + 10, 400, 783}) {
        const unsigned char px = raw[16 + (first + i) * 784 + p];
        EXPECT_FLOAT_EQ(v[i * 784 + p], (px / 255.0f - 0.286f) / 0.353f);
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 0);
  // A pixel that is not zero, to be sure the comparison means something.
  const unsigned char px = raw[16 + 123 * 784 + 14 * 28 + 14];
  EXPECT_NE(px, 0);
  EXPECT_FLOAT_EQ(ds->read(123, 1).inputs.data<float>()[14 * 28 + 14],
                  (px / 255.0f - 0.286f) / 0.353f);
}
