// Reference kernels against values worked out by hand (the ONNX node tests, run by the
// conformance suite, cover the rest against ONNX's own reference outputs).
#include <gtest/gtest.h>

#include <cmath>

#include "runtime/graph_runner.h"

using namespace qs;

namespace {

Node make_node(const std::string& op, int inputs) {
  Node n;
  n.name = "n";
  n.op_type = op;
  for (int i = 0; i < inputs; ++i) n.inputs.push_back("in" + std::to_string(i));
  n.outputs = {"out"};
  return n;
}

Tensor run(const Node& n, const std::vector<Tensor>& inputs, std::int64_t opset = 13) {
  std::vector<const Tensor*> ptrs;
  for (const Tensor& t : inputs) ptrs.push_back(t.defined() ? &t : nullptr);
  return run_node(n, opset, ptrs, RunMode::execute).at(0);
}

std::vector<float> values(const Tensor& t) {
  return t.to_f32();
}

Tensor f32(Shape shape, std::vector<float> v) {
  return Tensor::from_vector<float>(std::move(shape), v);
}

}  // namespace

TEST(Kernels, ConvWithPaddingStrideAndDilation) {
  // 1x1x4x4 input 0..15, 2x2 kernel of ones, dilation 2, stride 1, no pad: each output sums
  // x[i][j] + x[i][j+2] + x[i+2][j] + x[i+2][j+2].
  std::vector<float> x(16);
  for (int i = 0; i < 16; ++i) x[i] = float(i);
  Node n = make_node("Conv", 2);
  n.attributes["dilations"].value = std::vector<std::int64_t>{2, 2};
  Tensor y = run(n, {f32({1, 1, 4, 4}, x), f32({1, 1, 2, 2}, {1, 1, 1, 1})});
  ASSERT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(values(y),
            (std::vector<float>{0 + 2 + 8 + 10, 1 + 3 + 9 + 11, 4 + 6 + 12 + 14, 5 + 7 + 13 + 15}));

  // Same input, 3x3 ones, pads 1, stride 2: windows centred on (0,0), (0,2), (2,0), (2,2).
  Node m = make_node("Conv", 3);
  m.attributes["pads"].value = std::vector<std::int64_t>{1, 1, 1, 1};
  m.attributes["strides"].value = std::vector<std::int64_t>{2, 2};
  Tensor z =
      run(m, {f32({1, 1, 4, 4}, x), f32({1, 1, 3, 3}, std::vector<float>(9, 1)), f32({1}, {0.5f})});
  ASSERT_EQ(z.shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(values(z), (std::vector<float>{0 + 1 + 4 + 5 + 0.5f, 1 + 2 + 3 + 5 + 6 + 7 + 0.5f,
                                           4 + 5 + 8 + 9 + 12 + 13 + 0.5f,
                                           5 + 6 + 7 + 9 + 10 + 11 + 13 + 14 + 15 + 0.5f}));
}

TEST(Kernels, DepthwiseConvKeepsChannelsApart) {
  Node n = make_node("Conv", 2);
  n.attributes["group"].value = std::int64_t{2};
  Tensor x = f32({1, 2, 2, 2}, {1, 2, 3, 4, 10, 20, 30, 40});
  Tensor w = f32({2, 1, 1, 1}, {2, -1});
  EXPECT_EQ(values(run(n, {x, w})), (std::vector<float>{2, 4, 6, 8, -10, -20, -30, -40}));
}

TEST(Kernels, ConvAutoPadSameUpperAndLower) {
  // 1-D: input [1,2,3], kernel [1,1], SAME_UPPER pads at the end, SAME_LOWER at the start.
  Node upper = make_node("Conv", 2);
  upper.attributes["auto_pad"].value = std::string("SAME_UPPER");
  Node lower = upper;
  lower.attributes["auto_pad"].value = std::string("SAME_LOWER");
  Tensor x = f32({1, 1, 3}, {1, 2, 3}), w = f32({1, 1, 2}, {1, 1});
  EXPECT_EQ(values(run(upper, {x, w})), (std::vector<float>{3, 5, 3}));
  EXPECT_EQ(values(run(lower, {x, w})), (std::vector<float>{1, 3, 5}));
}

TEST(Kernels, ConvTransposeStrideTwo) {
  // x = [1, 2], w = [1, 10, 100], stride 2: out[2i + k] += x[i] * w[k].
  Node n = make_node("ConvTranspose", 2);
  n.attributes["strides"].value = std::vector<std::int64_t>{2};
  Tensor y = run(n, {f32({1, 1, 2}, {1, 2}), f32({1, 1, 3}, {1, 10, 100})});
  EXPECT_EQ(values(y), (std::vector<float>{1, 10, 100 + 2, 20, 200}));
  n.attributes["pads"].value = std::vector<std::int64_t>{1, 1};
  n.attributes["output_padding"].value = std::vector<std::int64_t>{1};
  EXPECT_EQ(values(run(n, {f32({1, 1, 2}, {1, 2}), f32({1, 1, 3}, {1, 10, 100})})),
            (std::vector<float>{10, 102, 20, 200}));
}

TEST(Kernels, GemmTransposesAlphaBetaAndBroadcastC) {
  Node n = make_node("Gemm", 3);
  n.attributes["transA"].value = std::int64_t{1};
  n.attributes["transB"].value = std::int64_t{1};
  n.attributes["alpha"].value = 2.0f;
  n.attributes["beta"].value = 0.5f;
  // A^T = [[1,2],[3,4]] (A stored transposed), B^T = I, C = [10, 20] per column.
  Tensor a = f32({2, 2}, {1, 3, 2, 4}), b = f32({2, 2}, {1, 0, 0, 1}), c = f32({2}, {10, 20});
  EXPECT_EQ(values(run(n, {a, b, c})), (std::vector<float>{2 + 5, 4 + 10, 6 + 5, 8 + 10}));
}

TEST(Kernels, MatMulBroadcastsBatchesAndPromotesVectors) {
  Node n = make_node("MatMul", 2);
  Tensor a = f32({2, 1, 2}, {1, 2, 3, 4});  // two 1x2 matrices
  Tensor b = f32({2, 1}, {10, 100});        // one 2x1 matrix, broadcast over the batch
  Tensor y = run(n, {a, b});
  EXPECT_EQ(y.shape(), (Shape{2, 1, 1}));
  EXPECT_EQ(values(y), (std::vector<float>{210, 430}));
  Tensor v = run(n, {f32({2}, {1, 2}), f32({2, 3}, {1, 2, 3, 4, 5, 6})});
  EXPECT_EQ(v.shape(), (Shape{3}));
  EXPECT_EQ(values(v), (std::vector<float>{9, 12, 15}));
}

TEST(Kernels, SoftmaxAxisSemanticsChangeAtOpset13) {
  // [1,2,2]: opset 13 normalizes over the last axis only; opset 11 with axis=1 flattens the
  // trailing dims [2,2] into one row of 4.
  Tensor x = f32({1, 2, 2}, {0, 0, 0, std::log(3.0f)});
  Node n = make_node("Softmax", 1);
  std::vector<float> v13 = values(run(n, {x}, 13));
  EXPECT_NEAR(v13[0], 0.5f, 1e-6);
  EXPECT_NEAR(v13[3], 0.75f, 1e-6);
  n.attributes["axis"].value = std::int64_t{1};
  std::vector<float> v11 = values(run(n, {x}, 11));
  EXPECT_NEAR(v11[0], 1.0f / 6.0f, 1e-6);
  EXPECT_NEAR(v11[3], 3.0f / 6.0f, 1e-6);
}

TEST(Kernels, ClipBoundsAreAttributesBeforeOpset11) {
  Tensor x = f32({4}, {-2, 0.5f, 3, 7});
  Node old = make_node("Clip", 1);
  old.attributes["min"].value = 0.0f;
  old.attributes["max"].value = 6.0f;
  EXPECT_EQ(values(run(old, {x}, 9)), (std::vector<float>{0, 0.5f, 3, 6}));
  Node now = make_node("Clip", 3);
  EXPECT_EQ(values(run(now, {x, Tensor::scalar_f32(0), Tensor::scalar_f32(6)}, 13)),
            (std::vector<float>{0, 0.5f, 3, 6}));
  EXPECT_EQ(values(run(now, {x, Tensor(), Tensor::scalar_f32(1)}, 13)),
            (std::vector<float>{-2, 0.5f, 1, 1}));
}

TEST(Kernels, LayerNormalizationNormalizesTrailingAxes) {
  Node n = make_node("LayerNormalization", 3);
  n.attributes["epsilon"].value = 0.0f;
  Tensor x = f32({2, 2}, {1, 3, 10, 10});
  Tensor y = run(n, {x, f32({2}, {2, 1}), f32({2}, {0, 5})});
  std::vector<float> v = values(y);
  EXPECT_NEAR(v[0], -2.0f, 1e-6);                                     // (1 - 2) / 1 * 2
  EXPECT_NEAR(v[1], 6.0f, 1e-6);                                      // (3 - 2) / 1 * 1 + 5
  EXPECT_TRUE(std::isnan(v[2]) || std::isinf(v[2]) || v[2] == 0.0f);  // zero variance, eps 0
}

TEST(Kernels, HardSwishGeluAndHardSigmoid) {
  Tensor x = f32({3}, {-4, 1, 4});
  EXPECT_EQ(values(run(make_node("HardSwish", 1), {x})),
            (std::vector<float>{0, 1.0f * (1.0f / 6 + 0.5f), 4}));
  std::vector<float> g = values(run(make_node("Gelu", 1), {x}, 20));
  EXPECT_NEAR(g[1], 0.5f * (1 + std::erf(1 / std::sqrt(2.0f))), 1e-6);
  std::vector<float> h = values(run(make_node("HardSigmoid", 1), {x}));
  EXPECT_EQ(h, (std::vector<float>{0, 0.7f, 1}));
}

TEST(Kernels, BroadcastingArithmetic) {
  Tensor a = f32({2, 1}, {1, 2});
  Tensor b = f32({3}, {10, 20, 30});
  Tensor y = run(make_node("Add", 2), {a, b});
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(values(y), (std::vector<float>{11, 21, 31, 12, 22, 32}));
  EXPECT_THROW(run(make_node("Add", 2), {f32({2}, {1, 2}), b}), Error);
}

TEST(Kernels, IntegerDivisionByZeroIsAnError) {
  Tensor a = Tensor::from_vector<std::int64_t>({2}, {4, 5});
  Tensor b = Tensor::from_vector<std::int64_t>({2}, {2, 0});
  EXPECT_THROW(run(make_node("Div", 2), {a, b}), Error);
}

TEST(Kernels, MaxPoolCeilModeAndAveragePoolPadding) {
  std::vector<float> x(9);
  for (int i = 0; i < 9; ++i) x[i] = float(i);
  Node mp = make_node("MaxPool", 1);
  mp.attributes["kernel_shape"].value = std::vector<std::int64_t>{2, 2};
  mp.attributes["strides"].value = std::vector<std::int64_t>{2, 2};
  mp.attributes["ceil_mode"].value = std::int64_t{1};
  Tensor y = run(mp, {f32({1, 1, 3, 3}, x)});
  EXPECT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(values(y), (std::vector<float>{4, 5, 7, 8}));
  Node ap = make_node("AveragePool", 1);
  ap.attributes["kernel_shape"].value = std::vector<std::int64_t>{3, 3};
  ap.attributes["pads"].value = std::vector<std::int64_t>{1, 1, 1, 1};
  Tensor z = run(ap, {f32({1, 1, 3, 3}, x)});
  EXPECT_NEAR(values(z)[0], (0 + 1 + 3 + 4) / 4.0f, 1e-6);  // count_include_pad = 0
  ap.attributes["count_include_pad"].value = std::int64_t{1};
  EXPECT_NEAR(values(run(ap, {f32({1, 1, 3, 3}, x)}))[0], (0 + 1 + 3 + 4) / 9.0f, 1e-6);
}

TEST(Kernels, BadAttributesAreErrorsNotCrashes) {
  Node n = make_node("Conv", 2);
  n.attributes["strides"].value = std::vector<std::int64_t>{0, 1};
  EXPECT_THROW(run(n, {f32({1, 1, 3, 3}, std::vector<float>(9)), f32({1, 1, 2, 2}, {1, 1, 1, 1})}),
               Error);
  Node g = make_node("Gather", 2);
  EXPECT_THROW(run(g, {f32({3}, {1, 2, 3}), Tensor::from_vector<std::int64_t>({1}, {7})}), Error);
  Node r = make_node("Reshape", 2);
  EXPECT_THROW(run(r, {f32({4}, {1, 2, 3, 4}), Tensor::from_vector<std::int64_t>({2}, {-1, -1})}),
               Error);
  EXPECT_THROW(run(r, {f32({4}, {1, 2, 3, 4}), Tensor::from_vector<std::int64_t>({1}, {5})}),
               Error);
}
