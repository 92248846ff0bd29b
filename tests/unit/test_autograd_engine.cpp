// GradientEngine: the losses, the engine's handling of graphs (unsupported ops, nodes off the
// path, names, overrides) and whole networks against finite differences (autograd_test_util.h).
#include <gtest/gtest.h>

#include "autograd_test_util.h"

using namespace qs;
using namespace autograd_test;

// ---------------------------------------------------------------------------------------------
// The losses

TEST(AutogradLoss, CrossEntropyValueAndGradient) {
  std::mt19937 rng(46);
  TestGraph t(13);
  t.node("Identity", {"x"}, {"out"});
  t.input("x", {4, 5}).output("out");
  const Tensor z = uniform({4, 5}, rng, -3, 3);
  const Loss loss = ce_loss(4, 5, rng);
  const Gradients g = GradientEngine(t.graph()).run({{"x", z}}, loss, {"x"});
  EXPECT_NEAR(g.loss, reference_loss(z, loss), 1e-9);
  // d/dz = (softmax(z) - onehot(label)) / N.
  for (std::int64_t r = 0; r < 4; ++r) {
    double s = 0;
    for (std::int64_t k = 0; k < 5; ++k) s += std::exp(double(z.data<float>()[r * 5 + k]));
    for (std::int64_t k = 0; k < 5; ++k) {
      const double p = std::exp(double(z.data<float>()[r * 5 + k])) / s;
      EXPECT_NEAR(g.wrt.at("x").data<float>()[r * 5 + k],
                  (p - (k == loss.labels[r] ? 1.0 : 0.0)) / 4, 1e-6);
    }
  }
  expect_gradients_match(t.graph(), {{"x", z}}, loss, {"x"}, 460, {.coords = 20});
}

TEST(AutogradLoss, KlToTarget) {
  std::mt19937 rng(47);
  TestGraph t(13);
  t.node("Identity", {"x"}, {"out"});
  t.input("x", {2, 3, 5}).output("out");
  const Tensor z = uniform({2, 3, 5}, rng, -3, 3);
  Loss loss;
  loss.kind = Loss::kl_to_target;
  loss.target_logits = z;
  // Zero at the target, with a zero gradient.
  const Gradients same = GradientEngine(t.graph()).run({{"x", z}}, loss, {"x"});
  EXPECT_NEAR(same.loss, 0.0, 1e-9);
  for (float v : same.wrt.at("x").to_f32()) EXPECT_NEAR(v, 0.0f, 1e-7);
  // Any shape: softmax along the last axis, mean over the other positions.
  loss.target_logits = uniform({2, 3, 5}, rng, -3, 3);
  const Gradients g = GradientEngine(t.graph()).run({{"x", z}}, loss, {"x"});
  EXPECT_GT(g.loss, 0.0);
  EXPECT_NEAR(g.loss, reference_loss(z, loss), 1e-9);
  expect_gradients_match(t.graph(), {{"x", z}}, loss, {"x"}, 470, {.coords = 30});
}

TEST(AutogradLoss, RejectsMismatches) {
  TestGraph t(13);
  t.node("Identity", {"x"}, {"out"});
  t.input("x", {2, 3}).output("out");
  GradientEngine engine(t.graph());
  const TensorMap inputs{{"x", Tensor(DType::f32, {2, 3})}};
  Loss ce;
  ce.labels = {0};
  EXPECT_THROW(engine.run(inputs, ce, {"x"}), Error);  // one label for two samples
  ce.labels = {0, 3};
  EXPECT_THROW(engine.run(inputs, ce, {"x"}), Error);  // label out of range
  Loss kl;
  kl.kind = Loss::kl_to_target;
  kl.target_logits = Tensor(DType::f32, {3, 2});
  EXPECT_THROW(engine.run(inputs, kl, {"x"}), Error);  // target shape
}

// ---------------------------------------------------------------------------------------------
// The engine: unsupported ops, paths, names, overrides

TEST(AutogradEngine, UnsupportedOpOnThePathNamesNodeAndOp) {
  TestGraph t(13);
  t.node("Relu", {"x"}, {"a"});
  t.graph().nodes.back().name = "act";
  Node& r = t.node("ReduceMax", {"a"}, {"m"});
  r.name = "the_max";
  set_ints(r, "axes", {1});
  t.node("Mul", {"m", "w"}, {"out"});
  t.input("x", {2, 3}).weight("w", Tensor(DType::f32, {2, 1})).output("out");
  try {
    GradientEngine engine(t.graph());
    FAIL() << "expected Unsupported";
  } catch (const Unsupported& e) {
    EXPECT_NE(std::string(e.what()).find("the_max"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("ReduceMax"), std::string::npos) << e.what();
  }
}

TEST(AutogradEngine, NodesOffThePathNeedNoRule) {
  // The second output goes through ReduceMax (no rule); the loss is on the first output only.
  std::mt19937 rng(48);
  TestGraph t(13);
  t.node("Mul", {"x", "w"}, {"out"});
  Node& r = t.node("ReduceMax", {"x"}, {"side"});
  set_ints(r, "axes", {1});
  t.input("x", {2, 3}).weight("w", uniform({3}, rng)).output("out").output("side");
  const TensorMap inputs{{"x", uniform({2, 3}, rng)}};
  GradientEngine engine(t.graph());
  const Gradients g = engine.run(inputs, ce_loss(2, 3, rng), {"x", "w"});
  EXPECT_EQ(g.wrt.at("w").shape(), (Shape{3}));
  check_op(t.graph(), inputs, {"x", "w"}, 480);
}

TEST(AutogradEngine, ConstantParameterInputsAreRefusedAsTargets) {
  // Pad's constant value is not differentiated: asking for it is Unsupported, asking for x is
  // fine.
  std::mt19937 rng(49);
  OneOp op("Pad", {"x", "pads", "value"});
  op.t.input("x", {2, 3}).ints("pads", {0, 1, 0, 1}).weight("value", scalar(0.5f));
  const TensorMap inputs{{"x", uniform({2, 3}, rng)}};
  GradientEngine engine(op.graph());
  const Loss loss = ce_loss(2, 5, rng);
  EXPECT_NO_THROW(engine.run(inputs, loss, {"x"}));
  EXPECT_THROW(engine.run(inputs, loss, {"value"}), Unsupported);
}

TEST(AutogradEngine, NamesZerosIntermediatesAndOverrides) {
  std::mt19937 rng(50);
  TestGraph t(13);
  t.node("MatMul", {"x", "w1"}, {"h"});
  t.node("Tanh", {"h"}, {"a"});
  t.node("MatMul", {"a", "w2"}, {"out"});
  t.input("x", {3, 4})
      .weight("w1", uniform({4, 5}, rng))
      .weight("w2", uniform({5, 6}, rng))
      .weight("unused", uniform({7}, rng))
      .output("out");
  const TensorMap inputs{{"x", uniform({3, 4}, rng)}};
  const Loss loss = ce_loss(3, 6, rng);
  GradientEngine engine(t.graph());

  EXPECT_THROW(engine.run(inputs, loss, {"nope"}), Error);
  EXPECT_THROW(engine.run(inputs, loss, {"w1"}, {{"nope", scalar(1)}}), Error);
  EXPECT_THROW(engine.run(inputs, loss, {"w1"}, {{"w1", Tensor(DType::f32, {5, 4})}}), Error);
  EXPECT_THROW(engine.run({}, loss, {"w1"}), Error);

  // An initializer the output does not depend on: zeros of its shape.
  const Gradients z = engine.run(inputs, loss, {"unused"});
  ASSERT_EQ(z.wrt.at("unused").shape(), (Shape{7}));
  for (float v : z.wrt.at("unused").to_f32()) EXPECT_EQ(v, 0.0f);

  // An intermediate tensor: d loss / d h, and the chain rule through it to w1.
  const Gradients g = engine.run(inputs, loss, {"h", "a", "w1"});
  EXPECT_EQ(g.wrt.at("h").shape(), (Shape{3, 5}));
  const Tensor x = inputs.at("x");
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 5; ++j) {
      double expected = 0;  // dW1 = x^T dH
      for (int r = 0; r < 3; ++r)
        expected += double(x.data<float>()[r * 4 + i]) * g.wrt.at("h").data<float>()[r * 5 + j];
      EXPECT_NEAR(g.wrt.at("w1").data<float>()[i * 5 + j], expected, 1e-5);
    }

  // Overrides: the same as a graph holding the other value.
  const Tensor w1b = uniform({4, 5}, rng);
  const Gradients o = engine.run(inputs, loss, {"w1", "w2", "x"}, {{"w1", w1b}});
  Graph g2 = t.graph();
  g2.initializers["w1"] = w1b;
  const Gradients e = GradientEngine(g2).run(inputs, loss, {"w1", "w2", "x"});
  EXPECT_EQ(o.loss, e.loss);
  for (const char* name : {"w1", "w2", "x"})
    EXPECT_EQ(o.wrt.at(name).to_f32(), e.wrt.at(name).to_f32()) << name;
  // And the graph itself is untouched.
  const Gradients back = engine.run(inputs, loss, {"w1"});
  EXPECT_NE(back.loss, o.loss);
}

// ---------------------------------------------------------------------------------------------
// Networks

TEST(AutogradNetwork, ConvNetEndToEnd) {
  // x[4,2,8,8] -> Conv 3x3 pad 1 (4) -> Relu -> MaxPool 2 -> depthwise Conv 3x3 -> HardSwish
  // -> Conv 1x1 (6) -> Clip(0, 6) -> GlobalAveragePool -> Flatten -> Gemm(transB) -> logits[4,5].
  // Its kinks (Relu, MaxPool, Clip, HardSwish) are left where random weights put them: the
  // comparison replaces coordinates with a kink inside the step, as for the bundled models.
  std::mt19937 rng(51);
  TestGraph t(13);
  Node& c1 = t.node("Conv", {"x", "w1", "b1"}, {"c1"});
  set_ints(c1, "pads", {1, 1, 1, 1});
  t.node("Relu", {"c1"}, {"r1"});
  Node& mp = t.node("MaxPool", {"r1"}, {"p1"});
  set_ints(mp, "kernel_shape", {2, 2});
  set_ints(mp, "strides", {2, 2});
  Node& dw = t.node("Conv", {"p1", "w2"}, {"c2"});
  set(dw, "group", std::int64_t{4});
  set_ints(dw, "pads", {1, 1, 1, 1});
  t.node("HardSwish", {"c2"}, {"h2"});
  t.node("Conv", {"h2", "w3", "b3"}, {"c3"});
  t.node("Clip", {"c3", "zero", "six"}, {"r3"});
  t.node("GlobalAveragePool", {"r3"}, {"g"});
  t.node("Flatten", {"g"}, {"f"});
  Node& fc = t.node("Gemm", {"f", "w4", "b4"}, {"logits"});
  set(fc, "transB", std::int64_t{1});
  t.input("x", {4, 2, 8, 8})
      .weight("w1", uniform({4, 2, 3, 3}, rng, -0.5f, 0.5f))
      .weight("b1", uniform({4}, rng, -0.1f, 0.1f))
      .weight("w2", uniform({4, 1, 3, 3}, rng, -0.8f, 0.8f))
      .weight("w3", uniform({6, 4, 1, 1}, rng))
      .weight("b3", uniform({6}, rng, 0.0f, 0.5f))
      .weight("zero", scalar(0.0f))
      .weight("six", scalar(6.0f))
      .weight("w4", uniform({5, 6}, rng, -2, 2))
      .weight("b4", uniform({5}, rng))
      .output("logits");
  const TensorMap inputs{{"x", uniform({4, 2, 8, 8}, rng)}};
  const Loss loss = ce_loss(4, 5, rng);
  expect_gradients_match(t.graph(), inputs, loss, {"x", "w1", "b1", "w2", "w3", "b3", "w4", "b4"},
                         510,
                         {.coords = 6,
                          .eps = 1e-3,
                          .rtol = 2e-2,
                          .prefer_large = true,
                          .adaptive_eps = true,
                          .skip_kinks = true});
}

TEST(AutogradNetwork, AttentionBlockEndToEnd) {
  // tokens x[2,4,8] -> LayerNorm -> q, k, v = x Wq, x Wk, x Wv -> softmax(q k^T / sqrt(8)) v
  // -> + x -> GELU (erf form) -> mean over tokens -> Gemm -> logits[2,3]
  std::mt19937 rng(52);
  TestGraph t(17);
  t.node("LayerNormalization", {"x", "ln_s", "ln_b"}, {"n"});
  t.node("MatMul", {"n", "wq"}, {"q"});
  t.node("MatMul", {"n", "wk"}, {"k"});
  t.node("MatMul", {"n", "wv"}, {"v"});
  set_ints(t.node("Transpose", {"k"}, {"kt"}), "perm", {0, 2, 1});
  t.node("MatMul", {"q", "kt"}, {"s"});
  t.node("Div", {"s", "scale"}, {"ss"});
  t.node("Softmax", {"ss"}, {"p"});
  t.node("MatMul", {"p", "v"}, {"att"});
  t.node("Add", {"att", "x"}, {"res"});
  t.node("Div", {"res", "sqrt2"}, {"r2"});
  t.node("Erf", {"r2"}, {"e"});
  t.node("Add", {"e", "one"}, {"e1"});
  t.node("Mul", {"res", "e1"}, {"m"});
  t.node("Mul", {"m", "half"}, {"gelu"});
  t.node("ReduceMean", {"gelu", "axes"}, {"pooled"});
  set(t.graph().nodes.back(), "keepdims", std::int64_t{0});
  set(t.node("Gemm", {"pooled", "wo", "bo"}, {"logits"}), "transB", std::int64_t{1});
  t.input("x", {2, 4, 8})
      .weight("ln_s", uniform({8}, rng, 0.5f, 1.5f))
      .weight("ln_b", uniform({8}, rng, -0.2f, 0.2f))
      .weight("wq", uniform({8, 8}, rng))
      .weight("wk", uniform({8, 8}, rng))
      .weight("wv", uniform({8, 8}, rng))
      .weight("scale", scalar(std::sqrt(8.0f)))
      .weight("sqrt2", scalar(std::sqrt(2.0f)))
      .weight("one", scalar(1.0f))
      .weight("half", scalar(0.5f))
      .ints("axes", {1})
      .weight("wo", uniform({3, 8}, rng, -2, 2))
      .weight("bo", uniform({3}, rng))
      .output("logits");
  t.graph().opset = 18;  // ReduceMean takes its axes as an input
  const TensorMap inputs{{"x", uniform({2, 4, 8}, rng, -2, 2)}};
  const Loss loss = ce_loss(2, 3, rng);
  expect_gradients_match(t.graph(), inputs, loss,
                         {"x", "ln_s", "ln_b", "wq", "wk", "wv", "wo", "bo"}, 520,
                         {.coords = 6,
                          .eps = 1e-2,
                          .rtol = 2e-2,
                          .prefer_large = true,
                          .directions = 2,
                          .dir_eps = 1e-3});
}

// ---------------------------------------------------------------------------------------------
// The bundled models: a batch of 4 random images, gradients with respect to the weights of
// several layers and the input, on random coordinates among those with sizeable gradients
// (where float32 differences resolve them). On random inputs these networks are full of kinks
// (ReLU6, HardSwish, MaxPool switching within a step of 1e-3), so coordinates whose one-sided
// differences disagree are replaced, and no directional derivatives are taken (a direction
// through all of a layer's weights crosses many kinks at once).
class AutogradBundledModel : public testing::TestWithParam<const char*> {};

TEST_P(AutogradBundledModel, WeightGradientsMatchFiniteDifferences) {
  const std::string name = GetParam();
  const Graph g = load_model(std::string(QS_RESOURCES_MODELS_DIR) + "/" + name + ".onnx");
  std::mt19937 rng(53);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Tensor x(DType::f32, {4, 1, 28, 28});
  for (std::int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = normal(rng);
  const TensorMap inputs{{g.inputs.at(0).name, x}};
  const Tensor out = output_of(g, inputs);
  Loss loss;
  if (out.rank() == 2) {
    loss = ce_loss(4, out.dim(1), rng);
  } else {
    loss.kind = Loss::kl_to_target;
    loss.target_logits = uniform(out.shape(), rng, -1, 1);
  }
  // The first, a middle and the last float weight tensor of rank >= 2, and the input.
  std::vector<std::string> weights;
  for (const Node& n : g.nodes)
    for (const std::string& in : n.inputs) {
      auto it = g.initializers.find(in);
      if (it != g.initializers.end() && it->second.dtype() == DType::f32 &&
          it->second.rank() >= 2 && std::find(weights.begin(), weights.end(), in) == weights.end())
        weights.push_back(in);
    }
  ASSERT_GE(weights.size(), 3u);
  std::vector<std::string> wrt = {weights.front(), weights[weights.size() / 2], weights.back(),
                                  g.inputs.at(0).name};
  SCOPED_TRACE(name);
  expect_gradients_match(g, inputs, loss, wrt, 530,
                         {.coords = 6,
                          .eps = 1e-3,
                          .rtol = 5e-2,
                          .atol_frac = 2e-3,
                          .prefer_large = true,
                          .adaptive_eps = true,
                          .skip_kinks = true});
}

INSTANTIATE_TEST_SUITE_P(Autograd, AutogradBundledModel,
                         testing::Values("lenet", "mobilenet", "vit", "autoencoder"),
                         [](const testing::TestParamInfo<const char*>& p) {
                           return std::string(p.param);
                         });
