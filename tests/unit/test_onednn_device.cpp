// The cpu-onednn plugin against the reference executor: every op it runs itself, every fusion
// pattern, the bundled models, at ONNX's tolerance (rtol 1e-3, atol 1e-5). Loaded through the
// registry like the programs do; skipped when the plugin was not built.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <tuple>

#include "model_builder.h"
#include "quantscope/device.h"
#include "quantscope/executor.h"
#include "quantscope/model.h"
#include "quantscope/registry.h"

using namespace qs;
using qs::test::ModelBuilder;
using qs::test::set_attr;

namespace {

// One registry for the whole binary: the plugin stays loaded while devices live.
Registry& registry() {
  static Registry* r = [] {
    auto* reg = new Registry;
    register_builtins(*reg);
    reg->load_plugins({QS_PLUGIN_DIR});
    return reg;
  }();
  return *r;
}

std::unique_ptr<Device> onednn() {
  for (const std::string& name : registry().device_names())
    if (name == "cpu-onednn") return registry().create_device(name);
  return nullptr;
}

#define REQUIRE_ONEDNN(dev)                                                   \
  std::unique_ptr<Device> dev = onednn();                                     \
  if (!dev) GTEST_SKIP() << "the cpu-onednn plugin is not in " QS_PLUGIN_DIR; \
  if (!dev->status().usable) GTEST_SKIP() << dev->status().reason

std::vector<float> random_values(std::int64_t n, unsigned seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

void init(ModelBuilder& m, const std::string& name, const Shape& shape, unsigned seed,
          float lo = -1.f, float hi = 1.f) {
  m.initializer(name, shape, random_values(shape_numel(shape), seed, lo, hi));
}

void expect_close(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(shape_to_string(got.shape()), shape_to_string(want.shape())) << what;
  const std::vector<float> g = got.to_f32(), w = want.to_f32();
  std::size_t bad = 0, first = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    if (std::abs(g[i] - w[i]) <= 1e-5f + 1e-3f * std::abs(w[i])) continue;
    if (bad++ == 0) first = i;
  }
  EXPECT_EQ(bad, 0u) << what << ": first at " << first << ": " << g[first] << " vs " << w[first];
}

// Runs the graph on both executors at each batch size (twice on the device, to cover the
// cached plan) and compares; the ops in `on_device` must be placed on cpu-onednn.
// `steps`, when given, must appear in the profiled step list ("Conv+Relu Reorder").
void check(Device& dev, const Graph& g, const std::vector<std::string>& on_device,
           const std::vector<std::int64_t>& batches = {1, 7}, float lo = -1.f, float hi = 1.f,
           const std::string& steps = "") {
  for (const Placement& p : placement(dev, g))
    for (const std::string& op : on_device)
      if (p.op == op) {
        EXPECT_EQ(p.device, "cpu-onednn") << p.node << " " << p.op << ": " << p.reason;
      }
  std::unique_ptr<CompiledGraph> compiled = dev.compile(g);
  unsigned seed = 100;
  for (std::int64_t batch : batches) {
    TensorMap inputs;
    for (const ValueInfo& in : g.inputs) {
      Shape s = in.shape;
      for (auto& d : s) d = d < 0 ? batch : d;
      inputs[in.name] =
          Tensor::from_vector<float>(s, random_values(shape_numel(s), ++seed, lo, hi));
    }
    const TensorMap want = ReferenceExecutor(g).run(inputs);
    for (int repeat = 0; repeat < 2; ++repeat) {
      compiled->set_profiling(repeat == 1);
      const TensorMap got = compiled->run(inputs);
      if (repeat == 1 && !steps.empty()) {
        std::string ops;
        for (const NodeTiming& t : compiled->last_timings()) ops += t.op + " ";
        EXPECT_NE(ops.find(steps), std::string::npos) << ops;
      }
      for (const auto& [name, t] : want)
        expect_close(got.at(name), t, name + " at batch " + std::to_string(batch));
    }
  }
}

// x [N, C, spatial...] -> Conv -> (act) -> y
struct ConvCase {
  std::string label;
  Shape x;  // without the batch
  std::int64_t out_channels, group;
  Shape kernel;
  std::vector<std::int64_t> strides, pads, dilations;
  std::string auto_pad, act;
  bool bias = true;
};

Graph conv_graph(const ConvCase& c) {
  ModelBuilder m(13);
  Shape x{-1};
  x.insert(x.end(), c.x.begin(), c.x.end());
  m.input("x", x);
  Shape w{c.out_channels, c.x[0] / c.group};
  w.insert(w.end(), c.kernel.begin(), c.kernel.end());
  init(m, "w", w, 1);
  init(m, "b", {c.out_channels}, 2);
  auto& n = m.node(
      "Conv", c.bias ? std::vector<std::string>{"x", "w", "b"} : std::vector<std::string>{"x", "w"},
      {c.act.empty() ? "y" : "t"});
  if (c.group != 1) set_attr(n, "group", c.group);
  if (!c.strides.empty()) set_attr(n, "strides", c.strides);
  if (!c.pads.empty()) set_attr(n, "pads", c.pads);
  if (!c.dilations.empty()) set_attr(n, "dilations", c.dilations);
  if (!c.auto_pad.empty()) set_attr(n, "auto_pad", c.auto_pad);
  if (c.act == "Clip") {
    m.initializer("lo", {}, {0.f}).initializer("hi", {}, {0.5f});
    m.node("Clip", {"t", "lo", "hi"}, {"y"});
  } else if (c.act == "Add") {  // residual: output channels equal input channels
    m.node("Add", {"t", "x"}, {"u"});
    m.node("Relu", {"u"}, {"y"});
  } else if (!c.act.empty()) {
    m.node(c.act, {"t"}, {"y"});
  }
  m.output("y");
  return m.load();
}

}  // namespace

TEST(OnednnDevice, RegisteredWithEnvironment) {
  REQUIRE_ONEDNN(dev);
  EXPECT_EQ(dev->name(), "cpu-onednn");
  const auto env = dev->environment();
  for (const char* key : {"isa", "onednn_version", "cpu_runtime", "threads"})
    EXPECT_FALSE(env.count(key) == 0 || env.at(key).empty()) << key;
  EXPECT_EQ(env.at("onednn_version").rfind("2.", 0), 0u);
  for (const auto& [key, value] : env) std::printf("  %s: %s\n", key.c_str(), value.c_str());
}

TEST(OnednnDevice, ConvVariantsAndFusions) {
  REQUIRE_ONEDNN(dev);
  const std::vector<ConvCase> cases = {
      {"relu", {3, 9, 9}, 8, 1, {3, 3}, {}, {1, 1, 1, 1}, {}, "", "Relu"},
      {"clip stride", {4, 10, 11}, 6, 1, {3, 3}, {2, 2}, {1, 0, 1, 2}, {}, "", "Clip"},
      {"depthwise hardswish", {6, 8, 8}, 6, 6, {3, 3}, {1, 1}, {1, 1, 1, 1}, {}, "", "HardSwish"},
      {"grouped dilated", {4, 12, 12}, 6, 2, {3, 2}, {1, 2}, {0, 1, 2, 0}, {2, 3}, "", "", false},
      {"same upper", {3, 9, 10}, 5, 1, {3, 3}, {2, 2}, {}, {}, "SAME_UPPER", "Sigmoid"},
      {"same lower", {3, 9, 10}, 5, 1, {4, 4}, {2, 3}, {}, {}, "SAME_LOWER", "Tanh"},
      {"valid", {3, 9, 10}, 5, 1, {3, 5}, {2, 1}, {}, {}, "VALID", "LeakyRelu"},
      {"1-D", {3, 17}, 4, 1, {5}, {2}, {2, 1}, {}, "", "Relu"},
      {"3-D", {2, 5, 6, 7}, 3, 1, {3, 3, 2}, {1, 2, 1}, {1, 1, 0, 1, 0, 1}, {}, "", "HardSigmoid"},
      {"residual add", {4, 7, 7}, 4, 1, {3, 3}, {}, {1, 1, 1, 1}, {}, "", "Add"},
      {"pointwise", {16, 5, 5}, 24, 1, {1, 1}, {}, {}, {}, "", "Relu"},
  };
  for (const ConvCase& c : cases) {
    SCOPED_TRACE(c.label);
    const std::string fused = c.act == "Add"  ? "Conv+Add+Relu"
                              : c.act.empty() ? "Conv"
                                              : "Conv+" + c.act;
    check(*dev, conv_graph(c), {"Conv"}, {1, 7}, -1.f, 1.f, fused);
  }
}

TEST(OnednnDevice, FusedGroupsAreTimedAsOne) {
  REQUIRE_ONEDNN(dev);
  const Graph g = conv_graph({"relu", {3, 9, 9}, 8, 1, {3, 3}, {}, {1, 1, 1, 1}, {}, "", "Relu"});
  auto compiled = dev->compile(g);
  compiled->set_profiling(true);
  compiled->run({{"x", Tensor(DType::f32, {2, 3, 9, 9})}});
  bool fused = false;
  for (const NodeTiming& t : compiled->last_timings()) fused = fused || t.op == "Conv+Relu";
  EXPECT_TRUE(fused);
}

TEST(OnednnDevice, ConvBatchNormClipFusion) {
  REQUIRE_ONEDNN(dev);
  ModelBuilder m(13);
  m.input("x", {-1, 3, 8, 8});
  init(m, "w", {6, 3, 3, 3}, 1);
  init(m, "scale", {6}, 2);
  init(m, "bias", {6}, 3);
  init(m, "mean", {6}, 4);
  init(m, "var", {6}, 5, 0.5f, 2.f);
  m.initializer("lo", {}, {0.f}).initializer("hi", {}, {6.f});
  m.node("Conv", {"x", "w"}, {"c"});
  m.node("BatchNormalization", {"c", "scale", "bias", "mean", "var"}, {"n"});
  m.node("Clip", {"n", "lo", "hi"}, {"t"});
  m.node("BatchNormalization", {"t", "scale", "bias", "mean", "var"}, {"y"});  // standalone
  m.output("y");
  LoadOptions keep_bn;
  keep_bn.fold_batch_norm = false;
  check(*dev, m.load(keep_bn), {"Conv", "BatchNormalization", "Clip"}, {1, 7}, -1.f, 1.f,
        "Conv+BatchNormalization+Clip+BatchNormalization");
}

TEST(OnednnDevice, GemmVariants) {
  REQUIRE_ONEDNN(dev);
  struct G {
    bool ta, tb;
    float alpha, beta;
    Shape c;
    std::string act;
  };
  for (const G& c : std::vector<G>{{false, true, 1.f, 1.f, {5}, "Relu"},
                                   {true, false, 0.5f, 2.f, {4, 5}, ""},
                                   {false, false, 1.f, 1.f, {}, "Sigmoid"},
                                   {true, true, 2.f, 0.f, {1, 5}, ""}}) {
    SCOPED_TRACE(std::to_string(c.ta) + std::to_string(c.tb) + c.act);
    ModelBuilder m(13);
    // Gemm needs a fixed M when A is transposed (the batch would be K).
    m.input("a", c.ta ? Shape{6, 4} : Shape{-1, 6});
    init(m, "b", c.tb ? Shape{5, 6} : Shape{6, 5}, 1);
    std::vector<std::string> ins{"a", "b"};
    if (!c.c.empty()) {
      init(m, "c", c.c, 2);
      ins.push_back("c");
    }
    auto& n = m.node("Gemm", ins, {c.act.empty() ? "y" : "t"});
    set_attr(n, "transA", std::int64_t{c.ta});
    set_attr(n, "transB", std::int64_t{c.tb});
    set_attr(n, "alpha", c.alpha);
    set_attr(n, "beta", c.beta);
    if (!c.act.empty()) m.node(c.act, {"t"}, {"y"});
    m.output("y");
    check(*dev, m.load(), {"Gemm"}, {1, 7}, -1.f, 1.f, c.act.empty() ? "Gemm" : "Gemm+" + c.act);
  }
}

TEST(OnednnDevice, MatMulBatchedAndBroadcast) {
  REQUIRE_ONEDNN(dev);
  struct M {
    Shape a, b;
    bool b_input;
  };
  for (const M& c : std::vector<M>{{{-1, 3, 4, 5}, {5, 6}, false},
                                   {{-1, 1, 4, 5}, {3, 5, 6}, false},
                                   {{-1, 2, 4, 5}, {-1, 2, 5, 3}, true},
                                   {{-1, 5}, {5}, false},
                                   {{5}, {-1, 5, 3}, true}}) {
    SCOPED_TRACE(shape_to_string(c.a) + " x " + shape_to_string(c.b));
    ModelBuilder m(13);
    m.input("a", c.a);
    if (c.b_input)
      m.input("b", c.b);
    else
      init(m, "b", c.b, 1);
    m.node("MatMul", {"a", "b"}, {"y"});
    m.output("y");
    check(*dev, m.load(), {"MatMul"});
  }
  // MatMul + bias Add + Relu fused (a Linear layer).
  ModelBuilder m(13);
  m.input("a", {-1, 4, 8});
  init(m, "w", {8, 16}, 1);
  init(m, "bias", {16}, 2);
  m.node("MatMul", {"a", "w"}, {"t"});
  m.node("Add", {"bias", "t"}, {"u"});
  m.node("Relu", {"u"}, {"y"});
  m.output("y");
  check(*dev, m.load(), {"MatMul", "Add", "Relu"}, {1, 7}, -1.f, 1.f, "MatMul+Add+Relu");
}

TEST(OnednnDevice, Pooling) {
  REQUIRE_ONEDNN(dev);
  struct P {
    std::string op;
    Shape x;
    std::vector<std::int64_t> kernel, strides, pads, dilations;
    std::int64_t ceil, include_pad;
    std::string auto_pad;
    bool on_device = true;
  };
  const std::vector<P> cases = {
      {"MaxPool", {3, 9, 9}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, 1, 0, ""},
      {"MaxPool", {3, 10, 10}, {2, 2}, {2, 2}, {}, {}, 0, 0, ""},
      {"MaxPool", {2, 11, 9}, {3, 2}, {2, 2}, {0, 1, 1, 0}, {2, 1}, 1, 0, ""},
      {"MaxPool", {2, 13}, {3}, {2}, {1, 1}, {}, 1, 0, ""},
      {"AveragePool", {3, 9, 9}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, 0, 0, ""},
      {"AveragePool", {3, 9, 9}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, 0, 1, ""},
      {"AveragePool", {3, 10, 10}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, 1, 0, ""},
      // ceil_mode reaching past the pads: the reference counts only the explicit pads.
      {"AveragePool", {3, 10, 10}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, 1, 1, "", false},
      {"AveragePool", {3, 9, 10}, {3, 3}, {2, 2}, {}, {}, 0, 1, "SAME_UPPER"},
      {"AveragePool", {2, 5, 6, 7}, {2, 3, 2}, {1, 2, 2}, {}, {}, 1, 0, ""},
      {"GlobalAveragePool", {5, 7, 6}, {}, {}, {}, {}, 0, 0, ""},
      {"GlobalMaxPool", {5, 7, 6}, {}, {}, {}, {}, 0, 0, ""},
  };
  for (const P& c : cases) {
    SCOPED_TRACE(c.op + " " + shape_to_string(c.x) + " ceil " + std::to_string(c.ceil) +
                 " include_pad " + std::to_string(c.include_pad));
    ModelBuilder m(19);
    Shape x{-1};
    x.insert(x.end(), c.x.begin(), c.x.end());
    m.input("x", x);
    auto& n = m.node(c.op, {"x"}, {"y"});
    if (!c.kernel.empty()) set_attr(n, "kernel_shape", c.kernel);
    if (!c.strides.empty()) set_attr(n, "strides", c.strides);
    if (!c.pads.empty()) set_attr(n, "pads", c.pads);
    if (!c.dilations.empty()) set_attr(n, "dilations", c.dilations);
    if (c.ceil) set_attr(n, "ceil_mode", c.ceil);
    if (c.op == "AveragePool") set_attr(n, "count_include_pad", c.include_pad);
    if (!c.auto_pad.empty()) set_attr(n, "auto_pad", c.auto_pad);
    m.output("y");
    const Graph g = m.load();
    EXPECT_EQ(placement(*dev, g).at(0).device, c.on_device ? "cpu-onednn" : "cpu-ref");
    check(*dev, g, {});
  }
}

TEST(OnednnDevice, SoftmaxAxes) {
  REQUIRE_ONEDNN(dev);
  for (std::int64_t opset : {11, 13})
    for (const char* op : {"Softmax", "LogSoftmax"})
      for (std::int64_t axis : {0, 1, 2, -1}) {
        SCOPED_TRACE(std::string(op) + " opset " + std::to_string(opset) + " axis " +
                     std::to_string(axis));
        ModelBuilder m(opset);
        m.input("x", {-1, 3, 4, 5});
        set_attr(m.node(op, {"x"}, {"y"}), "axis", axis);
        m.output("y");
        check(*dev, m.load(), {op}, {1, 7}, -4.f, 4.f);
      }
}

TEST(OnednnDevice, LayerAndBatchNormalization) {
  REQUIRE_ONEDNN(dev);
  for (std::int64_t axis : {-1, -2}) {
    for (bool bias : {true, false}) {
      SCOPED_TRACE("axis " + std::to_string(axis) + (bias ? " bias" : ""));
      ModelBuilder m(17);
      m.input("x", {-1, 3, 4, 8});
      const Shape p = axis == -1 ? Shape{8} : Shape{4, 8};
      init(m, "s", p, 1);
      init(m, "b", p, 2);
      auto& n = m.node(
          "LayerNormalization",
          bias ? std::vector<std::string>{"x", "s", "b"} : std::vector<std::string>{"x", "s"},
          {"y"});
      set_attr(n, "axis", axis);
      set_attr(n, "epsilon", 1e-3f);
      m.output("y");
      check(*dev, m.load(), {"LayerNormalization"}, {1, 7}, -3.f, 5.f);
    }
  }
  for (const Shape& x : {Shape{-1, 4}, Shape{-1, 4, 5}, Shape{-1, 4, 5, 6}}) {
    SCOPED_TRACE(shape_to_string(x));
    ModelBuilder m(15);
    m.input("x", x);
    init(m, "s", {4}, 1);
    init(m, "b", {4}, 2);
    init(m, "mean", {4}, 3);
    init(m, "var", {4}, 4, 0.1f, 3.f);
    m.node("BatchNormalization", {"x", "s", "b", "mean", "var"}, {"y"});
    m.output("y");
    LoadOptions keep_bn;
    keep_bn.fold_batch_norm = false;
    check(*dev, m.load(keep_bn), {"BatchNormalization"});
  }
}

TEST(OnednnDevice, BinaryBroadcasts) {
  REQUIRE_ONEDNN(dev);
  struct B {
    std::string op;
    Shape a, b;
    bool b_input, on_device;
  };
  for (const B& c : std::vector<B>{{"Add", {-1, 3, 4, 5}, {5}, false, true},
                                   {"Mul", {-1, 3, 4, 5}, {1, 3, 1, 1}, false, true},
                                   {"Sub", {-1, 3, 4, 5}, {3, 1, 5}, false, true},
                                   {"Div", {-1, 3, 4, 5}, {-1, 3, 4, 5}, true, true},
                                   {"Add", {4, 1}, {-1, 4, 5}, true, true},
                                   {"Mul", {}, {-1, 6}, true, true},
                                   {"Sub", {5}, {-1, 4, 5}, true, false},
                                   {"Add", {-1, 1, 5}, {4, 1}, true, false}}) {
    SCOPED_TRACE(c.op + " " + shape_to_string(c.a) + " " + shape_to_string(c.b));
    ModelBuilder m(13);
    if (!c.a.empty())  // a scalar first operand is a constant
      m.input("a", c.a);
    else
      init(m, "a", c.a, 1, 0.5f, 2.f);
    if (c.b_input)
      m.input("b", c.b);
    else
      init(m, "b", c.b, 2, 0.5f, 2.f);
    m.node(c.op, {"a", "b"}, {"y"});
    m.output("y");
    const Graph g = m.load();
    EXPECT_EQ(placement(*dev, g).at(0).device, c.on_device ? "cpu-onednn" : "cpu-ref");
    check(*dev, g, {}, {1, 7}, 0.5f, 2.f, c.op);
  }
}

TEST(OnednnDevice, Activations) {
  REQUIRE_ONEDNN(dev);
  for (const char* op : {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Exp",
                         "Log", "Sqrt", "Abs", "Neg", "Clip"}) {
    SCOPED_TRACE(op);
    const bool positive = std::string(op) == "Log" || std::string(op) == "Sqrt";
    ModelBuilder m(13);
    m.input("x", {-1, 3, 5, 4});
    if (std::string(op) == "Clip") {
      m.initializer("lo", {}, {-0.5f});
      m.node(op, {"x", "lo"}, {"y"});
    } else {
      m.node(op, {"x"}, {"y"});
    }
    m.output("y");
    check(*dev, m.load(), {op}, {1, 7}, positive ? 0.01f : -4.f, 4.f);
  }
  for (const char* approximate : {"none", "tanh"}) {
    SCOPED_TRACE(std::string("Gelu ") + approximate);
    ModelBuilder m(20);
    m.input("x", {-1, 3, 5, 4});
    set_attr(m.node("Gelu", {"x"}, {"y"}), "approximate", std::string(approximate));
    m.output("y");
    check(*dev, m.load(), {"Gelu"}, {1, 7}, -4.f, 4.f);
  }
}

TEST(OnednnDevice, ReferenceNodesBetweenOnednnNodes) {
  REQUIRE_ONEDNN(dev);
  ModelBuilder m(13);
  m.input("x", {-1, 3, 6, 6});
  init(m, "w", {4, 3, 3, 3}, 1);
  init(m, "g", {16, 5}, 2);
  m.node("Conv", {"x", "w"}, {"c"});  // [N,4,4,4], blocked inside oneDNN
  m.node("Relu", {"c"}, {"r"});
  auto& pool = m.node("MaxPool", {"r"}, {"p"});
  set_attr(pool, "kernel_shape", std::vector<std::int64_t>{2, 2});
  set_attr(pool, "strides", std::vector<std::int64_t>{2, 2});
  m.node("Flatten", {"p"}, {"f"});  // reference
  m.node("Gemm", {"f", "g"}, {"y"});
  m.node("Erf", {"p"}, {"e"});  // reference, second consumer of p
  m.output("y");
  m.output("e");
  check(*dev, m.load(), {"Conv", "MaxPool", "Gemm"}, {1, 7}, -1.f, 1.f,
        "Conv+Relu MaxPool Flatten Gemm Erf");
}

// x [N, C, spatial...] -> ConvTranspose (weights [C, OC/group, k...]) -> (Relu) -> y
struct DeconvCase {
  std::string label;
  Shape x;  // without the batch
  std::int64_t out_channels, group;
  Shape kernel;
  std::vector<std::int64_t> strides, pads, output_padding, dilations, output_shape;
  std::string auto_pad, act;
  bool bias = true;
};

TEST(OnednnDevice, ConvTransposeVariants) {
  REQUIRE_ONEDNN(dev);
  const std::vector<DeconvCase> cases = {
      {"plain", {4, 5, 5}, 6, 1, {3, 3}, {}, {}, {}, {}, {}, "", ""},
      {"stride2 pads output_padding relu",
       {8, 7, 7},
       4,
       1,
       {3, 3},
       {2, 2},
       {1, 1, 1, 1},
       {1, 1},
       {},
       {},
       "",
       "Relu"},
      {"output_padding without pads", {3, 4, 5}, 5, 1, {3, 3}, {2, 2}, {}, {1, 1}, {}, {}, "", ""},
      {"asymmetric pads no bias",
       {3, 6, 5},
       4,
       1,
       {3, 2},
       {2, 1},
       {1, 0, 2, 1},
       {},
       {},
       {},
       "",
       "",
       false},
      {"groups", {6, 5, 5}, 4, 2, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, {}, {}, "", "Relu"},
      {"depthwise", {4, 6, 6}, 4, 4, {3, 3}, {2, 2}, {}, {}, {}, {}, "", ""},
      {"dilations", {3, 6, 6}, 4, 1, {3, 3}, {}, {2, 1, 0, 1}, {}, {2, 2}, {}, "", ""},
      {"same_upper", {3, 5, 5}, 4, 1, {3, 3}, {2, 2}, {}, {}, {}, {}, "SAME_UPPER", ""},
      {"same_lower", {3, 5, 4}, 4, 1, {4, 3}, {3, 2}, {}, {}, {}, {}, "SAME_LOWER", ""},
      {"valid", {3, 5, 5}, 4, 1, {3, 3}, {2, 2}, {}, {}, {}, {}, "VALID", ""},
      {"output_shape", {3, 5, 5}, 4, 1, {3, 3}, {2, 2}, {}, {}, {}, {10, 11}, "", ""},
      {"1d", {3, 8}, 4, 1, {4}, {3}, {1, 2}, {}, {}, {}, "", "Relu"},
      {"3d", {2, 3, 4, 4}, 3, 1, {2, 2, 2}, {2, 2, 2}, {}, {}, {}, {}, "", ""},
  };
  for (const DeconvCase& c : cases) {
    SCOPED_TRACE(c.label);
    ModelBuilder m(13);
    Shape x{-1};
    x.insert(x.end(), c.x.begin(), c.x.end());
    m.input("x", x);
    Shape w{c.x[0], c.out_channels / c.group};
    w.insert(w.end(), c.kernel.begin(), c.kernel.end());
    init(m, "w", w, 1);
    init(m, "b", {c.out_channels}, 2);
    auto& n = m.node(
        "ConvTranspose",
        c.bias ? std::vector<std::string>{"x", "w", "b"} : std::vector<std::string>{"x", "w"},
        {"t"});
    if (c.group != 1) set_attr(n, "group", c.group);
    if (!c.strides.empty()) set_attr(n, "strides", c.strides);
    if (!c.pads.empty()) set_attr(n, "pads", c.pads);
    if (!c.output_padding.empty()) set_attr(n, "output_padding", c.output_padding);
    if (!c.dilations.empty()) set_attr(n, "dilations", c.dilations);
    if (!c.output_shape.empty()) set_attr(n, "output_shape", c.output_shape);
    if (!c.auto_pad.empty()) set_attr(n, "auto_pad", c.auto_pad);
    m.node(c.act.empty() ? "Neg" : c.act, {"t"}, {"y"});  // fused: proves it ran on oneDNN
    m.output("y");
    check(*dev, m.load(), {"ConvTranspose"}, {1, 7}, -1.f, 1.f,
          c.act.empty() ? "ConvTranspose+Neg" : "ConvTranspose+Relu");
  }
}

namespace {

// The profiled step ops of one run at batch 2, joined with spaces.
std::string step_ops(Device& dev, const Graph& g) {
  std::unique_ptr<CompiledGraph> compiled = dev.compile(g);
  compiled->set_profiling(true);
  TensorMap inputs;
  for (const ValueInfo& in : g.inputs) {
    Shape s = in.shape;
    for (auto& d : s) d = d < 0 ? 2 : d;
    inputs[in.name] = Tensor::from_vector<float>(s, random_values(shape_numel(s), 5));
  }
  compiled->run(inputs);
  std::string ops;
  for (const NodeTiming& t : compiled->last_timings()) ops += t.op + " ";
  return ops;
}

// x -> [MatMul + Add] -> t -> Div(sqrt 2) -> Erf -> Add(one) -> Mul(t) -> Mul(half) -> y
Graph gelu_graph(bool matmul, bool swapped, float divisor, float one, float half,
                 bool t_is_output = false) {
  ModelBuilder m(13);
  m.input("x", {-1, 3, 8});
  m.initializer("sqrt2", {}, {divisor}).initializer("one", {}, {one});
  m.initializer("half", {}, {half});
  std::string t = "x";
  if (matmul) {
    init(m, "w", {8, 6}, 1);
    init(m, "b", {6}, 2);
    m.node("MatMul", {"x", "w"}, {"mm"});
    m.node("Add", {"b", "mm"}, {"t"});
    t = "t";
  }
  m.node("Div", {t, "sqrt2"}, {"d"});
  m.node("Erf", {"d"}, {"e"});
  m.node("Add",
         swapped ? std::vector<std::string>{"one", "e"} : std::vector<std::string>{"e", "one"},
         {"a"});
  m.node("Mul", swapped ? std::vector<std::string>{"a", t} : std::vector<std::string>{t, "a"},
         {"p"});
  m.node("Mul",
         swapped ? std::vector<std::string>{"half", "p"} : std::vector<std::string>{"p", "half"},
         {"y"});
  m.output("y");
  if (t_is_output) m.output(t);
  return m.load();
}

}  // namespace

TEST(OnednnDevice, ExactGeluPattern) {
  REQUIRE_ONEDNN(dev);
  const float sqrt2 = 1.41421356f;
  for (bool swapped : {false, true}) {
    SCOPED_TRACE(swapped ? "swapped operands" : "plain operands");
    const Graph fused = gelu_graph(true, swapped, sqrt2, 1.f, 0.5f);
    check(*dev, fused, {"MatMul", "Erf"}, {1, 7}, -3.f, 3.f, "MatMul+Add+Div+Erf+Add+Mul+Mul");
    const Graph alone = gelu_graph(false, swapped, sqrt2, 1.f, 0.5f);
    check(*dev, alone, {"Erf"}, {1, 7}, -3.f, 3.f, "Div+Erf+Add+Mul+Mul");
    // t is also a graph output: the GELU runs on its own after the MatMul.
    const Graph observed = gelu_graph(true, swapped, sqrt2, 1.f, 0.5f, true);
    check(*dev, observed, {"MatMul"}, {1, 7}, -3.f, 3.f, "MatMul+Add Div+Erf+Add+Mul+Mul");
  }
  // Near misses compute something else: never one GELU.
  for (auto [divisor, one, half] :
       {std::tuple{sqrt2, 2.f, 0.5f}, std::tuple{2.f, 1.f, 0.5f}, std::tuple{sqrt2, 1.f, 0.25f}}) {
    for (bool matmul : {false, true}) {
      const Graph g = gelu_graph(matmul, false, divisor, one, half);
      check(*dev, g, {}, {1, 7}, -3.f, 3.f);
      EXPECT_EQ(step_ops(*dev, g).find("Erf+"), std::string::npos) << divisor << one << half;
      for (const Placement& pl : placement(*dev, g))
        if (pl.op == "Erf") {
          EXPECT_EQ(pl.device, "cpu-ref");
        }
    }
  }
}

TEST(OnednnDevice, TransposeReshapeAndReduceMean) {
  REQUIRE_ONEDNN(dev);
  ModelBuilder m(13);
  m.input("x", {-1, 4, 6});
  init(m, "w", {6, 8}, 1);
  init(m, "k", {3, 2, 3, 3}, 2);
  m.initializer_i64("s", {4}, {0, 4, 2, 4});
  m.node("MatMul", {"x", "w"}, {"q"});   // [N,4,8]
  m.node("Reshape", {"q", "s"}, {"r"});  // [N,4,2,4], reference (a view)
  set_attr(m.node("Transpose", {"r"}, {"t"}), "perm", std::vector<std::int64_t>{0, 2, 1, 3});
  m.node("MatMul", {"t", "t"}, {"u"});  // [N,2,4,4]
  m.node("Transpose", {"u"}, {"v"});    // reversed: [4,4,2,N]
  m.output("v");
  m.node("Conv", {"t", "k"}, {"c"});  // [N,3,2,2] from a transposed input
  set_attr(m.node("Transpose", {"c"}, {"ct"}), "perm", std::vector<std::int64_t>{0, 2, 3, 1});
  m.output("ct");
  set_attr(m.node("ReduceMean", {"u"}, {"m1"}), "axes", std::vector<std::int64_t>{1});
  auto& r2 = m.node("ReduceMean", {"c"}, {"m2"});
  set_attr(r2, "axes", std::vector<std::int64_t>{-1, 2});
  set_attr(r2, "keepdims", std::int64_t{0});
  set_attr(m.node("ReduceMean", {"u"}, {"m3"}), "axes", std::vector<std::int64_t>{1, 3});
  m.node("ReduceMean", {"t"}, {"m4"});  // every axis
  m.output("m1");
  m.output("m2");
  m.output("m3");
  m.output("m4");
  check(*dev, m.load(), {"Transpose", "MatMul", "Conv", "ReduceMean"}, {1, 7});
}

TEST(OnednnDevice, BatchedMatMulWithConstantWeights) {
  REQUIRE_ONEDNN(dev);
  // [N,3,5] x [5,4] with a bias row, a full-size residual and (second graph) a per-row scale
  // that does not fit a flattened [N*3, 4] product.
  for (bool per_row : {false, true}) {
    SCOPED_TRACE(per_row ? "per-row operand" : "row operands");
    ModelBuilder m(13);
    m.input("x", {-1, 3, 5});
    m.input("r", {-1, 3, 4});
    init(m, "w", {5, 4}, 1);
    init(m, "b", {4}, 2);
    init(m, "s", {3, 1}, 3);
    m.node("MatMul", {"x", "w"}, {"q"});
    m.node("Add", {"b", "q"}, {"u"});
    m.node("Add", {"u", "r"}, {per_row ? "v" : "y"});
    if (per_row) m.node("Mul", {"v", "s"}, {"y"});
    m.output("y");
    check(*dev, m.load(), {"MatMul"}, {1, 7}, -1.f, 1.f,
          per_row ? "MatMul+Add+Add+Mul" : "MatMul+Add+Add");
  }
}

TEST(OnednnDevice, BundledModels) {
  REQUIRE_ONEDNN(dev);
  for (const char* name : {"lenet", "mobilenet", "vit", "autoencoder"}) {
    SCOPED_TRACE(name);
    const Graph g = load_model(std::string(QS_RESOURCES_MODELS_DIR) + "/" + name + ".onnx");
    check(*dev, g, {}, {1, 64}, 0.f, 1.f);
  }
  LoadOptions keep_bn;
  keep_bn.fold_batch_norm = false;
  SCOPED_TRACE("mobilenet with BatchNormalization");
  check(*dev, load_model(std::string(QS_RESOURCES_MODELS_DIR) + "/mobilenet.onnx", keep_bn),
        {"Conv", "BatchNormalization"}, {1, 64}, 0.f, 1.f, "Conv+BatchNormalization+HardSwish");
}

TEST(OnednnDevice, MobilenetConvsArePlacedOnOnednn) {
  REQUIRE_ONEDNN(dev);
  const Graph g = load_model(std::string(QS_RESOURCES_MODELS_DIR) + "/mobilenet.onnx");
  int convs = 0;
  for (const Placement& p : placement(*dev, g)) {
    if (p.op != "Conv") continue;
    ++convs;
    EXPECT_EQ(p.device, "cpu-onednn") << p.node << ": " << p.reason;
  }
  EXPECT_EQ(convs, 13);
}

// Not a check: prints the time of each bundled model on both devices (run with
// --gtest_also_run_disabled_tests).
