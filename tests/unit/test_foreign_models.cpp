// Models as other exporters write them (old opsets, weights in Constant nodes), against the
// outputs of an independent evaluator (tests/models/make_foreign_models.py).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "graph/onnx_proto.h"
#include "graph/tensor_proto.h"
#include "model_builder.h"
#include "quantscope/executor.h"

using namespace qs;

namespace {

Tensor read_pb(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  onnx::TensorProto proto;
  if (!proto.ParseFromString(buf.str())) throw Error(path + ": malformed");
  return tensor_from_proto(proto, {"", 1 << 30});
}

class ForeignModel : public ::testing::TestWithParam<const char*> {};

}  // namespace

TEST_P(ForeignModel, MatchesTheIndependentEvaluator) {
  const std::string base = std::string(QS_TEST_MODELS_DIR) + "/" + GetParam();
  Graph g = load_model(base + ".onnx");
  Tensor expected = read_pb(base + ".output.pb");
  Tensor y = test::run_single(g, read_pb(base + ".input.pb"));
  ASSERT_EQ(y.shape(), expected.shape());
  for (std::int64_t i = 0; i < y.numel(); ++i) {
    const float e = expected.data<float>()[i];
    EXPECT_NEAR(y.data<float>()[i], e, 1e-5 + 1e-3 * std::fabs(e)) << "element " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Exporters, ForeignModel,
                         ::testing::Values("opset9_constants", "opset11_resize_convtranspose",
                                           "opset13_mixed"));

TEST(BadModels, WrongInputTypeIsAnError) {
  test::ModelBuilder b(13);
  b.input("x", {1, 1, 4, 4}, /*int64*/ 7).output("y");
  b.initializer("w", {1, 1, 2, 2}, {1, 1, 1, 1});
  b.node("Conv", {"x", "w"}, {"y"}, "conv_int");
  try {
    b.load();
    FAIL() << "a Conv on int64 loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("conv_int"), std::string::npos) << e.what();
  }
}

TEST(BadModels, HugeDeclaredDimensionsAreAnError) {
  test::ModelBuilder b(13);
  b.input("x", {1LL << 40, 1LL << 40}).output("y");
  b.node("Relu", {"x"}, {"y"});
  EXPECT_THROW(b.load(), Error);
}

TEST(BadModels, ConstantOfShapeWithAnAbsurdSizeDoesNotAllocateAtLoad) {
  // Shape inference must not compute a huge tensor just because its inputs are known.
  test::ModelBuilder b(13);
  b.input("x", {1}).output("y");
  b.initializer_i64("shape", {2}, {1LL << 20, 1LL << 20});
  b.node("ConstantOfShape", {"shape"}, {"big"});
  b.node("Add", {"x", "big"}, {"y"});
  LoadOptions no_fold;
  no_fold.fold_constants = false;
  Graph g = b.load(no_fold);
  EXPECT_EQ(g.value_info.at("big").shape(), (Shape{1LL << 20, 1LL << 20}));
}

TEST(BadModels, MissingOpsetAndUnsupportedOpsetAreClear) {
  test::ModelBuilder b(13);
  b.input("x", {1}).output("y");
  b.node("Relu", {"x"}, {"y"});
  b.proto().mutable_opset_import(0)->set_version(99);
  EXPECT_THROW(b.load(), Unsupported);
  b.proto().mutable_opset_import(0)->set_domain("com.example");
  EXPECT_THROW(b.load(), Unsupported);
}
