// Data layer: IDX files (plain and gzipped) and Debian's Fashion-MNIST.
#include <chrono>
#include <filesystem>

#include "data_test_util.h"

using namespace data_test;

// ---- IDX -------------------------------------------------------------------------------------

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

// Inflated gzip data is shared between datasets opened on the same file, and a file changed since
// (same size, another time) is read again, not served from memory; so is a file written just now.
TEST(DataIdx, AChangedGzipFileIsReadAgain) {
  TempDir dir;
  const std::string path = dir.file("img.gz");
  auto write = [&](unsigned char value, int seconds_ago) {
    write_bytes(
        path, gzip_bytes(idx_images(2, 2, 2, [=](std::uint32_t, std::uint32_t) { return value; })));
    if (seconds_ago > 0)
      std::filesystem::last_write_time(
          path, std::filesystem::file_time_type::clock::now() - std::chrono::seconds(seconds_ago));
  };
  write(5, 0);
  EXPECT_FLOAT_EQ(qs::open_dataset("idx:" + path, {})->read(0, 1).inputs.data<float>()[0],
                  5 / 255.0f);
  write(7, 0);  // the same size, within the same tick perhaps: read again
  EXPECT_FLOAT_EQ(qs::open_dataset("idx:" + path, {})->read(0, 1).inputs.data<float>()[0],
                  7 / 255.0f);
  write(10, 60);
  auto first = qs::open_dataset("idx:" + path, {});
  EXPECT_FLOAT_EQ(first->read(1, 1).inputs.data<float>()[3], 10 / 255.0f);
  auto again = qs::open_dataset("idx:" + path, {});  // shared: the same bytes
  EXPECT_FLOAT_EQ(again->read(0, 1).inputs.data<float>()[0], 10 / 255.0f);
  write(20, 30);
  auto changed = qs::open_dataset("idx:" + path, {});
  EXPECT_FLOAT_EQ(changed->read(1, 1).inputs.data<float>()[3], 20 / 255.0f);
  EXPECT_FLOAT_EQ(first->read(1, 1).inputs.data<float>()[3], 10 / 255.0f);  // kept its bytes
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

// ---- Fashion-MNIST (Debian package dataset-fashion-mnist) ------------------------------------

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
