// GradientEngine: the backward rule of every op against central finite differences of the loss
// (autograd_test_util.h).
#include <gtest/gtest.h>

#include "autograd_test_util.h"

using namespace qs;
using namespace autograd_test;

// ---------------------------------------------------------------------------------------------
// Conv and ConvTranspose

TEST(AutogradConv, PadsStridesDilationsBias) {
  std::mt19937 rng(1);
  OneOp op("Conv", {"x", "w", "b"});
  set_ints(*op.node, "pads", {1, 0, 2, 1});
  set_ints(*op.node, "strides", {2, 1});
  set_ints(*op.node, "dilations", {1, 2});
  op.t.input("x", {2, 3, 7, 6})
      .weight("w", uniform({4, 3, 3, 2}, rng))
      .weight("b", uniform({4}, rng));
  check_op(op.graph(), {{"x", uniform({2, 3, 7, 6}, rng)}}, {"x", "w", "b"}, 10);
}

TEST(AutogradConv, Groups) {
  std::mt19937 rng(2);
  OneOp op("Conv", {"x", "w", "b"});
  set(*op.node, "group", std::int64_t{2});
  set_ints(*op.node, "pads", {1, 1, 1, 1});
  op.t.input("x", {2, 4, 5, 5})
      .weight("w", uniform({6, 2, 3, 3}, rng))
      .weight("b", uniform({6}, rng));
  check_op(op.graph(), {{"x", uniform({2, 4, 5, 5}, rng)}}, {"x", "w", "b"}, 20);
}

TEST(AutogradConv, DepthwiseSameUpperStride2) {
  std::mt19937 rng(3);
  OneOp op("Conv", {"x", "w"});
  set(*op.node, "group", std::int64_t{3});
  set_ints(*op.node, "strides", {2, 2});
  set(*op.node, "auto_pad", std::string("SAME_UPPER"));
  op.t.input("x", {2, 3, 6, 5}).weight("w", uniform({3, 1, 3, 3}, rng));
  check_op(op.graph(), {{"x", uniform({2, 3, 6, 5}, rng)}}, {"x", "w"}, 30);
}

TEST(AutogradConv, OneDimensionalDilated) {
  std::mt19937 rng(4);
  OneOp op("Conv", {"x", "w", "b"});
  set_ints(*op.node, "dilations", {2});
  set_ints(*op.node, "pads", {2, 1});
  op.t.input("x", {2, 2, 9}).weight("w", uniform({3, 2, 3}, rng)).weight("b", uniform({3}, rng));
  check_op(op.graph(), {{"x", uniform({2, 2, 9}, rng)}}, {"x", "w", "b"}, 40);
}

TEST(AutogradConv, ConvTransposeStridePadsOutputPadding) {
  std::mt19937 rng(5);
  OneOp op("ConvTranspose", {"x", "w", "b"});
  set_ints(*op.node, "strides", {2, 2});
  set_ints(*op.node, "pads", {1, 1, 1, 1});
  set_ints(*op.node, "output_padding", {1, 1});
  op.t.input("x", {2, 4, 3, 3})
      .weight("w", uniform({4, 3, 3, 3}, rng))
      .weight("b", uniform({3}, rng));
  check_op(op.graph(), {{"x", uniform({2, 4, 3, 3}, rng)}}, {"x", "w", "b"}, 50);
}

TEST(AutogradConv, ConvTransposeGroups) {
  std::mt19937 rng(6);
  OneOp op("ConvTranspose", {"x", "w"});
  set(*op.node, "group", std::int64_t{2});
  set_ints(*op.node, "strides", {1, 2});
  set_ints(*op.node, "dilations", {2, 1});
  op.t.input("x", {2, 4, 3, 4}).weight("w", uniform({4, 2, 2, 3}, rng));
  check_op(op.graph(), {{"x", uniform({2, 4, 3, 4}, rng)}}, {"x", "w"}, 60);
}

// ---------------------------------------------------------------------------------------------
// Gemm and MatMul

TEST(AutogradGemm, TransposesAlphaBetaAndBroadcastC) {
  const std::int64_t M = 3, K = 4, N = 5;
  const std::vector<Shape> c_shapes = {{N}, {M, N}, {1}, {M, 1}};
  int variant = 0;
  for (int ta = 0; ta < 2; ++ta) {
    for (int tb = 0; tb < 2; ++tb) {
      const Shape& c_shape = c_shapes[(ta * 2 + tb) % c_shapes.size()];
      SCOPED_TRACE("transA=" + std::to_string(ta) + " transB=" + std::to_string(tb) + " C " +
                   shape_to_string(c_shape));
      std::mt19937 rng(100 + variant);
      OneOp op("Gemm", {"a", "b", "c"});
      set(*op.node, "transA", std::int64_t{ta});
      set(*op.node, "transB", std::int64_t{tb});
      set(*op.node, "alpha", 0.7f);
      set(*op.node, "beta", 1.3f);
      const Shape a_shape = ta ? Shape{K, M} : Shape{M, K};
      const Shape b_shape = tb ? Shape{N, K} : Shape{K, N};
      op.t.input("a", a_shape)
          .weight("b", uniform(b_shape, rng))
          .weight("c", uniform(c_shape, rng));
      check_op(op.graph(), {{"a", uniform(a_shape, rng)}}, {"a", "b", "c"}, 110 + variant);
      ++variant;
    }
  }
}

TEST(AutogradGemm, DefaultsWithoutC) {
  std::mt19937 rng(7);
  OneOp op("Gemm", {"a", "b"});
  op.t.input("a", {3, 4}).weight("b", uniform({4, 6}, rng));
  check_op(op.graph(), {{"a", uniform({3, 4}, rng)}}, {"a", "b"}, 70);
}

TEST(AutogradMatMul, BatchedAndBroadcast) {
  struct Case {
    Shape a, b;
  };
  const std::vector<Case> cases = {
      {{2, 3, 4, 5}, {5, 6}},     // weight shared by all batches
      {{2, 1, 4, 5}, {3, 5, 6}},  // both broadcast
      {{5}, {2, 5, 3}},           // 1-D left operand
      {{2, 4, 5}, {5}},           // 1-D right operand
      {{3, 5}, {2, 5, 4}},        // 2-D against batched
  };
  int i = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(shape_to_string(c.a) + " x " + shape_to_string(c.b));
    std::mt19937 rng(200 + i);
    OneOp op("MatMul", {"a", "b"});
    op.t.input("a", c.a).weight("b", uniform(c.b, rng));
    check_op(op.graph(), {{"a", uniform(c.a, rng)}}, {"a", "b"}, 210 + i);
    ++i;
  }
}

// ---------------------------------------------------------------------------------------------
// Broadcasting elementwise ops

TEST(AutogradBinary, AddSubMulDivWithBroadcasting) {
  struct Case {
    Shape a, b;
  };
  const std::vector<Case> cases = {{{2, 3, 4}, {2, 3, 4}},
                                   {{2, 3, 4}, {3, 1}},
                                   {{2, 3, 4}, {}},
                                   {{3, 1}, {2, 3, 4}},
                                   {{2, 1, 4}, {1, 3, 1}}};
  int seed = 300;
  for (const char* op_name : {"Add", "Sub", "Mul", "Div"}) {
    for (const Case& c : cases) {
      SCOPED_TRACE(std::string(op_name) + " " + shape_to_string(c.a) + " " + shape_to_string(c.b));
      std::mt19937 rng(seed);
      OneOp op(op_name, {"a", "b"});
      // Divisors away from zero.
      Tensor b =
          std::string(op_name) == "Div" ? away_from_zero(c.b, rng, 0.5f, 1.5f) : uniform(c.b, rng);
      op.t.input("a", c.a).weight("b", b);
      check_op(op.graph(), {{"a", uniform(c.a, rng)}}, {"a", "b"}, seed + 1);
      seed += 2;
    }
  }
}

TEST(AutogradBinary, SameTensorOnBothSides) {
  std::mt19937 rng(8);
  OneOp op("Mul", {"x", "x"});
  op.t.input("x", {2, 5});
  check_op(op.graph(), {{"x", uniform({2, 5}, rng)}}, {"x"}, 80);
}

TEST(AutogradBinary, Pow) {
  {
    SCOPED_TRACE("float exponent tensor, both operands");
    std::mt19937 rng(9);
    OneOp op("Pow", {"x", "e"});
    op.t.input("x", {2, 5}).weight("e", uniform({5}, rng, 0.5f, 3.0f));
    check_op(op.graph(), {{"x", uniform({2, 5}, rng, 0.5f, 2.0f)}}, {"x", "e"}, 90);
  }
  {
    SCOPED_TRACE("square of any sign");
    std::mt19937 rng(10);
    OneOp op("Pow", {"x", "e"});
    op.t.input("x", {3, 4}).weight("e", scalar(2.0f));
    check_op(op.graph(), {{"x", uniform({3, 4}, rng)}}, {"x"}, 91);
  }
  {
    SCOPED_TRACE("integer exponent");
    std::mt19937 rng(11);
    OneOp op("Pow", {"x", "e"});
    op.t.input("x", {3, 4});
    op.graph().initializers["e"] = Tensor::from_vector<std::int64_t>({}, {3});
    check_op(op.graph(), {{"x", uniform({3, 4}, rng)}}, {"x"}, 92);
  }
}

TEST(AutogradBinary, WhereAndPRelu) {
  {
    std::mt19937 rng(12);
    OneOp op("Where", {"cond", "a", "b"});
    op.t.input("a", {2, 3, 4}).weight("b", uniform({3, 1}, rng));
    op.graph().initializers["cond"] =
        Tensor::from_vector<bool>({4}, std::vector<bool>{true, false, false, true});
    check_op(op.graph(), {{"a", uniform({2, 3, 4}, rng)}}, {"a", "b"}, 120);
  }
  {
    std::mt19937 rng(13);
    OneOp op("PRelu", {"x", "slope"});
    op.t.input("x", {2, 3, 4}).weight("slope", uniform({3, 1}, rng, 0.1f, 0.5f));
    check_op(op.graph(), {{"x", away_from_zero({2, 3, 4}, rng)}}, {"x", "slope"}, 130);
  }
}

// ---------------------------------------------------------------------------------------------
// Unary math and activations

namespace {

struct UnaryCase {
  std::string op;
  std::int64_t opset = 13;
  std::function<void(Node&)> attrs;
  std::function<Tensor(std::mt19937&)> input;
};

}  // namespace

TEST(AutogradUnary, EveryOp) {
  const Shape shape{3, 6};
  auto any = [&](std::mt19937& r) { return uniform(shape, r, -2.0f, 2.0f); };
  auto positive = [&](std::mt19937& r) { return uniform(shape, r, 0.3f, 3.0f); };
  auto nonzero = [&](std::mt19937& r) { return away_from_zero(shape, r, 0.3f, 2.0f); };
  auto none = [](Node&) {};
  const std::vector<UnaryCase> cases = {
      {"Erf", 13, none, any},
      {"Sqrt", 13, none, positive},
      {"Exp", 13, none, any},
      {"Log", 13, none, positive},
      {"Neg", 13, none, any},
      {"Abs", 13, none, nonzero},
      {"Reciprocal", 13, none, nonzero},
      {"Relu", 13, none, nonzero},
      {"LeakyRelu", 13, [](Node& n) { set(n, "alpha", 0.2f); }, nonzero},
      {"LeakyRelu", 13, none, nonzero},  // default alpha 0.01
      {"Sigmoid", 13, none, any},
      {"Tanh", 13, none, any},
      // Default alpha 0.2, beta 0.5: kinks at -2.5 and 2.5.
      {"HardSigmoid", 13, none,
       [&](std::mt19937& r) {
         return avoid(uniform(shape, r, -4, 4), {-2.5f, 2.5f}, 0.1f);
       }},
      {"HardSigmoid", 13,
       [](Node& n) {
         set(n, "alpha", 0.3f);
         set(n, "beta", 0.4f);
       },
       [&](std::mt19937& r) {
         return avoid(uniform(shape, r, -4, 4), {-4.f / 3, 2.0f}, 0.1f);
       }},
      {"HardSwish", 14, none,
       [&](std::mt19937& r) {
         return avoid(uniform(shape, r, -5, 5), {-3.0f, 3.0f}, 0.1f);
       }},
      {"Gelu", 20, none, any},
      {"Gelu", 20, [](Node& n) { set(n, "approximate", std::string("tanh")); }, any},
      // Attributes before opset 11.
      {"Clip", 6,
       [](Node& n) {
         set(n, "min", -0.5f);
         set(n, "max", 0.7f);
       },
       [&](std::mt19937& r) {
         return avoid(any(r), {-0.5f, 0.7f}, 0.05f);
       }},
  };
  int seed = 400;
  for (const UnaryCase& c : cases) {
    SCOPED_TRACE(c.op + " (opset " + std::to_string(c.opset) + ")");
    std::mt19937 rng(seed);
    OneOp op(c.op, {"x"}, c.opset);
    c.attrs(*op.node);
    op.t.input("x", shape);
    check_op(op.graph(), {{"x", c.input(rng)}}, {"x"}, seed + 1, {.coords = 8});
    seed += 2;
  }
}

TEST(AutogradUnary, ClipWithBoundInputs) {
  const Shape shape{4, 8};
  {
    SCOPED_TRACE("min and max, all differentiated");
    std::mt19937 rng(14);
    OneOp op("Clip", {"x", "lo", "hi"});
    op.t.input("x", shape).weight("lo", scalar(-0.5f)).weight("hi", scalar(0.6f));
    check_op(op.graph(), {{"x", avoid(uniform(shape, rng, -2, 2), {-0.5f, 0.6f}, 0.05f)}},
             {"x", "lo", "hi"}, 140, {.coords = 10});
  }
  {
    SCOPED_TRACE("max only (ReLU6-like with min omitted)");
    std::mt19937 rng(15);
    OneOp op("Clip", {"x", "", "hi"});
    op.t.input("x", shape).weight("hi", scalar(0.6f));
    check_op(op.graph(), {{"x", avoid(uniform(shape, rng, -2, 2), {0.6f}, 0.05f)}}, {"x", "hi"},
             150, {.coords = 10});
  }
}

// ---------------------------------------------------------------------------------------------
// Pools

TEST(AutogradPool, MaxPool) {
  {
    SCOPED_TRACE("pads, strides, ceil_mode");
    std::mt19937 rng(16);
    OneOp op("MaxPool", {"x"});
    set_ints(*op.node, "kernel_shape", {3, 3});
    set_ints(*op.node, "strides", {2, 2});
    set_ints(*op.node, "pads", {1, 1, 1, 1});
    set(*op.node, "ceil_mode", std::int64_t{1});
    op.t.input("x", {2, 2, 6, 7});
    check_op(op.graph(), {{"x", distinct({2, 2, 6, 7}, rng)}}, {"x"}, 160, {.coords = 12});
  }
  {
    SCOPED_TRACE("dilations, 1-D");
    std::mt19937 rng(17);
    OneOp op("MaxPool", {"x"});
    set_ints(*op.node, "kernel_shape", {2});
    set_ints(*op.node, "dilations", {2});
    op.t.input("x", {2, 3, 8});
    check_op(op.graph(), {{"x", distinct({2, 3, 8}, rng)}}, {"x"}, 170, {.coords = 12});
  }
}

TEST(AutogradPool, AveragePool) {
  for (int include_pad = 0; include_pad < 2; ++include_pad) {
    for (int ceil_mode = 0; ceil_mode < 2; ++ceil_mode) {
      SCOPED_TRACE("count_include_pad=" + std::to_string(include_pad) +
                   " ceil_mode=" + std::to_string(ceil_mode));
      std::mt19937 rng(18 + include_pad * 2 + ceil_mode);
      OneOp op("AveragePool", {"x"});
      set_ints(*op.node, "kernel_shape", {3, 2});
      set_ints(*op.node, "strides", {2, 2});
      set_ints(*op.node, "pads", {1, 0, 1, 1});
      set(*op.node, "count_include_pad", std::int64_t{include_pad});
      set(*op.node, "ceil_mode", std::int64_t{ceil_mode});
      op.t.input("x", {2, 2, 6, 7});
      check_op(op.graph(), {{"x", uniform({2, 2, 6, 7}, rng)}}, {"x"},
               180 + include_pad * 2 + ceil_mode, {.coords = 12});
    }
  }
  {
    SCOPED_TRACE("auto_pad SAME_LOWER");
    std::mt19937 rng(25);
    OneOp op("AveragePool", {"x"});
    set_ints(*op.node, "kernel_shape", {2, 2});
    set_ints(*op.node, "strides", {2, 2});
    set(*op.node, "auto_pad", std::string("SAME_LOWER"));
    op.t.input("x", {1, 2, 5, 5});
    check_op(op.graph(), {{"x", uniform({1, 2, 5, 5}, rng)}}, {"x"}, 190, {.coords = 12});
  }
}

TEST(AutogradPool, GlobalPools) {
  {
    std::mt19937 rng(26);
    OneOp op("GlobalAveragePool", {"x"});
    op.t.input("x", {2, 3, 4, 5});
    check_op(op.graph(), {{"x", uniform({2, 3, 4, 5}, rng)}}, {"x"}, 260);
  }
  {
    std::mt19937 rng(27);
    OneOp op("GlobalMaxPool", {"x"});
    op.t.input("x", {2, 3, 4, 5});
    check_op(op.graph(), {{"x", distinct({2, 3, 4, 5}, rng)}}, {"x"}, 270,
             {.coords = 20, .prefer_large = true});
  }
}

// ---------------------------------------------------------------------------------------------
// Softmax, normalizations, reductions

TEST(AutogradNormalization, Softmax) {
  struct Case {
    std::string op;
    std::int64_t opset;
    std::int64_t axis;  // 99: default
  };
  const std::vector<Case> cases = {{"Softmax", 13, 99},   {"Softmax", 13, 1},
                                   {"Softmax", 11, 99},   {"Softmax", 11, 2},
                                   {"LogSoftmax", 13, 1}, {"LogSoftmax", 11, 99}};
  int seed = 500;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.op + " opset " + std::to_string(c.opset) + " axis " + std::to_string(c.axis));
    std::mt19937 rng(seed);
    // Softmax -> Mul by a weight, so the loss's own softmax does not absorb shifts.
    TestGraph t(c.opset);
    Node& n = t.node(c.op, {"x"}, {"s"});
    if (c.axis != 99) set(n, "axis", c.axis);
    t.node("Mul", {"s", "w"}, {"y"});
    set(t.node("Flatten", {"y"}, {"out"}), "axis", std::int64_t{1});
    t.input("x", {2, 3, 4}).weight("w", uniform({2, 3, 4}, rng, -3, 3)).output("out");
    check_op(t.graph(), {{"x", uniform({2, 3, 4}, rng, -2, 2)}}, {"x", "w"}, seed + 1);
    seed += 2;
  }
}

TEST(AutogradNormalization, LayerNormalization) {
  {
    SCOPED_TRACE("last axis, scale and bias");
    std::mt19937 rng(28);
    OneOp op("LayerNormalization", {"x", "scale", "bias"}, 17);
    set(*op.node, "epsilon", 1e-3f);
    op.t.input("x", {2, 3, 8}).weight("scale", uniform({8}, rng)).weight("bias", uniform({8}, rng));
    check_op(op.graph(), {{"x", uniform({2, 3, 8}, rng)}}, {"x", "scale", "bias"}, 280);
  }
  {
    SCOPED_TRACE("axis -2, scale broadcast over the normalized block, no bias");
    std::mt19937 rng(29);
    OneOp op("LayerNormalization", {"x", "scale"}, 17);
    set(*op.node, "axis", std::int64_t{-2});
    op.t.input("x", {2, 3, 4}).weight("scale", uniform({1, 4}, rng));
    check_op(op.graph(), {{"x", uniform({2, 3, 4}, rng)}}, {"x", "scale"}, 290);
  }
}

TEST(AutogradNormalization, RMSNormalization) {
  for (const std::int64_t axis : {std::int64_t{-1}, std::int64_t{1}}) {
    SCOPED_TRACE("axis " + std::to_string(axis));
    std::mt19937 rng(static_cast<unsigned>(32 + axis));
    OneOp op("RMSNormalization", {"x", "scale"}, 17);
    set(*op.node, "axis", axis);
    set(*op.node, "epsilon", 1e-3f);
    const Shape scale = axis == -1 ? Shape{8} : Shape{3, 8};
    op.t.input("x", {2, 3, 8}).weight("scale", uniform(scale, rng));
    check_op(op.graph(), {{"x", uniform({2, 3, 8}, rng)}}, {"x", "scale"}, 295);
  }
}

// LayerNormalization as opset-13 exporters write it, against the fused op's gradients.
TEST(AutogradNormalization, LayerNormDecompositionMatchesFusedOp) {
  std::mt19937 rng(30);
  const Shape shape{2, 3, 8};
  const Tensor scale = uniform({8}, rng), bias = uniform({8}, rng);
  TestGraph d(13);
  set_ints(d.node("ReduceMean", {"x"}, {"mean"}), "axes", {-1});
  d.node("Sub", {"x", "mean"}, {"centered"});
  d.node("Pow", {"centered", "two"}, {"sq"});
  set_ints(d.node("ReduceMean", {"sq"}, {"var"}), "axes", {-1});
  d.node("Add", {"var", "eps"}, {"var_eps"});
  d.node("Sqrt", {"var_eps"}, {"std"});
  d.node("Div", {"centered", "std"}, {"norm"});
  d.node("Mul", {"norm", "scale"}, {"scaled"});
  d.node("Add", {"scaled", "bias"}, {"y"});
  set(d.node("Flatten", {"y"}, {"out"}), "axis", std::int64_t{1});
  d.input("x", shape).weight("two", scalar(2.0f)).weight("eps", scalar(1e-5f));
  d.weight("scale", scale).weight("bias", bias).output("out");
  const TensorMap inputs{{"x", uniform(shape, rng)}};
  const Loss loss = kl_loss(d.graph(), inputs, rng);
  expect_gradients_match(d.graph(), inputs, loss, {"x", "scale", "bias"}, 300);

  OneOp fused("LayerNormalization", {"x", "scale", "bias"}, 17);
  fused.t.input("x", shape).weight("scale", scale).weight("bias", bias);
  const Gradients a = GradientEngine(d.graph()).run(inputs, loss, {"x", "scale", "bias"});
  const Gradients b = GradientEngine(fused.graph()).run(inputs, loss, {"x", "scale", "bias"});
  EXPECT_NEAR(a.loss, b.loss, 1e-5);
  for (const char* name : {"x", "scale", "bias"}) {
    const std::vector<float> ga = a.wrt.at(name).to_f32(), gb = b.wrt.at(name).to_f32();
    for (std::size_t i = 0; i < ga.size(); ++i) EXPECT_NEAR(ga[i], gb[i], 1e-4) << name << i;
  }
}

TEST(AutogradNormalization, BatchNormalizationInference) {
  std::mt19937 rng(31);
  OneOp op("BatchNormalization", {"x", "scale", "bias", "mean", "var"}, 15);
  op.t.input("x", {2, 3, 4, 4})
      .weight("scale", uniform({3}, rng))
      .weight("bias", uniform({3}, rng))
      .weight("mean", uniform({3}, rng))
      .weight("var", uniform({3}, rng, 0.5f, 2.0f));
  check_op(op.graph(), {{"x", uniform({2, 3, 4, 4}, rng)}}, {"x", "scale", "bias", "mean", "var"},
           310);
}

TEST(AutogradNormalization, Reductions) {
  {
    SCOPED_TRACE("ReduceMean, axes attribute, keepdims 0");
    std::mt19937 rng(32);
    OneOp op("ReduceMean", {"x"}, 13);
    set_ints(*op.node, "axes", {1});
    set(*op.node, "keepdims", std::int64_t{0});
    op.t.input("x", {2, 3, 4});
    check_op(op.graph(), {{"x", uniform({2, 3, 4}, rng)}}, {"x"}, 320);
  }
  {
    SCOPED_TRACE("ReduceMean, axes input (opset 18), two axes");
    std::mt19937 rng(33);
    OneOp op("ReduceMean", {"x", "axes"}, 18);
    op.t.input("x", {2, 3, 4, 5}).ints("axes", {-1, 1});
    check_op(op.graph(), {{"x", uniform({2, 3, 4, 5}, rng)}}, {"x"}, 330);
  }
  {
    SCOPED_TRACE("ReduceSum, axes input (opset 13), keepdims 1");
    std::mt19937 rng(34);
    OneOp op("ReduceSum", {"x", "axes"}, 13);
    op.t.input("x", {2, 3, 4}).ints("axes", {2});
    check_op(op.graph(), {{"x", uniform({2, 3, 4}, rng)}}, {"x"}, 340);
  }
}

// ---------------------------------------------------------------------------------------------
// Ops that move elements

TEST(AutogradMovement, ReshapeFlattenSqueezeUnsqueezeIdentity) {
  std::mt19937 rng(35);
  TestGraph t(13);
  t.node("Mul", {"x", "w"}, {"a"});
  t.node("Reshape", {"a", "shape"}, {"b"});                       // [2,3,4] -> [6,4]
  t.node("Unsqueeze", {"b", "axes"}, {"c"});                      // [6,1,4]
  t.node("Squeeze", {"c", "axes"}, {"d"});                        // [6,4]
  set(t.node("Flatten", {"d"}, {"e"}), "axis", std::int64_t{0});  // [1,24]
  t.node("Identity", {"e"}, {"f"});
  t.node("Dropout", {"f"}, {"out"});
  t.input("x", {2, 3, 4})
      .weight("w", uniform({3, 4}, rng))
      .ints("shape", {-1, 4})
      .ints("axes", {1});
  t.output("out");
  check_op(t.graph(), {{"x", uniform({2, 3, 4}, rng)}}, {"x", "w"}, 350);
}

TEST(AutogradMovement, Transpose) {
  {
    std::mt19937 rng(36);
    OneOp op("Transpose", {"x"});
    set_ints(*op.node, "perm", {2, 0, 1});
    op.t.input("x", {2, 3, 4});
    check_op(op.graph(), {{"x", uniform({2, 3, 4}, rng)}}, {"x"}, 360);
  }
  {
    SCOPED_TRACE("default perm (reverse)");
    std::mt19937 rng(37);
    OneOp op("Transpose", {"x"});
    op.t.input("x", {2, 3, 4});
    check_op(op.graph(), {{"x", uniform({2, 3, 4}, rng)}}, {"x"}, 370);
  }
}

TEST(AutogradMovement, ConcatAndSplit) {
  {
    std::mt19937 rng(38);
    OneOp op("Concat", {"a", "w", "a"});
    set(*op.node, "axis", std::int64_t{-2});
    op.t.input("a", {2, 1, 3}).weight("w", uniform({2, 2, 3}, rng));
    check_op(op.graph(), {{"a", uniform({2, 1, 3}, rng)}}, {"a", "w"}, 380);
  }
  {
    SCOPED_TRACE("Split with one output unused, the other reordered");
    std::mt19937 rng(39);
    TestGraph t(13);
    Node& s = t.node("Split", {"x", "sizes"}, {"p", "q", "r"});
    set(s, "axis", std::int64_t{1});
    t.node("Concat", {"r", "p"}, {"y"});
    set(t.graph().nodes.back(), "axis", std::int64_t{1});
    set(t.node("Flatten", {"y"}, {"out"}), "axis", std::int64_t{1});
    t.input("x", {2, 6, 2}).ints("sizes", {1, 2, 3}).output("out");
    const TensorMap inputs{{"x", uniform({2, 6, 2}, rng)}};
    check_op(t.graph(), inputs, {"x"}, 390, {.coords = 24});
    // The columns that went to the unused output get no gradient.
    const Loss loss = kl_loss(t.graph(), inputs, rng);
    const Tensor g = GradientEngine(t.graph()).run(inputs, loss, {"x"}).wrt.at("x");
    for (std::int64_t n = 0; n < 2; ++n)
      for (std::int64_t k = 1; k < 3; ++k)
        for (std::int64_t j = 0; j < 2; ++j) EXPECT_EQ(g.data<float>()[(n * 6 + k) * 2 + j], 0.0f);
  }
}

TEST(AutogradMovement, SliceWithNegativeStepsAndClampedBounds) {
  std::mt19937 rng(40);
  OneOp op("Slice", {"x", "starts", "ends", "axes", "steps"});
  op.t.input("x", {2, 5, 6})
      .ints("starts", {1, -1})
      .ints("ends", {4, std::numeric_limits<std::int64_t>::min()})
      .ints("axes", {1, 2})
      .ints("steps", {2, -2});
  check_op(op.graph(), {{"x", uniform({2, 5, 6}, rng)}}, {"x"}, 400, {.coords = 20});
}

TEST(AutogradMovement, GatherWithRepeatedAndNegativeIndices) {
  {
    SCOPED_TRACE("embedding lookup of a weight");
    std::mt19937 rng(41);
    TestGraph t(13);
    t.node("Gather", {"table", "ids"}, {"emb"});
    t.node("Mul", {"emb", "x"}, {"y"});
    set(t.node("Flatten", {"y"}, {"out"}), "axis", std::int64_t{1});
    t.input("x", {2, 2, 3}).weight("table", uniform({4, 3}, rng)).output("out");
    t.graph().initializers["ids"] = Tensor::from_vector<std::int64_t>({2, 2}, {0, 2, 2, -1});
    check_op(t.graph(), {{"x", uniform({2, 2, 3}, rng)}}, {"x", "table"}, 410, {.coords = 12});
  }
  {
    SCOPED_TRACE("axis 1 of an input");
    std::mt19937 rng(42);
    OneOp op("Gather", {"x", "ids"});
    set(*op.node, "axis", std::int64_t{1});
    op.t.input("x", {2, 4, 3});
    op.graph().initializers["ids"] = Tensor::from_vector<std::int64_t>({3}, {3, 0, 3});
    check_op(op.graph(), {{"x", uniform({2, 4, 3}, rng)}}, {"x"}, 420, {.coords = 24});
  }
}

TEST(AutogradMovement, ExpandAndPad) {
  {
    std::mt19937 rng(43);
    OneOp op("Expand", {"x", "shape"});
    op.t.input("x", {3, 1}).ints("shape", {2, 3, 4});
    check_op(op.graph(), {{"x", uniform({3, 1}, rng)}}, {"x"}, 430);
  }
  for (const char* mode : {"constant", "reflect", "edge"}) {
    SCOPED_TRACE(std::string("Pad mode ") + mode);
    std::mt19937 rng(44);
    OneOp op("Pad", {"x", "pads", "value"});
    set(*op.node, "mode", std::string(mode));
    op.t.input("x", {2, 3, 4}).ints("pads", {0, 1, 2, 0, 2, -1}).weight("value", scalar(0.5f));
    check_op(op.graph(), {{"x", uniform({2, 3, 4}, rng)}}, {"x"}, 440, {.coords = 24});
  }
}

// ---------------------------------------------------------------------------------------------
// FakeQuant: the straight-through estimator (finite differences see a staircase, so the
// gradient is checked against the gradient without the FakeQuant, masked to the grid's range).

TEST(AutogradFakeQuant, StraightThroughInsideTheGridRange) {
  std::mt19937 rng(45);
  const Shape shape{3, 8};
  auto build = [&](bool with_fq) {
    TestGraph t(13);
    Node& n = t.node(with_fq ? "FakeQuant" : "Identity", {"x"}, {"q"});
    if (with_fq) {
      n.domain = kQuantscopeDomain;
      set(n, "scale", 0.05f);
      set(n, "zero_point", std::int64_t{3});
      set(n, "qmin", std::int64_t{-8});
      set(n, "qmax", std::int64_t{7});
    }
    t.node("Mul", {"q", "w"}, {"out"});
    t.input("x", shape).output("out");
    return t;
  };
  const Tensor w = uniform(shape, rng);
  TestGraph fq = build(true), plain = build(false);
  fq.weight("w", w);
  plain.weight("w", w);
  // Range [(-8 - 3) * 0.05, (7 - 3) * 0.05] = [-0.55, 0.2]; inputs on both sides of it.
  const Tensor x = avoid(uniform(shape, rng, -1.0f, 1.0f), {-0.55f, 0.2f}, 0.02f);
  const TensorMap inputs{{"x", x}};
  Loss loss;
  loss.kind = Loss::kl_to_target;
  loss.target_logits = uniform(shape, rng);
  const Gradients a = GradientEngine(fq.graph()).run(inputs, loss, {"x", "w"});
  // The plain graph evaluated at the quantized values has the same output, hence the same
  // gradient at q.
  ReferenceExecutor ex(fq.graph());
  ex.keep({"q"});
  const Tensor xq = ex.run(inputs).at("q");
  const Gradients b = GradientEngine(plain.graph()).run({{"x", xq}}, loss, {"x", "w"});
  int inside = 0, outside = 0;
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    const float v = x.data<float>()[i];
    const bool in_range = v >= -0.55f && v <= 0.2f;
    (in_range ? inside : outside)++;
    EXPECT_NEAR(a.wrt.at("x").data<float>()[i], in_range ? b.wrt.at("x").data<float>()[i] : 0.0f,
                1e-4)
        << i;
  }
  EXPECT_GT(inside, 0);
  EXPECT_GT(outside, 0);
  // The weight's gradient is the ordinary one at the quantized activations.
  const Tensor gw = GradientEngine(fq.graph()).run(inputs, loss, {"w"}).wrt.at("w");
  for (std::int64_t i = 0; i < gw.numel(); ++i)
    EXPECT_NEAR(gw.data<float>()[i], b.wrt.at("w").data<float>()[i], 1e-4);
  expect_gradients_match(fq.graph(), inputs, loss, {"w"}, 450);
}
