// cpu-onednn against the reference: ConvTranspose, the GELU pattern, layout ops, batched
// MatMul with constant weights, and the bundled models.
#include "onednn_test_util.h"

using namespace onednn_test;

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

namespace {

// GELU's tanh form as torch.onnx writes nn.GELU(approximate="tanh") (GPT-2's activation):
// x*x, x*(x*x), *0.044715, +x, *sqrt(2/pi), Tanh, +1, then x*(1+t)*0.5, or (x*0.5)*(1+t) with
// the half computed first (`half_first`).
Graph gelu_tanh_graph(bool matmul, bool half_first, float cubic) {
  ModelBuilder m(14);
  m.input("x", {-1, 3, 8});
  m.initializer("k", {}, {cubic}).initializer("c", {}, {0.7978845608f});
  m.initializer("one", {}, {1.f}).initializer("half", {}, {0.5f});
  std::string t = "x";
  if (matmul) {
    init(m, "w", {8, 6}, 1);
    init(m, "b", {6}, 2);
    m.node("MatMul", {"x", "w"}, {"mm"});
    m.node("Add", {"mm", "b"}, {"t"});
    t = "t";
  }
  if (half_first) m.node("Mul", {t, "half"}, {"h"});
  m.node("Mul", {t, t}, {"sq"});
  m.node("Mul", {t, "sq"}, {"cube"});
  m.node("Mul", {"k", "cube"}, {"kc"});
  m.node("Add", {t, "kc"}, {"s"});
  m.node("Mul", {"c", "s"}, {"u"});
  m.node("Tanh", {"u"}, {"th"});
  m.node("Add", {"one", "th"}, {"a"});
  if (half_first) {
    m.node("Mul", {"h", "a"}, {"y"});
  } else {
    m.node("Mul", {t, "a"}, {"p"});
    m.node("Mul", {"half", "p"}, {"y"});
  }
  m.output("y");
  return m.load();
}

}  // namespace

TEST(OnednnDevice, TanhGeluPattern) {
  REQUIRE_ONEDNN(dev);
  for (bool half_first : {false, true}) {
    SCOPED_TRACE(half_first ? "(x * 0.5) * (1 + t)" : "x * (1 + t) * 0.5");
    const Graph fused = gelu_tanh_graph(true, half_first, 0.044715f);
    check(*dev, fused, {"MatMul", "Tanh"}, {1, 7}, -3.f, 3.f);
    const std::string ops = step_ops(*dev, fused);
    EXPECT_EQ(ops.rfind("MatMul+Add+", 0), 0u) << ops;
    EXPECT_EQ(ops.find(' '), ops.size() - 1) << "one step expected: " << ops;
    const Graph alone = gelu_tanh_graph(false, half_first, 0.044715f);
    check(*dev, alone, {"Tanh"}, {1, 7}, -3.f, 3.f);
    const std::string alone_ops = step_ops(*dev, alone);
    EXPECT_EQ(alone_ops.find(' '), alone_ops.size() - 1) << "one step expected: " << alone_ops;
    EXPECT_NE(alone_ops.find("+Tanh+"), std::string::npos) << alone_ops;
  }
  // Another cubic coefficient is another function: never one GELU step.
  const Graph near = gelu_tanh_graph(true, false, 0.05f);
  check(*dev, near, {"MatMul"}, {1, 7}, -3.f, 3.f);
  const std::string near_ops = step_ops(*dev, near);
  EXPECT_NE(near_ops.find(' '), near_ops.size() - 1) << "more than one step expected: " << near_ops;
}

// x -> Conv -> c -> Sigmoid -> s -> Mul(c, s) (EfficientNet's SiLU as torch exports it).
TEST(OnednnDevice, SiluPattern) {
  REQUIRE_ONEDNN(dev);
  for (bool swapped : {false, true}) {
    for (bool after_conv : {true, false}) {
      SCOPED_TRACE(std::string(swapped ? "Mul(s, c)" : "Mul(c, s)") +
                   (after_conv ? " after a Conv" : " on a graph input"));
      ModelBuilder m(13);
      m.input("x", {-1, 4, 6, 6});
      std::string c = "x";
      if (after_conv) {
        init(m, "w", {8, 4, 1, 1}, 1);
        m.node("Conv", {"x", "w"}, {"c"});
        c = "c";
      }
      m.node("Sigmoid", {c}, {"s"});
      m.node("Mul", swapped ? std::vector<std::string>{"s", c} : std::vector<std::string>{c, "s"},
             {"y"});
      m.output("y");
      const Graph g = m.load();
      check(*dev, g, {"Sigmoid", "Mul"}, {1, 7}, -4.f, 4.f,
            after_conv ? "Conv+Sigmoid+Mul" : "Sigmoid+Mul");
    }
  }
  // The Sigmoid's output read elsewhere too: no SiLU, both nodes run (and agree).
  ModelBuilder m(13);
  m.input("x", {-1, 4, 6, 6});
  m.node("Sigmoid", {"x"}, {"s"});
  m.node("Mul", {"x", "s"}, {"y"});
  m.output("y").output("s");
  const Graph g = m.load();
  check(*dev, g, {"Sigmoid", "Mul"});
  EXPECT_EQ(step_ops(*dev, g).find("Sigmoid+Mul"), std::string::npos);
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

TEST(OnednnDevice, FewChannelConvAfterBlockedProducer) {
  REQUIRE_ONEDNN(dev);
  // A first conv writes a blocked layout; the next conv, with few input channels (here 6 and 8:
  // LeNet's shape), reads a row-major copy (steps_compute.cpp), through a pool and directly.
  for (std::int64_t channels : {6, 8}) {
    SCOPED_TRACE(channels);
    ModelBuilder m(13);
    m.input("x", {-1, 1, 12, 12});
    init(m, "w1", {channels, 1, 3, 3}, 1);
    init(m, "b1", {channels}, 2);
    init(m, "w2", {16, channels, 3, 3}, 3);
    init(m, "b2", {16}, 4);
    init(m, "w3", {channels, channels, 3, 3}, 5);
    set_attr(m.node("Conv", {"x", "w1", "b1"}, {"c1"}), "pads",
             std::vector<std::int64_t>{1, 1, 1, 1});
    m.node("Relu", {"c1"}, {"r1"});
    auto& pool = m.node("MaxPool", {"r1"}, {"p1"});
    set_attr(pool, "kernel_shape", std::vector<std::int64_t>{2, 2});
    set_attr(pool, "strides", std::vector<std::int64_t>{2, 2});
    m.node("Conv", {"p1", "w2", "b2"}, {"c2"});
    m.node("Relu", {"c2"}, {"y"});
    m.node("Conv", {"r1", "w3"}, {"z"});
    m.output("y");
    m.output("z");
    check(*dev, m.load(), {"Conv", "MaxPool"}, {1, 7}, -1.f, 1.f, "Conv+Relu MaxPool Conv+Relu");
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

// Flatten, Reshape, Squeeze and Unsqueeze run on cpu-onednn as views of their input's row-major
// buffer: of a graph input (whose buffer changes every run: batch 2 runs again with new inputs on
// the same plan), of a blocked Conv output (copied row-major first), and as graph outputs.
TEST(OnednnDevice, ReshapesAreViewsOfTheirInput) {
  REQUIRE_ONEDNN(dev);
  ModelBuilder m(13);
  m.input("x", {-1, 4, 3, 3});
  init(m, "w", {36, 5}, 1);
  init(m, "k", {16, 4, 3, 3}, 2);
  m.initializer_i64("s", {3}, {0, 16, 9});
  m.initializer_i64("flat", {2}, {0, -1});
  m.initializer_i64("ax", {1}, {1});
  m.node("Flatten", {"x"}, {"f"});  // [N,36], a view of the graph input
  m.node("Gemm", {"f", "w"}, {"g"});
  set_attr(m.node("Conv", {"x", "k"}, {"c"}), "pads", std::vector<std::int64_t>{1, 1, 1, 1});
  m.node("Reshape", {"c", "s"}, {"r"});  // [N,16,9] of a blocked [N,16,3,3]
  set_attr(m.node("Softmax", {"r"}, {"p"}), "axis", std::int64_t{-1});
  m.node("Unsqueeze", {"p", "ax"}, {"u"});  // [N,1,16,9], a graph output
  m.node("Squeeze", {"u", "ax"}, {"q"});
  m.node("Relu", {"q"}, {"qr"});
  m.node("Reshape", {"x", "flat"}, {"xo"});  // a graph output viewing the graph input
  for (const char* out : {"g", "u", "qr", "xo"}) m.output(out);
  const Graph g = m.load();
  check(*dev, g, {"Flatten", "Reshape", "Unsqueeze", "Squeeze", "Gemm", "Conv", "Softmax"},
        {2, 2, 5});
  for (const Placement& p : placement(*dev, g)) EXPECT_EQ(p.device, "cpu-onednn") << p.node;
}

// A residual Add after a Conv runs as oneDNN's sum post-op on a destination that holds the
// residual first: from the graph input (row-major), from a blocked Conv output, as either Add
// operand, with a Relu after it, at batch 1 (where a binary post-op sent oneDNN to a slow gemm
// convolution) and batch 3; the residual is also read by another node after the Add.
TEST(OnednnDevice, ResidualAddIsASumPostOp) {
  REQUIRE_ONEDNN(dev);
  ModelBuilder m(13);
  m.input("x", {-1, 16, 5, 5});
  init(m, "w1", {16, 16, 3, 3}, 1, -0.2f, 0.2f);
  init(m, "b1", {16}, 2);
  init(m, "w2", {16, 16, 1, 1}, 3, -0.3f, 0.3f);
  init(m, "w3", {16, 16, 3, 3}, 4, -0.2f, 0.2f);
  set_attr(m.node("Conv", {"x", "w1", "b1"}, {"a"}), "pads", std::vector<std::int64_t>{1, 1, 1, 1});
  m.node("Add", {"a", "x"}, {"s"});  // residual: the graph input
  m.node("Relu", {"s"}, {"r"});
  m.node("Conv", {"r", "w2"}, {"c"});
  m.node("Add", {"r", "c"}, {"t"});  // residual: a blocked Conv output, as the first operand
  set_attr(m.node("Conv", {"t", "w3"}, {"d"}), "pads", std::vector<std::int64_t>{1, 1, 1, 1});
  m.node("Add", {"d", "r"}, {"y"});  // r is read a third time, after the Add that reads it
  m.output("y");
  check(*dev, m.load(), {"Conv", "Add"}, {1, 3}, -1.f, 1.f, "Conv+Add+Relu Conv+Add Conv+Add");
}

// An operand that broadcasts over a real dimension is not fused into a MatMul (oneDNN 2.6 runs
// such a MatMul in its reference kernels); the Add then runs alone, its dimensions merged into a
// pattern oneDNN's JIT binary takes: Swin's attention bias over windows, and its mask over a
// head dimension in the middle.
TEST(OnednnDevice, BroadcastAddAfterBatchedMatMulRunsApart) {
  REQUIRE_ONEDNN(dev);
  ModelBuilder m(13);
  m.input("q", {-1, 3, 5, 4});
  m.input("k", {-1, 3, 4, 5});
  m.input("w", {-1, 2, 3, 5, 5});
  init(m, "bias", {3, 5, 5}, 1);
  init(m, "mask", {1, 2, 1, 5, 5}, 2);
  m.node("MatMul", {"q", "k"}, {"s"});
  m.node("Add", {"s", "bias"}, {"y"});  // [N,3,5,5] + [3,5,5]: over the windows
  m.node("Add", {"w", "mask"}, {"z"});  // [N,2,3,5,5] + [1,2,1,5,5]: over the heads, in the middle
  m.output("y");
  m.output("z");
  check(*dev, m.load(), {"MatMul", "Add"}, {6, 2}, -1.f, 1.f, "MatMul Add Add");
}

// Arithmetic on the input shapes (Shape -> Gather -> Unsqueeze -> Concat -> Reshape's target)
// is computed once when the plan is built: placement says cpu-onednn for it, and a new batch
// size plans again with the new values.
TEST(OnednnDevice, ShapeArithmeticIsFoldedPerInputShape) {
  REQUIRE_ONEDNN(dev);
  ModelBuilder m(13);
  m.input("x", {-1, 4, 3});
  m.initializer_i64("zero", {}, {0});
  m.initializer_i64("minus_one", {1}, {-1});
  m.initializer_i64("axes", {1}, {0});
  m.node("Shape", {"x"}, {"shape"});
  auto& g = m.node("Gather", {"shape", "zero"}, {"n"});
  set_attr(g, "axis", std::int64_t{0});
  m.node("Unsqueeze", {"n", "axes"}, {"n1"});
  set_attr(m.node("Concat", {"n1", "minus_one"}, {"target"}), "axis", std::int64_t{0});
  m.node("Reshape", {"x", "target"}, {"flat"});  // [N, 12]
  m.node("Relu", {"flat"}, {"y"});
  m.output("y");
  const Graph graph = m.load();
  EXPECT_TRUE(graph.shape_values.count("target"));
  for (const Placement& p : placement(*dev, graph)) EXPECT_EQ(p.device, "cpu-onednn") << p.node;
  check(*dev, graph, {"Shape", "Gather", "Concat", "Reshape"}, {1, 5, 2});
}

// Squeeze-excitation (RegNet, MobileNetV3, EfficientNet): a Conv output with a channel count
// oneDNN blocks by 8 (440, here 24), scaled per channel by a value computed from itself. The
// Conv output has two readers, so the Mul runs alone; beside a src0 blocked by 8 it runs on a
// row-major copy (oneDNN 2.6's JIT binary takes no per-channel operand there).
TEST(OnednnDevice, SqueezeExcitationScaleMatchesTheReference) {
  REQUIRE_ONEDNN(dev);
  for (std::int64_t channels : {24, 440}) {
    SCOPED_TRACE(channels);
    ModelBuilder m(13);
    m.input("x", {-1, 8, 7, 7});
    init(m, "w", {channels, 8, 3, 3}, 1, -0.2f, 0.2f);
    set_attr(m.node("Conv", {"x", "w"}, {"c"}), "pads", std::vector<std::int64_t>{1, 1, 1, 1});
    m.node("GlobalAveragePool", {"c"}, {"p"});
    m.node("Sigmoid", {"p"}, {"s"});
    m.node("Mul", {"c", "s"}, {"y"});
    m.output("y");
    check(*dev, m.load(), {"Conv", "Mul"}, {1, 3});
  }
}

// EfficientNet's squeeze-excitation at batch 8: a 1x1 Conv writes channels-last (oneDNN's
// brgconv), and the Mul by a [N, C, 1, 1] scale runs in that layout on oneDNN's JIT kernel
// rather than on row-major copies merged to [N*C, H*W].
TEST(OnednnDevice, PerSampleChannelScaleInTheConvLayout) {
  REQUIRE_ONEDNN(dev);
  ModelBuilder m(13);
  m.input("x", {-1, 32, 14, 14});
  init(m, "w", {96, 32, 1, 1}, 1, -0.2f, 0.2f);
  m.node("Conv", {"x", "w"}, {"c"});
  m.node("Sigmoid", {"c"}, {"a"});
  m.node("Mul", {"c", "a"}, {"h"});
  m.node("GlobalAveragePool", {"h"}, {"p"});
  m.node("Sigmoid", {"p"}, {"s"});
  m.node("Mul", {"h", "s"}, {"y"});
  m.output("y");
  check(*dev, m.load(), {"Conv", "Mul", "GlobalAveragePool"}, {1, 8});
}

// The same squeeze-excitation where activations are large enough for 16-channel blocks (batch 4
// at 64x64): the Mul keeps the blocked layout (a host step; oneDNN 2.6 has only its reference
// kernel for that broadcast there), 16 and 48 channels.
TEST(OnednnDevice, SqueezeExcitationInSixteenChannelBlocks) {
  REQUIRE_ONEDNN(dev);
  for (const std::int64_t channels : {std::int64_t{16}, std::int64_t{48}}) {
    SCOPED_TRACE(std::to_string(channels) + " channels");
    ModelBuilder m(13);
    m.input("x", {-1, 8, 64, 64});
    init(m, "w", {channels, 8, 1, 1}, 1, -0.3f, 0.3f);
    init(m, "wr", {4, channels, 1, 1}, 2, -0.3f, 0.3f);
    init(m, "we", {channels, 4, 1, 1}, 3, -0.3f, 0.3f);
    init(m, "wp", {8, channels, 1, 1}, 4, -0.2f, 0.2f);
    m.node("Conv", {"x", "w"}, {"c"});
    m.node("Relu", {"c"}, {"h"});
    m.node("GlobalAveragePool", {"h"}, {"p"});
    m.node("Conv", {"p", "wr"}, {"r"});
    m.node("Relu", {"r"}, {"rr"});
    m.node("Conv", {"rr", "we"}, {"e"});
    m.node("Sigmoid", {"e"}, {"s"});
    m.node("Mul", {"h", "s"}, {"scaled"});
    m.node("Conv", {"scaled", "wp"}, {"y"});
    m.output("y");
    check(*dev, m.load(), {"Conv", "Mul", "GlobalAveragePool"}, {1, 4});
  }
}

// MobileNetV2's inverted residual where activations are large (batch x height x width >= 2^14
// runs in 16-channel blocks; 24 channels pad a block): batch 1 at 96x96 stays in oneDNN's own
// layouts, batch 2 is blocked.
TEST(OnednnDevice, InvertedResidualAtLargeActivations) {
  REQUIRE_ONEDNN(dev);
  ModelBuilder m(13);
  m.input("x", {-1, 24, 96, 96});
  init(m, "we", {144, 24, 1, 1}, 1, -0.2f, 0.2f);
  init(m, "wd", {144, 1, 3, 3}, 2, -0.3f, 0.3f);
  init(m, "wp", {24, 144, 1, 1}, 3, -0.1f, 0.1f);
  m.initializer("lo", {}, {0.f}).initializer("hi", {}, {6.f});
  m.node("Conv", {"x", "we"}, {"e"});
  m.node("Clip", {"e", "lo", "hi"}, {"e6"});
  auto& dw = m.node("Conv", {"e6", "wd"}, {"d"});
  set_attr(dw, "group", std::int64_t{144});
  set_attr(dw, "pads", std::vector<std::int64_t>{1, 1, 1, 1});
  m.node("Clip", {"d", "lo", "hi"}, {"d6"});
  m.node("Conv", {"d6", "wp"}, {"p"});
  m.node("Add", {"p", "x"}, {"y"});
  m.output("y");
  check(*dev, m.load(), {"Conv", "Clip", "Add"}, {1, 2});
}
