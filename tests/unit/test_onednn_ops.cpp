// cpu-onednn against the reference: each op it runs itself and the basic fusions, skipped
// when the plugin was not built.
#include "onednn_test_util.h"

using namespace onednn_test;

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
