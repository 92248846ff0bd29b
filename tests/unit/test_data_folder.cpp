// Data layer: Folders of PNG/JPEG images, one subfolder per class.
#include "data_test_util.h"

using namespace data_test;

// ---- folders of images -----------------------------------------------------------------------

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
