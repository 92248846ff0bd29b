// Data layer: .npy and .npz files, and datasets made of them.
#include "data_test_util.h"

using namespace data_test;

// ---- .npy ------------------------------------------------------------------------------------

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

// ---- .npz ------------------------------------------------------------------------------------

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
  expect_error("cdoff.npz", off, "not a zip archive");
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

// ---- npy datasets ----------------------------------------------------------------------------

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
