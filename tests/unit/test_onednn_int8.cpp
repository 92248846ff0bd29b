// cpu-onednn's integer kernels (use_integer_kernels) against the simulation on cpu-ref: int8
// Conv, Gemm and MatMul, requantization fused through MaxPool and Flatten, FakeQuant on the CPU,
// weight-only packed weights, the layers that stay simulated, and the bundled classifiers.
#include <cstdio>
#include <filesystem>

#include "graph/passes.h"
#include "onednn_test_util.h"
#include "quantscope/dataset.h"
#include "quantscope/evaluate.h"
#include "quantscope/quant.h"
#include "quantscope/quant_format.h"
#include "random_dataset.h"

using namespace onednn_test;

namespace {

std::unique_ptr<Device> cpu_ref() {
  return registry().create_device("cpu-ref");
}

// cpu-onednn with its integer kernels; the test is skipped on a CPU without VNNI, where the
// device refuses them (oneDNN's int8 would saturate there).
#define REQUIRE_ONEDNN_INT8(dev)                    \
  std::unique_ptr<Device> dev = onednn();           \
  if (!dev) GTEST_SKIP() << "no cpu-onednn plugin"; \
  if (!dev->use_integer_kernels(true))              \
  GTEST_SKIP() << "cpu-onednn: " << dev->environment()["integer_kernels"]

// The simulation graph of `g` under `config`, calibrated on random samples.
Graph simulate(const Graph& g, const QuantConfig& config, const Shape& sample) {
  qs::test::RandomDataset data(64, sample, 7);
  auto device = cpu_ref();
  return apply_quantization(g, quantize_model(g, config, data, *device));
}

// How far an output is from the simulation, in output quantization steps.
struct StepDiff {
  std::int64_t count = 0, exact = 0, within = 0;
  double worst = 0;  // steps
};

// `step` per channel; the channel of element i is (i / inner) % step.size().
StepDiff compare_steps(const Tensor& got, const Tensor& want, const std::vector<float>& step,
                       std::int64_t inner) {
  StepDiff d;
  EXPECT_EQ(shape_to_string(got.shape()), shape_to_string(want.shape()));
  if (got.shape() != want.shape()) return d;
  const std::vector<float> g = got.to_f32(), w = want.to_f32();
  const std::int64_t channels = static_cast<std::int64_t>(step.size());
  for (std::size_t i = 0; i < g.size(); ++i) {
    const float s =
        step[static_cast<std::size_t>((static_cast<std::int64_t>(i) / inner) % channels)];
    const double diff = std::abs(double(g[i]) - double(w[i]));
    ++d.count;
    // Float rounding of the simulation's fp32 sums: a tiny fraction of the value.
    const double slack = 1e-5 * std::abs(double(w[i])) + 1e-3 * s;
    d.exact += diff <= slack;
    d.within += diff <= s + slack;
    d.worst = std::max(d.worst, diff / s);
  }
  return d;
}

// The output step of the quantized node that writes `value`: x_scale * w_scale per channel.
std::vector<float> output_step(const Graph& sim, const std::string& value) {
  for (const Node& n : sim.nodes) {
    if (n.outputs.empty() || n.outputs[0] != value) continue;
    std::string why;
    const auto weights = quant::read_weights(n, why);
    const auto x = quant::read_input_grid(n);
    if (!weights || !x) {
      ADD_FAILURE() << n.name << " is not a W8A8 layer: " << why;
      return {1.0f};
    }
    const std::vector<float> w = weights->scales->to_f32();
    std::vector<float> s(w.size());
    for (std::size_t i = 0; i < w.size(); ++i) s[i] = x->scale * w[i];
    return s;
  }
  ADD_FAILURE() << "no node writes " << value;
  return {1.0f};
}

struct Outputs {
  Tensor got, want;
  std::string ops;
};

// Runs the simulation on cpu-ref and on cpu-onednn's integer kernels, on random inputs.
Outputs run_both(Device& dev, const Graph& sim, std::int64_t batch, unsigned seed) {
  const ValueInfo& in = sim.inputs[0];
  Shape s = in.shape;
  for (auto& d : s) d = d < 0 ? batch : d;
  qs::test::RandomDataset data(batch, Shape(s.begin() + 1, s.end()), seed);
  const TensorMap inputs{{in.name, data.read(0, batch).inputs}};
  Outputs o;
  o.want = ReferenceExecutor(sim).run(inputs).at(sim.outputs[0].name);
  std::unique_ptr<CompiledGraph> compiled = dev.compile(sim);
  compiled->run(inputs);  // the plan is built on the first run, reused on the second
  compiled->set_profiling(true);
  o.got = compiled->run(inputs).at(sim.outputs[0].name);
  o.ops = step_ops(*compiled);
  return o;
}

// Outputs of a layer that the integer path computes: within one step, nearly all exact.
void expect_within_one_step(const Outputs& o, const std::vector<float>& step, std::int64_t inner,
                            double exact_share = 0.99) {
  const StepDiff d = compare_steps(o.got, o.want, step, inner);
  EXPECT_EQ(d.within, d.count) << "worst " << d.worst << " steps";
  EXPECT_GE(d.exact, static_cast<std::int64_t>(exact_share * d.count))
      << d.exact << " of " << d.count << " exact";
}

Graph conv_model(std::int64_t channels, std::int64_t out, std::int64_t group,
                 const std::string& act, bool bias = true, std::int64_t stride = 1) {
  ModelBuilder m(13);
  m.input("x", {-1, channels, 9, 9});
  init(m, "w", {out, channels / group, 3, 3}, 1);
  init(m, "b", {out}, 2);
  auto& n = m.node(
      "Conv", bias ? std::vector<std::string>{"x", "w", "b"} : std::vector<std::string>{"x", "w"},
      {act.empty() ? "y" : "t"}, "conv");
  set_attr(n, "pads", std::vector<std::int64_t>{1, 1, 1, 1});
  if (group != 1) set_attr(n, "group", group);
  if (stride != 1) set_attr(n, "strides", std::vector<std::int64_t>{stride, stride});
  if (act == "Clip") {
    m.initializer("lo", {}, {0.f}).initializer("hi", {}, {1.5f});
    m.node("Clip", {"t", "lo", "hi"}, {"y"}, "act");
  } else if (!act.empty()) {
    m.node(act, {"t"}, {"y"}, "act");
  }
  m.output("y");
  return m.load();
}

// A bundled classifier's simulation graph: W8A8 defaults, calibrated on 256 training images.
Graph bundled_simulation(const std::string& name, Device& device) {
  const Graph g = load_model(std::string(QS_RESOURCES_MODELS_DIR) + "/" + name + ".onnx");
  DataOptions opts;
  opts.preprocess = preprocess_from_model(g);
  opts.limit = 256;
  auto calib = open_dataset("fashion-mnist:train", opts);
  return apply_quantization(g, quantize_model(g, QuantConfig{}, *calib, device));
}

// The first `limit` test images, preprocessed as the model says.
std::unique_ptr<Dataset> bundled_test_images(const Graph& g, std::int64_t limit) {
  DataOptions opts;
  opts.preprocess = preprocess_from_model(g);
  opts.limit = limit;
  return open_dataset("fashion-mnist:test", opts);
}

}  // namespace

TEST(OnednnInt8, DeviceOffersIntegerKernels) {
  REQUIRE_ONEDNN(dev);
  EXPECT_FALSE(cpu_ref()->use_integer_kernels(true));
  const Graph sim = simulate(conv_model(4, 8, 1, "Relu"), QuantConfig{}, {4, 9, 9});
  auto fake_quant_device = [&] {
    for (const Placement& p : placement(*dev, sim))
      if (p.op == "FakeQuant") return p.device;
    return std::string("none");
  };
  EXPECT_EQ(fake_quant_device(), "cpu-ref");  // simulation: the reference kernel
  if (!dev->use_integer_kernels(true)) {
    EXPECT_EQ(dev->environment()["integer_kernels"].rfind("no (", 0), 0u);
    EXPECT_EQ(fake_quant_device(), "cpu-ref");
    GTEST_SKIP() << "cpu-onednn: " << dev->environment()["integer_kernels"];
  }
  EXPECT_EQ(fake_quant_device(), "cpu-onednn");
  EXPECT_FALSE(dev->use_integer_kernels(false));
  EXPECT_EQ(fake_quant_device(), "cpu-ref");
}

TEST(OnednnInt8, ConvMatchesSimulation) {
  REQUIRE_ONEDNN(plain);
  REQUIRE_ONEDNN_INT8(dev);
  struct Case {
    std::string label;
    std::int64_t channels, out, group;
    std::string act;
    bool bias, symmetric_acts;
    std::int64_t stride;
  };
  const std::vector<Case> cases = {
      {"plain", 4, 8, 1, "", true, false, 1},
      {"relu", 4, 8, 1, "Relu", true, false, 1},
      {"grouped hardswish", 6, 8, 2, "HardSwish", true, false, 1},
      {"depthwise clip stride 2", 8, 8, 8, "Clip", true, false, 2},
      {"no bias", 5, 3, 1, "Relu", false, false, 1},
      {"signed activations", 4, 8, 1, "", true, true, 1},
      {"3 input channels: fp32", 3, 8, 1, "Relu", true, false, 1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    const Graph g = conv_model(c.channels, c.out, c.group, c.act, c.bias, c.stride);
    QuantConfig config;
    config.defaults.act_symmetric = c.symmetric_acts;
    const Graph sim = simulate(g, config, {c.channels, 9, 9});
    const Outputs o = run_both(*dev, sim, 5, 11);
    const std::string op = "Conv" + std::string(c.act.empty() ? "" : "+" + c.act);
    if (c.channels < 4) {  // oneDNN's int8 kernels would be slower: simulated in fp32
      EXPECT_EQ(o.ops.substr(0, op.size() + 56),
                "FakeQuant | " + op + " (simulated: fewer than 4 input channels) | ");
      expect_close(o.got, o.want, c.label);
      continue;
    }
    EXPECT_NE(o.ops.find(op + " (int8)"), std::string::npos) << o.ops;
    const std::int64_t spatial = c.stride == 1 ? 81 : 25;
    // The simulation sums the integers exactly too: every output is the integer kernels'.
    expect_within_one_step(o, output_step(sim, c.act.empty() ? "y" : "t"), spatial, 1.0);
    // Without integer kernels the same graph is simulated.
    std::unique_ptr<CompiledGraph> simulated = plain->compile(sim);
    simulated->set_profiling(true);
    const TensorMap inputs{{"x", Tensor::from_vector<float>({1, c.channels, 9, 9},
                                                            random_values(c.channels * 81, 3))}};
    expect_close(simulated->run(inputs).at("y"), ReferenceExecutor(sim).run(inputs).at("y"),
                 "simulated");
    EXPECT_EQ(step_ops(*simulated).find("int8"), std::string::npos);
  }
}

TEST(OnednnInt8, GemmAndMatMulMatchSimulation) {
  REQUIRE_ONEDNN(plain);
  REQUIRE_ONEDNN_INT8(dev);
  for (bool trans_b : {true, false}) {
    SCOPED_TRACE(trans_b ? "Gemm transB" : "Gemm");
    ModelBuilder m(13);
    m.input("x", {-1, 24});
    init(m, "w", trans_b ? Shape{10, 24} : Shape{24, 10}, 1);
    init(m, "b", {10}, 2);
    auto& n = m.node("Gemm", {"x", "w", "b"}, {"t"}, "fc");
    if (trans_b) set_attr(n, "transB", std::int64_t{1});
    m.node("Relu", {"t"}, {"y"}, "relu");
    m.output("y");
    const Graph sim = simulate(m.load(), QuantConfig{}, {24});
    const Outputs o = run_both(*dev, sim, 7, 5);
    EXPECT_NE(o.ops.find("Gemm+Relu (int8)"), std::string::npos) << o.ops;
    expect_within_one_step(o, output_step(sim, "t"), 1, 1.0);
  }
  {
    SCOPED_TRACE("MatMul [N, 5, 16] x [16, 12] + bias, Relu");
    ModelBuilder m(13);
    m.input("x", {-1, 5, 16});
    init(m, "w", {16, 12}, 1);
    init(m, "b", {12}, 2);
    m.node("MatMul", {"x", "w"}, {"t"}, "mm");
    m.node("Add", {"t", "b"}, {"u"}, "bias");
    m.node("Relu", {"u"}, {"y"}, "relu");
    m.output("y");
    const Graph sim = simulate(m.load(), QuantConfig{}, {5, 16});
    const Outputs o = run_both(*dev, sim, 3, 9);
    EXPECT_NE(o.ops.find("MatMul+Add+Relu (int8)"), std::string::npos) << o.ops;
    expect_within_one_step(o, output_step(sim, "t"), 1, 1.0);
  }
}

// Conv(1 channel) -> Relu -> MaxPool -> Conv(64) -> Relu -> MaxPool -> Conv(8) -> Relu -> MaxPool
// -> Flatten -> Gemm. The first Conv stays fp32 (one input channel); its pooled output is
// quantized by a reorder straight into the next Conv's layout. That one writes the codes of the
// next (requantization fused), which its MaxPool (64 channels) pools as codes. The last MaxPool
// (8 channels) pools in fp32, where oneDNN is faster, and a FakeQuant step quantizes after it.
TEST(OnednnInt8, ChainedLayersRequantizeInPlace) {
  REQUIRE_ONEDNN(plain);
  REQUIRE_ONEDNN_INT8(dev);
  ModelBuilder m(13);
  m.input("x", {-1, 1, 16, 16});
  init(m, "w0", {4, 1, 3, 3}, 1);
  init(m, "b0", {4}, 2);
  init(m, "w1", {64, 4, 3, 3}, 3);
  init(m, "b1", {64}, 4);
  init(m, "w2", {8, 64, 3, 3}, 5, -0.2f, 0.2f);
  init(m, "b2", {8}, 6);
  init(m, "w3", {5, 32}, 7, -0.3f, 0.3f);
  init(m, "b3", {5}, 8);
  const std::vector<std::int64_t> pads{1, 1, 1, 1}, two{2, 2};
  for (int k = 0; k < 3; ++k) {
    const std::string i = std::to_string(k), in = k == 0 ? "x" : "p" + std::to_string(k - 1);
    set_attr(m.node("Conv", {in, "w" + i, "b" + i}, {"c" + i}, "conv" + i), "pads", pads);
    m.node("Relu", {"c" + i}, {"r" + i}, "relu" + i);
    auto& pool = m.node("MaxPool", {"r" + i}, {"p" + i}, "pool" + i);
    set_attr(pool, "kernel_shape", two);
    set_attr(pool, "strides", two);
  }
  m.node("Flatten", {"p2"}, {"f"}, "flatten");
  auto& fc = m.node("Gemm", {"f", "w3", "b3"}, {"y"}, "fc");
  set_attr(fc, "transB", std::int64_t{1});
  m.output("y");
  const Graph sim = simulate(m.load(), QuantConfig{}, {1, 16, 16});
  const Outputs o = run_both(*dev, sim, 16, 21);
  EXPECT_EQ(o.ops,
            "FakeQuant | Conv+Relu (simulated: fewer than 4 input channels) | MaxPool | "
            "FakeQuant (int8) | Conv+Relu+FakeQuant (int8) | "
            "MaxPool (int8) | Conv+Relu (int8) | MaxPool | Flatten | FakeQuant (int8) | "
            "Gemm (int8) | ");
  // The first Conv sums in fp32 here and in the simulation, in another order: a code of its
  // output can land on the other side of a rounding boundary and move later outputs by more
  // than one step; that is rare. The integer layers after it match the simulation exactly.
  const StepDiff d = compare_steps(o.got, o.want, output_step(sim, "y"), 1);
  EXPECT_GE(d.within, d.count * 95 / 100) << "worst " << d.worst << " steps";
  EXPECT_GE(d.exact, d.count * 9 / 10) << d.exact << " of " << d.count;
}

// A residual block: Conv -> Add (the block's input) -> Relu runs as one int8 convolution with a
// sum post-op on a destination holding the residual (as a binary post-op oneDNN 2.6 ran it 300x
// slower at batch 1: ResNet-50 int8 1.2 s), its requantization as a step of its own.
TEST(OnednnInt8, ResidualAddIsASumPostOp) {
  REQUIRE_ONEDNN(plain);
  REQUIRE_ONEDNN_INT8(dev);
  ModelBuilder m(13);
  m.input("x", {-1, 8, 9, 9});
  init(m, "w0", {8, 8, 3, 3}, 1, -0.3f, 0.3f);
  init(m, "b0", {8}, 2);
  init(m, "w1", {8, 8, 3, 3}, 3, -0.3f, 0.3f);
  init(m, "b1", {8}, 4);
  init(m, "w2", {4, 8, 3, 3}, 5, -0.3f, 0.3f);
  init(m, "b2", {4}, 6);
  const std::vector<std::int64_t> pads{1, 1, 1, 1};
  set_attr(m.node("Conv", {"x", "w0", "b0"}, {"c0"}, "conv0"), "pads", pads);
  m.node("Relu", {"c0"}, {"r0"}, "relu0");
  set_attr(m.node("Conv", {"r0", "w1", "b1"}, {"c1"}, "conv1"), "pads", pads);
  m.node("Add", {"c1", "r0"}, {"a"}, "residual");
  m.node("Relu", {"a"}, {"r1"}, "relu1");
  set_attr(m.node("Conv", {"r1", "w2", "b2"}, {"y"}, "conv2"), "pads", pads);
  m.output("y");
  const Graph sim = simulate(m.load(), QuantConfig{}, {8, 9, 9});
  for (const std::int64_t batch : {1, 3}) {
    SCOPED_TRACE("batch " + std::to_string(batch));
    const Outputs o = run_both(*dev, sim, batch, 31);
    EXPECT_NE(o.ops.find("Conv+Add+Relu (int8) | FakeQuant (int8) | Conv (int8)"),
              std::string::npos)
        << o.ops;
    // The Add sums fp32 values in another order than the simulation: a code of the block's
    // output can land on the other side of a rounding boundary; that is rare.
    const StepDiff d = compare_steps(o.got, o.want, output_step(sim, "y"), 81);
    EXPECT_GE(d.within, d.count * 95 / 100) << "worst " << d.worst << " steps";
    EXPECT_GE(d.exact, d.count * 9 / 10) << d.exact << " of " << d.count;
  }
}

// Attention-like: projections (int8 MatMul + bias) -> Reshape -> Transpose -> FakeQuant -> a
// MatMul of two activations (simulated). The fake quantization moves into the projections'
// post-ops (it commutes with Reshape and Transpose) and costs no step of its own.
TEST(OnednnInt8, FakeQuantFusesIntoTheProducer) {
  REQUIRE_ONEDNN(plain);
  REQUIRE_ONEDNN_INT8(dev);
  ModelBuilder m(13);
  m.input("x", {-1, 4, 16});
  init(m, "wq", {16, 16}, 1);
  init(m, "bq", {16}, 2);
  init(m, "wk", {16, 16}, 3);
  init(m, "bk", {16}, 4);
  m.initializer_i64("heads", {4}, {0, 4, 2, 8});
  for (const char* p : {"q", "k"}) {
    const std::string n(p);
    m.node("MatMul", {"x", "w" + n}, {n + "0"}, n + "_proj");
    m.node("Add", {n + "0", "b" + n}, {n + "1"}, n + "_bias");
    m.node("Reshape", {n + "1", "heads"}, {n + "2"}, n + "_reshape");
    set_attr(
        m.node("Transpose", {n + "2"}, {n + "3"}, n + "_transpose"), "perm",
        n == "q" ? std::vector<std::int64_t>{0, 2, 1, 3} : std::vector<std::int64_t>{0, 2, 3, 1});
  }
  m.node("MatMul", {"q3", "k3"}, {"y"}, "scores");
  m.output("y");
  const Graph sim = simulate(m.load(), QuantConfig{}, {4, 16});
  const Outputs o = run_both(*dev, sim, 6, 3);
  EXPECT_NE(
      o.ops.find("MatMul+Add+FakeQuant (int8) | Reshape | Transpose | MatMul+Add+FakeQuant "
                 "(int8) | Reshape | Transpose | MatMul (simulated: MatMul of two activations) | "),
      std::string::npos)
      << o.ops;
  // A q or k code one apart from the simulation's (a value at a rounding tie) moves a score by
  // one step of q times k, or k times q.
  const std::vector<float> got = o.got.to_f32(), want = o.want.to_f32();
  float largest = 0;
  std::size_t exact = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    largest = std::max(largest, std::abs(want[i]));
    exact += std::abs(got[i] - want[i]) <= 1e-5f * std::max(1.0f, std::abs(want[i]));
  }
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 0.02f * largest);
  EXPECT_GE(exact, got.size() * 9 / 10);
}

// A FakeQuant read by a simulated layer runs on oneDNN in fp32, bit for bit the reference's.
TEST(OnednnInt8, FakeQuantInFloatIsBitExact) {
  REQUIRE_ONEDNN(plain);
  REQUIRE_ONEDNN_INT8(dev);
  struct Grid {
    std::int64_t zero_point, qmin, qmax;
  };
  for (const Grid& grid : {Grid{0, 0, 255}, Grid{3, 0, 255}, Grid{128, 0, 255}, Grid{0, -127, 127},
                           Grid{1000, 0, 65535}}) {
    SCOPED_TRACE("zero point " + std::to_string(grid.zero_point) + ", qmax " +
                 std::to_string(grid.qmax));
    ModelBuilder b(13);
    b.input("x", {-1, 3, 5});
    auto& n = b.node("FakeQuant", {"x"}, {"y"}, "fq");
    n.set_domain(kQuantscopeDomain);
    set_attr(n, "scale", 0.0173f);
    set_attr(n, "zero_point", grid.zero_point);
    set_attr(n, "qmin", grid.qmin);
    set_attr(n, "qmax", grid.qmax);
    set_attr(n, "bits", std::int64_t{grid.qmax > 255 ? 16 : 8});
    b.output("y");
    b.proto().add_opset_import()->set_domain(kQuantscopeDomain);
    const Graph g = b.load();
    for (std::int64_t batch : {7, 150}) {  // 105 values: no multiple of 4; 2250
      std::vector<float> v = random_values(batch * 15, 4, -3.f, 3.f);
      for (int i = 0; i < 20; ++i) v[i] = 0.0173f * (0.5f + static_cast<float>(i));  // ties
      v[30] = NAN;
      v[31] = INFINITY;
      v[32] = -INFINITY;
      v[33] = 1e30f;
      v[104] = -1e30f;
      const TensorMap inputs{{"x", Tensor::from_vector<float>({batch, 3, 5}, v)}};
      const Tensor want = ReferenceExecutor(g).run(inputs).at("y");
      std::unique_ptr<CompiledGraph> compiled = dev->compile(g);
      compiled->set_profiling(true);
      const Tensor got = compiled->run(inputs).at("y");
      EXPECT_EQ(step_ops(*compiled), "FakeQuant | ");
      EXPECT_EQ(got.to_f32(), want.to_f32());
    }
  }
}

// Asymmetric weights, 16-bit activations, per-group weights with activations and MatMul of two
// activations stay simulated: fp32 results as on cpu-ref.
TEST(OnednnInt8, OtherLayersStaySimulated) {
  REQUIRE_ONEDNN(plain);
  REQUIRE_ONEDNN_INT8(dev);
  ModelBuilder m(13);
  m.input("x", {-1, 4, 16});
  init(m, "w", {16, 16}, 1);
  m.node("MatMul", {"x", "w"}, {"a"}, "proj");
  auto& transpose = m.node("Transpose", {"a"}, {"at"}, "transpose");
  set_attr(transpose, "perm", std::vector<std::int64_t>{0, 2, 1});
  m.node("MatMul", {"a", "at"}, {"y"}, "scores");
  m.output("y");
  const Graph g = m.load();
  for (const std::string variant : {"asymmetric", "a16", "group"}) {
    SCOPED_TRACE(variant);
    QuantConfig config;
    if (variant == "asymmetric") config.defaults.weight_symmetric = false;
    if (variant == "a16") config.defaults.act_bits = 16;
    if (variant == "group") parse_granularity("group:8", config.defaults);
    const Graph sim = simulate(g, config, {4, 16});
    const Outputs o = run_both(*dev, sim, 3, 2);
    EXPECT_EQ(o.ops.find("(int8)"), std::string::npos) << o.ops;
    const std::string why = variant == "asymmetric" ? "asymmetric weights"
                            : variant == "a16"      ? "16-bit activations"
                                               : "per-group weights with quantized activations";
    EXPECT_NE(o.ops.find("MatMul (simulated: " + why + ")"), std::string::npos) << o.ops;
    EXPECT_NE(o.ops.find("MatMul (simulated: MatMul of two activations)"), std::string::npos)
        << o.ops;
    expect_close(o.got, o.want, variant);
  }
}

// Weight-only layers keep their codes and unpack them every run: the same fp32 weights as the
// simulation's, so the same outputs up to the float kernels' rounding.
TEST(OnednnInt8, WeightOnlyMatchesSimulation) {
  REQUIRE_ONEDNN(plain);
  REQUIRE_ONEDNN_INT8(dev);
  ModelBuilder m(13);
  m.input("x", {-1, 4, 8, 8});
  init(m, "w1", {8, 4, 3, 3}, 1);
  init(m, "b1", {8}, 2);
  init(m, "w2", {8, 15}, 3);  // 15 codes a row: rows start on odd nibbles
  init(m, "b2", {8}, 4);
  init(m, "w3", {8, 540}, 5, -0.1f, 0.1f);
  m.node("Conv", {"x", "w1", "b1"}, {"c"}, "conv");
  m.node("Relu", {"c"}, {"r"}, "relu");
  auto& transpose = m.node("Transpose", {"r"}, {"t"}, "transpose");
  set_attr(transpose, "perm", std::vector<std::int64_t>{0, 2, 3, 1});
  m.node("MatMul", {"t", "w2"}, {"u"}, "mm");
  m.node("Flatten", {"u"}, {"f"}, "flatten");
  auto& fc = m.node("Gemm", {"f", "w3", "b2"}, {"y"}, "fc");
  set_attr(fc, "transB", std::int64_t{1});
  m.output("y");
  const Graph g = m.load();
  for (const std::string variant : {"w4", "w4 group:4 asymmetric", "w3", "w6"}) {
    SCOPED_TRACE(variant);
    QuantConfig config;
    config.defaults.act_bits = 0;
    config.defaults.weight_bits = variant[1] - '0';
    if (variant.find("group") != std::string::npos) {
      parse_granularity("group:4", config.defaults);
      config.defaults.weight_symmetric = false;
    }
    const Graph sim = simulate(g, config, {4, 8, 8});
    const Outputs o = run_both(*dev, sim, 4, 8);
    const std::string unpack = "Dequantize (w" + std::string(1, variant[1]) + ")";
    EXPECT_NE(o.ops.find(unpack), std::string::npos) << o.ops;
    EXPECT_NE(o.ops.find("Gemm (w"), std::string::npos) << o.ops;
    const std::vector<float> got = o.got.to_f32(), want = o.want.to_f32();
    float scale = 0;
    for (float v : want) scale = std::max(scale, std::abs(v));
    for (std::size_t i = 0; i < got.size(); ++i)
      EXPECT_NEAR(got[i], want[i], 1e-4f * std::max(scale, 1.0f)) << i;
  }
}

// Every bundled classifier, calibrated on 256 training images: the integer kernels pick the
// simulation's class on at least 99.9 % of 1000 test images, and the logits stay within one
// output step of the simulation's on at least 97 % of them. The simulation sums integers exactly
// as the kernels do, so a difference can only come from a layer both compute in fp32 with other
// code: a first Conv with fewer than 4 input channels (simulated on oneDNN, faster than its int8
// kernels), and in ViT LayerNormalization, Softmax, Erf and the MatMuls of two activations.
// There a value a hair away can put a code on the other side of a rounding boundary, which
// moves later outputs by many steps: a few samples in 256.
TEST(OnednnInt8, BundledModelsAgreeWithSimulation) {
  REQUIRE_ONEDNN(plain);
  if (!std::filesystem::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  REQUIRE_ONEDNN_INT8(dev);
  auto ref = cpu_ref();
  for (const char* name : {"lenet", "mobilenet", "vit"}) {
    SCOPED_TRACE(name);
    const Graph sim = bundled_simulation(name, *plain);
    auto test = bundled_test_images(sim, 1000);
    const PairEvalResult r = evaluate_pair(sim, sim, *test, *ref, *dev, EvalOptions{});
    EXPECT_TRUE(r.classifier);
    EXPECT_GE(r.agreement, 99.9);
    // The logits of the first 256 images.
    const Tensor images = test->read(0, 256).inputs;
    const TensorMap inputs{{sim.inputs[0].name, images}};
    const Tensor want = ReferenceExecutor(sim).run(inputs).at(sim.outputs[0].name);
    std::unique_ptr<CompiledGraph> compiled = dev->compile(sim);
    const Tensor got = compiled->run(inputs).at(sim.outputs[0].name);
    const StepDiff d = compare_steps(got, want, output_step(sim, sim.outputs[0].name), 1);
    EXPECT_GE(d.within, d.count * 97 / 100) << "worst " << d.worst << " steps";
    EXPECT_GE(d.exact, d.count * 97 / 100) << d.exact << " of " << d.count;
    // For scale: the same simulation in fp32 on cpu-onednn, whose sums differ from cpu-ref's
    // only in their order, flips codes too.
    std::unique_ptr<CompiledGraph> fp32 = plain->compile(sim);
    const StepDiff f = compare_steps(fp32->run(inputs).at(sim.outputs[0].name), want,
                                     output_step(sim, sim.outputs[0].name), 1);
    std::printf(
        "[          ] %s: agreement %.2f %%; logits within one step %.2f %%, exact %.2f %%, "
        "worst %.0f steps (the fp32 simulation on cpu-onednn: %.2f %%, %.2f %%, %.0f)\n",
        name, r.agreement, 100.0 * d.within / d.count, 100.0 * d.exact / d.count, d.worst,
        100.0 * f.within / f.count, 100.0 * f.exact / f.count, f.worst);
  }
}

// Layer by layer: every int8 layer of every bundled classifier, given the simulation's own input
// (the FakeQuant before it and the layer, as a graph of their own), writes exactly the
// simulation's output on 64 test images. Whole models can differ only where fp32 layers
// between them do (BundledModelsAgreeWithSimulation).
TEST(OnednnInt8, EveryBundledInt8LayerIsTheSimulationBitForBit) {
  REQUIRE_ONEDNN(plain);
  if (!std::filesystem::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  REQUIRE_ONEDNN_INT8(dev);
  for (const char* name : {"lenet", "mobilenet", "vit"}) {
    SCOPED_TRACE(name);
    const Graph sim = bundled_simulation(name, *plain);
    const Tensor images = bundled_test_images(sim, 64)->read(0, 64).inputs;
    std::map<std::string, const Node*> producer;
    for (const Node& n : sim.nodes) producer[n.outputs[0]] = &n;
    std::vector<std::pair<const Node*, const Node*>> layers;  // (FakeQuant, layer)
    std::vector<std::string> keep;
    for (const Node& n : sim.nodes) {
      if (!quant::has_quantized_weights(n) || !quant::read_input_grid(n)) continue;
      const Node* fq = producer.count(n.inputs[0]) ? producer.at(n.inputs[0]) : nullptr;
      if (!fq || fq->op_type != "FakeQuant") continue;
      layers.emplace_back(fq, &n);
      keep.push_back(fq->inputs[0]);
      keep.push_back(n.outputs[0]);
    }
    ReferenceExecutor ex(sim);
    ex.keep(keep);
    const TensorMap values = ex.run({{sim.inputs[0].name, images}});
    int int8_layers = 0;
    for (const auto& [fq, layer] : layers) {
      SCOPED_TRACE(layer->name);
      Graph one;
      one.opset = sim.opset;
      one.nodes = {*fq, *layer};
      for (const std::string& in : layer->inputs)
        if (!in.empty() && sim.initializers.count(in))
          one.initializers[in] = sim.initializers.at(in);
      const Tensor& x = values.at(fq->inputs[0]);
      one.inputs.push_back({fq->inputs[0], DType::f32, x.shape(), {}, true});
      one.outputs.push_back({layer->outputs[0], DType::f32, {}, {}, false});
      infer_graph_shapes(one);
      std::unique_ptr<CompiledGraph> compiled = dev->compile(one);
      compiled->set_profiling(true);
      const Tensor got = compiled->run({{fq->inputs[0], x}}).at(layer->outputs[0]);
      if (step_ops(*compiled).find("(int8)") == std::string::npos) continue;  // simulated
      ++int8_layers;
      const Tensor& want = values.at(layer->outputs[0]);
      ASSERT_EQ(got.shape(), want.shape());
      std::int64_t differ = 0;
      for (std::int64_t i = 0; i < got.numel(); ++i)
        differ += got.data<float>()[i] != want.data<float>()[i];
      EXPECT_EQ(differ, 0) << "of " << got.numel() << "; " << step_ops(*compiled);
    }
    EXPECT_GT(int8_layers, 2);
    std::printf("[          ] %s: %d int8 layers, each bit for bit the simulation's\n", name,
                int8_layers);
  }
}

// oneDNN 2.6's jit kernels run every eltwise post-op of one algorithm with the first one's
// parameters: Clip(0, 6) then Clip(0, 2), or HardSigmoid (linear, clip) after a Clip, must not
// be fused into one chain.
TEST(OnednnFusion, RepeatedEltwiseAlgorithmsStayCorrect) {
  REQUIRE_ONEDNN(dev);
  for (const std::string second : {"Clip", "HardSigmoid", "LeakyRelu"}) {
    SCOPED_TRACE(second);
    ModelBuilder m(13);
    m.input("x", {-1, 4, 6, 6});
    init(m, "w", {8, 4, 3, 3}, 1);
    m.initializer("lo", {}, {0.f}).initializer("hi", {}, {0.6f});
    m.initializer("lo2", {}, {-0.2f}).initializer("hi2", {}, {0.3f});
    m.node("Conv", {"x", "w"}, {"c"}, "conv");
    m.node(second == "LeakyRelu" ? "LeakyRelu" : "Clip",
           second == "LeakyRelu" ? std::vector<std::string>{"c"}
                                 : std::vector<std::string>{"c", "lo", "hi"},
           {"t"}, "first");
    if (second == "Clip")
      m.node("Clip", {"t", "lo2", "hi2"}, {"y"}, "second");
    else if (second == "HardSigmoid")
      m.node("HardSigmoid", {"t"}, {"y"}, "second");
    else
      set_attr(m.node("LeakyRelu", {"t"}, {"y"}, "second"), "alpha", 0.5f);
    m.output("y");
    check(*dev, m.load(), {"Conv"});
  }
}
