// Importer: IR conversion, validation, folding, external data, hostile bytes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "model_builder.h"
#include "quantscope/executor.h"

using namespace qs;
using qs::test::ModelBuilder;

namespace {

std::vector<float> iota(std::size_t n, float scale = 0.1f, float offset = -1.0f) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = offset + scale * static_cast<float>(i % 23) - 0.03f * (i % 7);
  return v;
}

ModelBuilder conv_bn_model() {
  ModelBuilder b(13);
  b.input("x", {-1, 2, 5, 5}).output("y");
  b.initializer("w", {3, 2, 3, 3}, iota(54));
  b.initializer("bias", {3}, {0.1f, -0.2f, 0.3f});
  b.initializer("gamma", {3}, {1.5f, 0.5f, -1.0f});
  b.initializer("beta", {3}, {0.0f, 1.0f, -0.5f});
  b.initializer("mean", {3}, {0.2f, -0.1f, 0.05f});
  b.initializer("var", {3}, {1.0f, 0.25f, 2.0f});
  auto& conv = b.node("Conv", {"x", "w", "bias"}, {"c"}, "conv1");
  test::set_attr(conv, "pads", std::vector<std::int64_t>{1, 1, 1, 1});
  b.node("BatchNormalization", {"c", "gamma", "beta", "mean", "var"}, {"bn"}, "bn1");
  b.node("Relu", {"bn"}, {"y"}, "relu1");
  return b;
}

}  // namespace

TEST(Import, FoldsBatchNormIntoConvAndKeepsNames) {
  ModelBuilder b = conv_bn_model();
  Graph folded = b.load();
  LoadOptions no_fold;
  no_fold.fold_batch_norm = false;
  Graph plain = b.load(no_fold);
  ASSERT_EQ(folded.nodes.size(), 2u);
  ASSERT_EQ(plain.nodes.size(), 3u);
  EXPECT_EQ(folded.nodes[0].name, "conv1");
  EXPECT_EQ(folded.nodes[0].folded_from, std::vector<std::string>{"bn1"});
  Tensor x = Tensor::from_vector<float>({2, 2, 5, 5}, iota(100, 0.07f));
  Tensor a = test::run_single(folded, x);
  Tensor r = test::run_single(plain, x);
  ASSERT_EQ(a.shape(), (Shape{2, 3, 5, 5}));
  for (std::int64_t i = 0; i < a.numel(); ++i)
    EXPECT_NEAR(a.data<float>()[i], r.data<float>()[i], 1e-5);
}

TEST(Import, DynamicBatchIsResolvedFromTheInput) {
  Graph g = conv_bn_model().load();
  EXPECT_EQ(g.inputs[0].shape, (Shape{-1, 2, 5, 5}));
  EXPECT_EQ(g.value_info.at("y").shape(), (Shape{1, 3, 5, 5}));
  for (std::int64_t batch : {1, 3, 7}) {
    Tensor y = test::run_single(g, Tensor(DType::f32, {batch, 2, 5, 5}));
    EXPECT_EQ(y.shape(), (Shape{batch, 3, 5, 5}));
  }
}

TEST(Import, WrongInputShapeNamesTheInput) {
  Graph g = conv_bn_model().load();
  try {
    test::run_single(g, Tensor(DType::f32, {1, 3, 5, 5}));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("input 'x'"), std::string::npos) << e.what();
  }
}

TEST(Import, ConstantNodesBecomeInitializersAndShapeChainsFold) {
  ModelBuilder b(13);
  b.input("x", {-1, 4}).output("y");
  auto& k = b.node("Constant", {}, {"two"}, "const2");
  auto* a = k.add_attribute();
  a->set_name("value");
  a->set_type(onnx::AttributeProto::TENSOR);
  a->mutable_t()->set_data_type(1);
  a->mutable_t()->add_float_data(2.0f);
  b.node("Shape", {"x"}, {"s"});
  b.initializer_i64("idx", {}, {0});
  b.node("Gather", {"s", "idx"}, {"n"});
  b.initializer_i64("axes", {1}, {0});
  b.node("Unsqueeze", {"n", "axes"}, {"n1"});
  b.initializer_i64("minus1", {1}, {-1});
  b.node("Concat", {"n1", "minus1"}, {"shape"}).add_attribute()->CopyFrom([] {
    onnx::AttributeProto p;
    p.set_name("axis");
    p.set_type(onnx::AttributeProto::INT);
    p.set_i(0);
    return p;
  }());
  b.node("Reshape", {"x", "shape"}, {"r"});
  b.node("Mul", {"r", "two"}, {"y"});
  Graph g = b.load();
  EXPECT_TRUE(g.initializers.count("two"));
  for (const Node& n : g.nodes) EXPECT_NE(n.op_type, "Constant");
  Tensor y = test::run_single(g, Tensor::from_vector<float>({2, 4}, {1, 2, 3, 4, 5, 6, 7, 8}));
  ASSERT_EQ(y.shape(), (Shape{2, 4}));
  EXPECT_FLOAT_EQ(y.data<float>()[7], 16.0f);
}

TEST(Import, UndefinedInputCycleAndDuplicatesAreClearErrors) {
  {
    ModelBuilder b;
    b.input("x", {1, 2}).output("y");
    b.node("Add", {"x", "ghost"}, {"y"}, "adder");
    try {
      b.load();
      FAIL();
    } catch (const Error& e) {
      std::string m = e.what();
      EXPECT_NE(m.find("adder"), std::string::npos) << m;
      EXPECT_NE(m.find("ghost"), std::string::npos) << m;
    }
  }
  {
    ModelBuilder b;
    b.input("x", {1, 2}).output("y");
    b.node("Add", {"x", "b"}, {"a"}, "n1");
    b.node("Relu", {"a"}, {"b"}, "n2");
    b.node("Relu", {"a"}, {"y"}, "n3");
    EXPECT_THROW(b.load(), Error);
  }
  {
    ModelBuilder b;
    b.input("x", {1, 2}).output("y");
    b.node("Relu", {"x"}, {"y"}, "n1");
    b.node("Relu", {"x"}, {"y"}, "n2");
    EXPECT_THROW(b.load(), Error);
  }
}

TEST(Import, UnsupportedOpNamesNodeAndOp) {
  ModelBuilder b;
  b.input("x", {1, 2}).output("y");
  b.node("Relu", {"x"}, {"r"}, "ok");
  b.node("NonMaxSuppression", {"r"}, {"y"}, "nms_node");
  try {
    b.load();
    FAIL();
  } catch (const Unsupported& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("nms_node"), std::string::npos) << m;
    EXPECT_NE(m.find("NonMaxSuppression"), std::string::npos) << m;
  }
  LoadOptions lenient;
  lenient.require_supported = false;
  Graph g = b.load(lenient);
  ASSERT_EQ(g.problems.size(), 1u);
  EXPECT_TRUE(g.value_info.count("r"));
}

TEST(Import, InitializerSizeMismatchAndHugeShapes) {
  {
    ModelBuilder b;
    b.input("x", {2}).output("y").initializer("w", {3}, {1, 2});
    b.node("Add", {"x", "w"}, {"y"});
    try {
      b.load();
      FAIL();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("'w'"), std::string::npos) << e.what();
    }
  }
  {
    ModelBuilder b;
    b.input("x", {2}).output("y").initializer("w", {1LL << 40, 1LL << 40}, {1});
    b.node("Add", {"x", "w"}, {"y"});
    EXPECT_THROW(b.load(), Error);
  }
  {
    ModelBuilder b;
    b.input("x", {2}).output("y").initializer("w", {-4}, {});
    b.node("Add", {"x", "w"}, {"y"});
    EXPECT_THROW(b.load(), Error);
  }
}

TEST(Import, TruncatedAndBitFlippedBytesNeverCrash) {
  const std::string good = conv_bn_model().bytes();
  std::mt19937 rng(7);
  int errors = 0;
  for (std::size_t cut = 0; cut < good.size(); cut += 7) {
    try {
      load_model_from_bytes(good.substr(0, cut), "", "cut.onnx");
    } catch (const Error&) {
      ++errors;
    }
  }
  EXPECT_GT(errors, 0);
  for (int trial = 0; trial < 300; ++trial) {
    std::string bad = good;
    for (int k = 0; k < 3; ++k) bad[rng() % bad.size()] ^= static_cast<char>(1 << (rng() % 8));
    try {
      Graph g = load_model_from_bytes(bad, "", "flip.onnx");
      test::run_single(g, Tensor(DType::f32, {1, 2, 5, 5}));
    } catch (const Error&) {
    }
  }
}

TEST(Import, MissingFileAndNonModelFile) {
  EXPECT_THROW(load_model("/nonexistent/model.onnx"), Error);
  auto dir = std::filesystem::temp_directory_path() / "qs_import_test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "garbage.onnx") << "this is not a protobuf \xff\xff\xff";
  EXPECT_THROW(load_model((dir / "garbage.onnx").string()), Error);
}

namespace {

// A model whose weight lives in external data at `location`.
std::string external_model(const std::string& location, std::int64_t offset, std::int64_t length) {
  ModelBuilder b;
  b.input("x", {4}).output("y");
  auto* t = b.proto().mutable_graph()->add_initializer();
  t->set_name("w");
  t->set_data_type(1);
  t->add_dims(4);
  t->set_data_location(onnx::TensorProto::EXTERNAL);
  auto add = [&](const char* k, const std::string& v) {
    auto* e = t->add_external_data();
    e->set_key(k);
    e->set_value(v);
  };
  add("location", location);
  add("offset", std::to_string(offset));
  add("length", std::to_string(length));
  b.node("Add", {"x", "w"}, {"y"});
  return b.bytes();
}

}  // namespace

TEST(Import, ExternalDataInsideTheFolderLoads) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / "qs_ext_ok";
  fs::create_directories(dir);
  const float w[4] = {1, 2, 3, 4};
  std::ofstream(dir / "weights.bin", std::ios::binary).write(reinterpret_cast<const char*>(w), 16);
  Graph g = load_model_from_bytes(external_model("weights.bin", 0, 16), dir.string(), "ext.onnx");
  Tensor y = test::run_single(g, Tensor::from_vector<float>({4}, {1, 1, 1, 1}));
  EXPECT_FLOAT_EQ(y.data<float>()[3], 5.0f);
  EXPECT_THROW(load_model_from_bytes(external_model("weights.bin", 8, 16), dir.string(), "e"),
               Error);
  EXPECT_THROW(load_model_from_bytes(external_model("weights.bin", 100, 4), dir.string(), "e"),
               Error);
}

TEST(Import, ExternalDataLeavingTheFolderIsRefused) {
  namespace fs = std::filesystem;
  fs::path root = fs::temp_directory_path() / "qs_ext_escape";
  fs::remove_all(root);
  fs::create_directories(root / "model");
  const float w[4] = {1, 2, 3, 4};
  std::ofstream(root / "secret.bin", std::ios::binary).write(reinterpret_cast<const char*>(w), 16);
  fs::create_symlink(root / "secret.bin", root / "model" / "link.bin");
  fs::create_hard_link(root / "secret.bin", root / "model" / "hard.bin");
  const std::string base = (root / "model").string();
  for (const std::string& location :
       {std::string("../secret.bin"), (root / "secret.bin").string(), std::string("link.bin"),
        std::string("hard.bin"), std::string("missing.bin")}) {
    try {
      load_model_from_bytes(external_model(location, 0, 16), base, "m.onnx");
      FAIL() << location << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("'w'"), std::string::npos) << e.what();
    }
  }
}
