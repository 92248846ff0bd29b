// cpu-onednn against the reference on the ops that move, combine or reduce tensors: Concat,
// DepthToSpace/SpaceToDepth, the reductions, Max/Min/Sum/Mean, PRelu, LRN, LayerNormalization's
// statistics outputs and the ops that are views (Identity, Dropout, Cast to the same type).
#include "onednn_test_util.h"

using namespace onednn_test;

namespace {

// x [N, C, 6, 6] -> Conv(C -> c_out, 3x3, pad 1) named `out`: a blocked value, as real models
// feed Concat, DepthToSpace and PRelu.
void conv(ModelBuilder& m, const std::string& x, std::int64_t c_in, std::int64_t c_out,
          const std::string& out, unsigned seed) {
  init(m, out + ".w", {c_out, c_in, 3, 3}, seed);
  set_attr(m.node("Conv", {x, out + ".w"}, {out}), "pads", std::vector<std::int64_t>{1, 1, 1, 1});
}

}  // namespace

TEST(OnednnTensorOps, ConcatOfConvOutputsAndOfInputs) {
  REQUIRE_ONEDNN(dev);
  // DenseNet: each block's input is the concatenation of the earlier Conv outputs.
  for (std::int64_t growth : {16, 5}) {  // whole and partial channel blocks
    SCOPED_TRACE("growth " + std::to_string(growth));
    ModelBuilder m(13);
    m.input("x", {-1, 16, 6, 6});
    conv(m, "x", 16, growth, "a", 1);
    set_attr(m.node("Concat", {"x", "a"}, {"xa"}), "axis", std::int64_t{1});
    conv(m, "xa", 16 + growth, growth, "b", 2);
    set_attr(m.node("Concat", {"xa", "b", "a"}, {"y"}), "axis", std::int64_t{1});
    m.output("y");
    check(*dev, m.load(), {"Concat", "Conv"});
  }
  {
    // DenseNet at its own sizes: a row-major block input beside channels-last Conv outputs
    // (brgconv's layout at 32 channels), joined channels-last.
    ModelBuilder m(13);
    // 1x1 Convs with small weights: few terms, far from cancellation at ONNX's tolerance.
    m.input("x", {-1, 64, 14, 14});
    init(m, "a.w", {32, 64, 1, 1}, 3, -0.1f, 0.1f);
    m.node("Conv", {"x", "a.w"}, {"a"});
    set_attr(m.node("Concat", {"x", "a"}, {"xa"}), "axis", std::int64_t{1});
    init(m, "b.w", {32, 96, 1, 1}, 4, -0.1f, 0.1f);
    m.node("Conv", {"xa", "b.w"}, {"b"});
    set_attr(m.node("Concat", {"x", "a", "b"}, {"xab"}), "axis", std::int64_t{1});
    init(m, "s", {1, 128, 1, 1}, 5);
    m.node("Mul", {"xab", "s"}, {"y"});
    m.output("y");
    check(*dev, m.load(), {"Concat", "Conv", "Mul"}, {1, 2});
  }
  for (std::int64_t axis : {0, 1, -1}) {
    SCOPED_TRACE("axis " + std::to_string(axis));
    ModelBuilder m(13);
    m.input("a", {3, 4, 5}).input("b", {3, 4, 5});
    init(m, "c", {3, 4, 5}, 3);
    set_attr(m.node("Concat", {"a", "c", "b"}, {"y"}), "axis", axis);
    m.output("y");
    check(*dev, m.load(), {"Concat"}, {1});
  }
}

TEST(OnednnTensorOps, DepthToSpaceAndSpaceToDepth) {
  REQUIRE_ONEDNN(dev);
  for (const char* mode : {"DCR", "CRD"}) {
    SCOPED_TRACE(mode);
    ModelBuilder m(13);
    m.input("x", {-1, 4, 6, 6});
    conv(m, "x", 4, 12, "c", 1);  // 12 = 3 * 2 * 2
    auto& n = m.node("DepthToSpace", {"c"}, {"y"});
    set_attr(n, "blocksize", std::int64_t{2});
    set_attr(n, "mode", std::string(mode));
    m.output("y");
    check(*dev, m.load(), {"DepthToSpace", "Conv"});
  }
  ModelBuilder m(13);
  m.input("x", {-1, 3, 6, 9});
  set_attr(m.node("SpaceToDepth", {"x"}, {"y"}), "blocksize", std::int64_t{3});
  m.output("y");
  check(*dev, m.load(), {"SpaceToDepth"});
}

TEST(OnednnTensorOps, Reductions) {
  REQUIRE_ONEDNN(dev);
  struct R {
    std::string op;
    std::vector<std::int64_t> axes;
    bool keepdims;
  };
  for (const R& r : std::vector<R>{{"ReduceMax", {1}, true},
                                   {"ReduceMin", {1, 3}, false},
                                   {"ReduceProd", {-1}, true},
                                   {"ReduceL1", {2, 3}, true},
                                   {"ReduceL2", {}, false},
                                   {"ReduceSumSquare", {0, 2}, true},
                                   {"ReduceLogSum", {1}, false},
                                   {"ReduceSum", {2, 3}, true},
                                   {"ReduceSum", {1, 3}, false},
                                   {"ReduceMean", {-1}, false}}) {
    std::string axes;
    for (std::int64_t a : r.axes) axes += std::to_string(a) + " ";
    SCOPED_TRACE(r.op + " axes " + axes + (r.keepdims ? "keepdims" : ""));
    ModelBuilder m(13);
    m.input("x", {-1, 3, 4, 5});
    std::vector<std::string> inputs{"x"};
    // Opset 13's ReduceSum takes its axes as an input (a constant here); the others an attribute.
    if (r.op == "ReduceSum" && !r.axes.empty()) {
      m.initializer_i64("axes", {static_cast<std::int64_t>(r.axes.size())}, r.axes);
      inputs.push_back("axes");
    }
    auto& n = m.node(r.op, inputs, {"y"});
    if (r.op != "ReduceSum" && !r.axes.empty()) set_attr(n, "axes", r.axes);
    set_attr(n, "keepdims", std::int64_t{r.keepdims ? 1 : 0});
    m.output("y");
    // Products and logs of sums stay well conditioned on [0.5, 1.5].
    check(*dev, m.load(), {r.op}, {1, 7}, 0.5f, 1.5f);
  }
}

TEST(OnednnTensorOps, VariadicMaxMinSumMean) {
  REQUIRE_ONEDNN(dev);
  for (const char* op : {"Max", "Min", "Sum", "Mean"}) {
    SCOPED_TRACE(op);
    ModelBuilder m(13);
    m.input("a", {-1, 3, 4}).input("b", {-1, 3, 4});
    init(m, "c", {3, 4}, 1);  // broadcasts with two inputs only
    init(m, "d", {1, 3, 4}, 2);
    m.node(op, {"a", "c"}, {"two"});
    m.node(op, {"two", "b", "a"}, {"three"});
    m.node(op, {"d", "three"}, {"swapped"});
    m.node(op, {"swapped"}, {"y"});  // one input: a view
    m.output("y");
    check(*dev, m.load(), {op});
  }
  // Three inputs that broadcast stay on the reference kernels, and still agree.
  ModelBuilder m(13);
  m.input("a", {-1, 3, 4});
  init(m, "c", {4}, 1);
  init(m, "d", {3, 1}, 2);
  m.node("Max", {"a", "c", "d"}, {"y"});
  m.output("y");
  const Graph g = m.load();
  EXPECT_EQ(placement(*dev, g).at(0).device, "cpu-ref");
  check(*dev, g, {});
}

TEST(OnednnTensorOps, PReluAndLrnAfterConv) {
  REQUIRE_ONEDNN(dev);
  for (const Shape& slope : {Shape{8, 1, 1}, Shape{1}, Shape{6}}) {
    SCOPED_TRACE("slope " + shape_to_string(slope));
    ModelBuilder m(13);
    m.input("x", {-1, 3, 6, 6});
    conv(m, "x", 3, 8, "c", 1);
    init(m, "slope", slope, 2, 0.05f, 0.5f);
    m.node("PRelu", {"c", "slope"}, {"y"});
    m.output("y");
    check(*dev, m.load(), {"PRelu"});
  }
  for (std::int64_t size : {3, 4}) {
    // oneDNN centres an even window one channel lower than ONNX: size 4 stays on cpu-ref.
    SCOPED_TRACE("LRN size " + std::to_string(size));
    ModelBuilder m(13);
    m.input("x", {-1, 3, 6, 6});
    conv(m, "x", 3, 8, "c", 1);
    auto& n = m.node("LRN", {"c"}, {"y"});
    set_attr(n, "size", size);
    set_attr(n, "alpha", 0.02f);
    set_attr(n, "beta", 0.6f);
    set_attr(n, "bias", 1.5f);
    m.output("y");
    const Graph g = m.load();
    for (const Placement& p : placement(*dev, g)) {
      if (p.op == "LRN") {
        EXPECT_EQ(p.device, size % 2 ? "cpu-onednn" : "cpu-ref");
      }
    }
    check(*dev, g, {});
  }
}

TEST(OnednnTensorOps, LayerNormalizationStatistics) {
  REQUIRE_ONEDNN(dev);
  for (std::int64_t axis : {1, -1}) {
    SCOPED_TRACE("axis " + std::to_string(axis));
    ModelBuilder m(17);
    m.input("x", {-1, 4, 6});
    const Shape p = axis == 1 ? Shape{4, 6} : Shape{6};
    init(m, "s", p, 1);
    init(m, "b", p, 2);
    auto& n = m.node("LayerNormalization", {"x", "s", "b"}, {"y", "mean", "inv_std"});
    set_attr(n, "axis", axis);
    set_attr(n, "epsilon", 1e-2f);
    m.output("y").output("mean").output("inv_std");
    check(*dev, m.load(), {"LayerNormalization"}, {1, 7}, -3.f, 5.f);
  }
  ModelBuilder m(17);  // only InvStdDev wanted
  m.input("x", {-1, 6});
  init(m, "s", {6}, 1);
  m.node("LayerNormalization", {"x", "s"}, {"y", "", "inv_std"});
  m.output("inv_std");
  check(*dev, m.load(), {"LayerNormalization"});
}

TEST(OnednnTensorOps, ActivationsBeyondReluFamily) {
  REQUIRE_ONEDNN(dev);
  for (const char* op : {"Elu", "Selu", "Softplus", "Round", "Reciprocal", "Mish"}) {
    SCOPED_TRACE(op);
    ModelBuilder m(18);
    m.input("x", {-1, 3, 5, 4});
    auto& n = m.node(op, {"x"}, {"y"});
    if (std::string(op) == "Elu") set_attr(n, "alpha", 0.7f);
    if (std::string(op) == "Selu") set_attr(n, "gamma", 2.f);
    m.output("y");
    // Reciprocal away from 0, where relative error explodes; Round on halves too (ties to even).
    const bool reciprocal = std::string(op) == "Reciprocal";
    check(*dev, m.load(), {op}, {1, 7}, reciprocal ? 0.2f : -4.f, 4.f);
  }
  ModelBuilder m(13);  // ties: 0.5, 1.5, 2.5 round to 0, 2, 2 (and their negatives)
  m.input("x", {6});
  m.node("Round", {"x"}, {"y"});
  m.output("y");
  const Tensor x = Tensor::from_vector<float>({6}, {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f});
  const Tensor y = dev->compile(m.load())->run({{"x", x}}).at("y");
  EXPECT_EQ(y.to_f32(), (std::vector<float>{0.f, 2.f, 2.f, -0.f, -2.f, -2.f}));
}

TEST(OnednnTensorOps, ViewOpsAndDropoutPlacement) {
  REQUIRE_ONEDNN(dev);
  ModelBuilder m(13);
  m.input("x", {-1, 3, 4});
  m.node("Relu", {"x"}, {"r"});
  m.node("Identity", {"r"}, {"i"});
  m.node("Dropout", {"i"}, {"d"});
  auto& cast = m.node("Cast", {"d"}, {"c"});
  set_attr(cast, "to", std::int64_t{1});  // float to float
  m.node("Sigmoid", {"c"}, {"y"});
  m.output("y");
  const Graph g = m.load();
  check(*dev, g, {"Identity", "Dropout", "Cast"});
  // torch's export of a Dropout of ratio 0: training_mode true, a mask nobody reads; a view.
  ModelBuilder zero(13);
  zero.input("x", {-1, 3});
  zero.initializer("ratio", {}, {0.f});
  zero.initializer("training", {}, {1.f});
  zero.node("Dropout", {"x", "ratio", "training"}, {"d", "unread_mask"});
  zero.node("Tanh", {"d"}, {"y"});
  zero.output("y");
  check(*dev, zero.load(), {"Dropout"});
  // A Dropout whose mask is read stays on the reference kernels.
  ModelBuilder masked(13);
  masked.input("x", {-1, 3});
  masked.node("Dropout", {"x"}, {"y", "mask"});
  masked.output("y").output("mask", 9);
  EXPECT_EQ(placement(*dev, masked.load()).at(0).device, "cpu-ref");
}

TEST(OnednnTensorOps, ConstantSlicesAndGathersAreStridedCopies) {
  REQUIRE_ONEDNN(dev);
  struct S {
    std::vector<std::int64_t> starts, ends, axes, steps;
    bool on_device;
  };
  for (const S& s : std::vector<S>{{{1}, {3}, {1}, {1}, true},
                                   {{0, -4}, {INT64_MAX, -1}, {2, 3}, {2, 1}, true},
                                   {{-2}, {-100}, {1}, {-1}, false},  // reversed: no view
                                   {{5}, {4}, {3}, {1}, true}}) {
    SCOPED_TRACE(shape_to_string(s.starts) + " " + shape_to_string(s.ends));
    ModelBuilder m(13);
    m.input("x", {-1, 4, 7, 6});
    m.initializer_i64("starts", {static_cast<std::int64_t>(s.starts.size())}, s.starts);
    m.initializer_i64("ends", {static_cast<std::int64_t>(s.ends.size())}, s.ends);
    m.initializer_i64("axes", {static_cast<std::int64_t>(s.axes.size())}, s.axes);
    m.initializer_i64("steps", {static_cast<std::int64_t>(s.steps.size())}, s.steps);
    m.node("Relu", {"x"}, {"r"});
    m.node("Slice", {"r", "starts", "ends", "axes", "steps"}, {"y"});
    m.output("y");
    const Graph g = m.load();
    if (s.starts[0] == 5) {  // an empty slice: nothing to run anywhere
      EXPECT_NE(placement(*dev, g).back().device, "cpu-onednn");
      continue;
    }
    EXPECT_EQ(placement(*dev, g).back().device, s.on_device ? "cpu-onednn" : "cpu-ref");
    check(*dev, g, {});
  }
  // Swin's q, k, v: [3, N, heads, tokens, dim] split by Gather of index 0, 1 and -1 on axis 0;
  // a one-element index vector keeps the axis.
  ModelBuilder m(13);
  m.input("x", {3, -1, 2, 5, 4});
  m.initializer_i64("i0", {}, {0})
      .initializer_i64("i1", {}, {1})
      .initializer_i64("last", {1}, {-1});
  m.node("Gather", {"x", "i0"}, {"q"});
  m.node("Gather", {"x", "i1"}, {"k"});
  set_attr(m.node("Gather", {"x", "last"}, {"v"}), "axis", std::int64_t{0});
  m.output("q").output("k").output("v");
  check(*dev, m.load(), {"Gather"});
  // Constant indices that are no box of the input: rows copied on the host.
  ModelBuilder two(13);
  two.input("x", {-1, 5});
  two.initializer_i64("i", {2}, {3, 1});
  set_attr(two.node("Gather", {"x", "i"}, {"y"}), "axis", std::int64_t{1});
  two.output("y");
  check(*dev, two.load(), {"Gather"});
}

// A decoder's token embedding: ids known only at run time (int64, negative ones counting from
// the end) pick rows of a constant table, on any axis; an index out of range is an error that
// names the node.
TEST(OnednnTensorOps, GatherByRunTimeIndices) {
  REQUIRE_ONEDNN(dev);
  for (const std::int64_t axis : {std::int64_t{0}, std::int64_t{1}}) {
    SCOPED_TRACE("axis " + std::to_string(axis));
    ModelBuilder m(13);
    m.input("ids", {-1, 3}, 7);
    init(m, "table", {6, 4}, 1);
    set_attr(m.node("Gather", {"table", "ids"}, {"e"}, "embed"), "axis", axis);
    m.node("Relu", {"e"}, {"y"});
    m.output("y");
    const Graph g = m.load();
    EXPECT_EQ(placement(*dev, g).at(0).device, "cpu-onednn");
    const std::int64_t rows = axis == 0 ? 6 : 4;
    const Tensor ids = Tensor::from_vector<std::int64_t>({2, 3}, {0, rows - 1, 2, -1, 1, -rows});
    auto compiled = dev->compile(g);
    for (int repeat = 0; repeat < 2; ++repeat)
      expect_close(compiled->run({{"ids", ids}}).at("y"),
                   ReferenceExecutor(g).run({{"ids", ids}}).at("y"), "embedding");
    const Tensor bad = Tensor::from_vector<std::int64_t>({1, 3}, {0, rows, 1});
    try {
      compiled->run({{"ids", bad}});
      ADD_FAILURE() << "an index out of range ran";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("embed"), std::string::npos) << e.what();
    }
  }
}

// Expand as grouped-query attention writes it ([b, kv, 1, s, d] -> [b, kv, n, s, d]) and as
// masks broadcast ([1, 1, s, s] -> [b, 1, s, s]); a middle dimension repeated and a last one.
TEST(OnednnTensorOps, ExpandRepeatsAlongSizeOneDimensions) {
  REQUIRE_ONEDNN(dev);
  struct Case {
    Shape x, y;
  };
  for (const Case& c : {Case{{-1, 2, 1, 3, 4}, {-1, 2, 3, 3, 4}}, Case{{1, 1, 3, 3}, {-1, 1, 3, 3}},
                        Case{{-1, 3, 1}, {-1, 3, 5}}, Case{{3, 1}, {-1, 2, 3, 4}}}) {
    SCOPED_TRACE(shape_to_string(c.x) + " -> " + shape_to_string(c.y));
    ModelBuilder m(13);
    // The batch comes from an input; the target shape from Shape arithmetic as exporters write.
    m.input("b", {-1, 1});
    const bool x_input = c.x[0] < 0;
    if (x_input) {
      m.input("x", c.x);
    } else {
      init(m, "x", c.x, 3);
    }
    m.node("Shape", {"b"}, {"bs"});
    m.initializer_i64("zero", {1}, {0});
    m.node("Gather", {"bs", "zero"}, {"batch"});
    Shape rest(c.y.begin() + 1, c.y.end());
    m.initializer_i64("rest", {static_cast<std::int64_t>(rest.size())}, rest);
    set_attr(m.node("Concat", {"batch", "rest"}, {"shape"}), "axis", std::int64_t{0});
    m.node("Relu", {"x"}, {"r"});
    m.node("Expand", {"r", "shape"}, {"e"});
    m.node("Sigmoid", {"e"}, {"y"});
    m.output("y");
    const Graph g = m.load();
    std::unique_ptr<CompiledGraph> compiled = dev->compile(g);
    for (const std::int64_t batch : {std::int64_t{1}, std::int64_t{3}}) {
      TensorMap in{{"b", Tensor::from_vector<float>({batch, 1}, random_values(batch, 5))}};
      if (x_input) {
        Shape xs = c.x;
        xs[0] = batch;
        in["x"] = Tensor::from_vector<float>(xs, random_values(shape_numel(xs), 6));
      }
      for (const Placement& p : placement(*dev, g))
        if (p.op == "Expand") {
          EXPECT_EQ(p.device, "cpu-onednn") << p.reason;
        }
      expect_close(compiled->run(in).at("y"), ReferenceExecutor(g).run(in).at("y"),
                   "batch " + std::to_string(batch));
    }
  }
}

TEST(OnednnTensorOps, SplitAndConstantPad) {
  REQUIRE_ONEDNN(dev);
  for (const std::vector<std::int64_t>& sizes :
       {std::vector<std::int64_t>{2, 6}, std::vector<std::int64_t>{4, 4}}) {
    SCOPED_TRACE(shape_to_string(sizes));
    ModelBuilder m(13);
    m.input("x", {-1, 8, 5});
    m.initializer_i64("split", {2}, sizes);
    set_attr(m.node("Split", {"x", "split"}, {"a", "b"}), "axis", std::int64_t{1});
    m.output("a").output("b");
    check(*dev, m.load(), {"Split"});
  }
  for (float value : {0.f, -1.5f}) {
    SCOPED_TRACE("pad value " + std::to_string(value));
    ModelBuilder m(13);
    m.input("x", {-1, 3, 6, 6});
    conv(m, "x", 3, 4, "c", 1);
    m.initializer_i64("pads", {8}, {0, 0, 1, 2, 0, 1, 3, 0});
    m.initializer("value", {}, {value});
    m.node("Pad", {"c", "pads", "value"}, {"p"});
    m.node("Relu", {"p"}, {"y"});
    m.output("y");
    check(*dev, m.load(), {"Pad"});
  }
  ModelBuilder reflect(13);  // other modes stay on the reference kernels
  reflect.input("x", {-1, 3, 6});
  reflect.initializer_i64("pads", {6}, {0, 0, 1, 0, 0, 1});
  set_attr(reflect.node("Pad", {"x", "pads"}, {"y"}), "mode", std::string("reflect"));
  reflect.output("y");
  EXPECT_EQ(placement(*dev, reflect.load()).at(0).device, "cpu-ref");
}

// oneDNN 2.6's JIT linear resampling crashed (SIGSEGV) at LR-ASPP's shapes from batch 7
// ([7,128,14,14] -> 28x28), in any layout: Resize stays on the reference kernels.
TEST(OnednnTensorOps, ResizeStaysOnTheReferenceKernels) {
  REQUIRE_ONEDNN(dev);
  ModelBuilder m(13);
  m.input("x", {-1, 128, 14, 14});
  m.initializer("roi", {0}, {});
  m.initializer("scales", {4}, {1.f, 1.f, 2.f, 2.f});
  auto& n = m.node("Resize", {"x", "roi", "scales"}, {"y"});
  set_attr(n, "mode", std::string("linear"));
  m.output("y");
  const Graph g = m.load();
  EXPECT_EQ(placement(*dev, g).at(0).device, "cpu-ref");
  check(*dev, g, {}, {8});
}
