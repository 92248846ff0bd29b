// cpu-ref's quantized Conv, Gemm and MatMul compute the integer kernels' arithmetic bit for bit:
// the exact sum of input levels x weight codes, plus the bias codes, converted to fp32 and
// multiplied once by input scale x weight scale. Expected values are computed here in int64.
#include <gtest/gtest.h>

#include "model_builder.h"
#include "quantscope/executor.h"
#include "quantscope/quant.h"
#include "quantscope/quant_format.h"
#include "quantscope/registry.h"
#include "random_dataset.h"
#include "runtime/kernels/integer_layer.h"

using namespace qs;
using qs::test::ModelBuilder;
using qs::test::random_values;
using qs::test::set_attr;

namespace {

QuantizedModel quantize(const Graph& g, const Shape& sample, unsigned seed = 7) {
  qs::test::RandomDataset data(64, sample, seed);
  auto device = make_default_registry().create_device("cpu-ref");
  QuantConfig c;
  c.defaults.calibrator = "minmax";
  return quantize_model(g, c, data, *device);
}

quant::Grid act_grid(const QuantizedModel& q, const std::string& value) {
  const ActQuantParams& a = q.activations.at(value);
  return {a.scale, a.zero_point, 0, 255};
}

// Input levels (code - zero point) of float inputs on grid g.
std::vector<std::int64_t> levels(const Tensor& x, const quant::Grid& g) {
  std::vector<std::int64_t> l(static_cast<std::size_t>(x.numel()));
  for (std::int64_t i = 0; i < x.numel(); ++i)
    l[static_cast<std::size_t>(i)] = quant::quantize(x.data<float>()[i], g) - g.zero_point;
  return l;
}

// What the integer kernel writes for output row r: (float(sum) + float(bias code)) x scale.
float integer_output(std::int64_t sum, std::int32_t bias_code, float x_scale, float w_scale) {
  return (static_cast<float>(sum) + static_cast<float>(bias_code)) * (x_scale * w_scale);
}

Graph strip_quant_attributes(Graph g) {
  for (Node& n : g.nodes) quant::erase_quantization(n);
  return g;
}

}  // namespace

TEST(IntegerSimulation, ConvAndGemmAreTheIntegerKernelsBitForBit) {
  const Graph g = qs::test::small_cnn();  // Conv 2->4 3x3 pad 1 on 6x6, Gemm 144->5
  const QuantizedModel q = quantize(g, {2, 6, 6});
  const Graph sim = apply_quantization(g, q);
  const Tensor x = qs::test::RandomDataset(3, {2, 6, 6}, 11).read(0, 3).inputs;
  ReferenceExecutor ex(sim);
  ex.keep({"c", "f"});
  TensorMap out = ex.run({{"x", x}});

  const quant::Grid xg = act_grid(q, "x");
  const WeightQuantParams& w = q.weights.at("conv");
  std::string why;
  const auto conv_weights = quant::read_weights(*sim.find_node("conv"), why);
  ASSERT_TRUE(conv_weights && conv_weights->bias_codes) << why;
  const std::int32_t* bias = conv_weights->bias_codes->data<std::int32_t>();
  const std::vector<std::int64_t> lx = levels(x, xg);
  const float* c = out.at("c").data<float>();
  std::int64_t checked = 0;
  for (std::int64_t n = 0; n < 3; ++n)
    for (std::int64_t o = 0; o < 4; ++o)
      for (std::int64_t i = 0; i < 6; ++i)
        for (std::int64_t j = 0; j < 6; ++j) {
          std::int64_t sum = 0;
          for (std::int64_t ci = 0; ci < 2; ++ci)
            for (std::int64_t kh = 0; kh < 3; ++kh)
              for (std::int64_t kw = 0; kw < 3; ++kw) {
                const std::int64_t y = i + kh - 1, z = j + kw - 1;
                if (y < 0 || y >= 6 || z < 0 || z >= 6) continue;  // padding: level 0
                const std::int64_t code =
                    w.codes[((o * 2 + ci) * 3 + kh) * 3 + kw] - w.zero_points[o];
                sum += lx[((n * 2 + ci) * 6 + y) * 6 + z] * code;
              }
          const float want = integer_output(sum, bias[o], xg.scale, w.scales[o]);
          EXPECT_EQ(c[((n * 4 + o) * 6 + i) * 6 + j], want)
              << n << " " << o << " " << i << " " << j;
          ++checked;
        }
  EXPECT_EQ(checked, 3 * 4 * 36);

  const quant::Grid fg = act_grid(q, "f");
  const WeightQuantParams& fw = q.weights.at("fc");
  const auto fc_weights = quant::read_weights(*sim.find_node("fc"), why);
  ASSERT_TRUE(fc_weights && fc_weights->bias_codes) << why;
  const std::int32_t* fb = fc_weights->bias_codes->data<std::int32_t>();
  const std::vector<std::int64_t> lf = levels(out.at("f"), fg);
  const float* y = out.at("y").data<float>();
  for (std::int64_t n = 0; n < 3; ++n)
    for (std::int64_t r = 0; r < 5; ++r) {
      std::int64_t sum = 0;
      for (std::int64_t k = 0; k < 144; ++k)
        sum += lf[n * 144 + k] * (fw.codes[r * 144 + k] - fw.zero_points[r]);
      EXPECT_EQ(y[n * 5 + r], integer_output(sum, fb[r], fg.scale, fw.scales[r])) << n << " " << r;
    }
}

TEST(IntegerSimulation, MatMulIsTheIntegerKernelBitForBit) {
  ModelBuilder m(13);
  m.input("x", {-1, 5, 16});
  m.initializer("w", {16, 12}, random_values(16 * 12, 3));
  m.node("MatMul", {"x", "w"}, {"y"}, "mm");
  m.output("y");
  const Graph g = m.load();
  const QuantizedModel q = quantize(g, {5, 16});
  const Graph sim = apply_quantization(g, q);
  const Tensor x = qs::test::RandomDataset(2, {5, 16}, 5).read(0, 2).inputs;
  const Tensor y = qs::test::run_single(sim, x);
  const quant::Grid xg = act_grid(q, "x");
  const WeightQuantParams& w = q.weights.at("mm");  // rows: the 12 outputs, cols: K
  const std::vector<std::int64_t> lx = levels(x, xg);
  for (std::int64_t row = 0; row < 2 * 5; ++row)
    for (std::int64_t n = 0; n < 12; ++n) {
      std::int64_t sum = 0;
      for (std::int64_t k = 0; k < 16; ++k)
        sum += lx[row * 16 + k] * (w.codes[n * 16 + k] - w.zero_points[n]);
      EXPECT_EQ(y.data<float>()[row * 12 + n], integer_output(sum, 0, xg.scale, w.scales[n]))
          << row << " " << n;
    }
}

// Sums past 2^24, where fp32 partial sums would round: summed in double, still exact.
TEST(IntegerSimulation, LargeSumsStayExact) {
  const std::int64_t K = std::int64_t{1} << 16;
  ModelBuilder m(13);
  m.input("x", {-1, K});
  std::vector<float> w(static_cast<std::size_t>(3 * K));
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = 0.5f + 0.5f * static_cast<float>(i % 7) / 7;
  m.initializer("w", {3, K}, w);
  set_attr(m.node("Gemm", {"x", "w"}, {"y"}, "fc"), "transB", std::int64_t{1});
  m.output("y");
  const Graph g = m.load();
  const QuantizedModel q = quantize(g, {K});
  const Graph sim = apply_quantization(g, q);
  std::vector<float> xs(static_cast<std::size_t>(K));
  for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = (i % 3 == 0) ? 10.0f : 0.3f;  // some clamp
  const Tensor x = Tensor::from_vector<float>({1, K}, xs);
  const Tensor y = qs::test::run_single(sim, x);
  const quant::Grid xg = act_grid(q, "x");
  const WeightQuantParams& wq = q.weights.at("fc");
  const std::vector<std::int64_t> lx = levels(x, xg);
  for (std::int64_t r = 0; r < 3; ++r) {
    std::int64_t sum = 0;
    for (std::int64_t k = 0; k < K; ++k) sum += lx[k] * (wq.codes[r * K + k] - wq.zero_points[r]);
    EXPECT_GT(sum, std::int64_t{1} << 24);
    EXPECT_EQ(y.data<float>()[r], integer_output(sum, 0, xg.scale, wq.scales[r])) << r;
  }
}

// An input that is not on the layer's grid (the FakeQuant before it bypassed) is computed in
// floats from its actual values, as if the qs.* attributes were not there.
TEST(IntegerSimulation, InputsOffTheGridAreComputedAsTheyAre) {
  const Graph g = qs::test::small_cnn();
  Graph sim = apply_quantization(g, quantize(g, {2, 6, 6}));
  for (Node& n : sim.nodes)
    if (n.name == "conv") n.inputs[0] = "x";
  const Tensor x = qs::test::RandomDataset(3, {2, 6, 6}, 11).read(0, 3).inputs;
  const Graph plain = strip_quant_attributes(sim);
  ReferenceExecutor ex(sim), stripped(plain);
  ex.keep({"c"});
  stripped.keep({"c"});
  const Tensor got = ex.run({{"x", x}}).at("c");
  const Tensor want = stripped.run({{"x", x}}).at("c");
  ASSERT_EQ(got.numel(), want.numel());
  for (std::int64_t i = 0; i < got.numel(); ++i)
    EXPECT_EQ(got.data<float>()[i], want.data<float>()[i]) << i;
}

// A simulation graph edited after apply_quantization (weights no longer their codes' values) is
// computed in floats from its actual inputs, as if the qs.* attributes were not there.
TEST(IntegerSimulation, EditedWeightsAreComputedAsTheyAre) {
  const Graph g = qs::test::small_cnn();
  Graph sim = apply_quantization(g, quantize(g, {2, 6, 6}));
  for (const char* name : {"conv", "fc"}) {
    Tensor& w = sim.initializers.at(sim.find_node(name)->inputs[1]);
    w = w.clone();
    w.data<float>()[0] += 0.01f;
  }
  const Tensor x = qs::test::RandomDataset(3, {2, 6, 6}, 11).read(0, 3).inputs;
  const Tensor got = qs::test::run_single(sim, x);
  const Tensor want = qs::test::run_single(strip_quant_attributes(sim), x);
  ASSERT_EQ(got.numel(), want.numel());
  for (std::int64_t i = 0; i < got.numel(); ++i)
    EXPECT_EQ(got.data<float>()[i], want.data<float>()[i]) << i;
}

// cpu-ref derives each quantized layer's integer form once, when it compiles the graph: the
// compiled graph computes bit for bit what the per-run derivation does, on every batch, and a
// layer whose weights arrive as an input (not a constant) is derived on each run.
TEST(IntegerSimulation, CompiledGraphsPrepareTheIntegerFormOnce) {
  const Graph g = qs::test::small_cnn();
  const Graph sim = apply_quantization(g, quantize(g, {2, 6, 6}));
  const kernels::PreparedLayers prepared = kernels::prepare_integer_layers(sim);
  ASSERT_EQ(prepared.size(), 2u);  // the Conv and the Gemm
  for (const auto& [node, form] : prepared) {
    EXPECT_TRUE(form.has_value()) << node->name;
  }
  auto compiled = make_default_registry().create_device("cpu-ref")->compile(sim);
  for (unsigned seed : {11u, 12u}) {
    const Tensor x = qs::test::RandomDataset(3, {2, 6, 6}, seed).read(0, 3).inputs;
    const Tensor want = ReferenceExecutor(sim).run({{"x", x}}).at("y");
    const Tensor got = compiled->run({{"x", x}}).at("y");
    ASSERT_EQ(got.numel(), want.numel());
    for (std::int64_t i = 0; i < got.numel(); ++i)
      EXPECT_EQ(got.data<float>()[i], want.data<float>()[i]) << i;
  }
  // The Gemm's weights as a graph input: nothing prepared for it, the same result.
  Graph fed = sim;
  const std::string w = fed.find_node("fc")->inputs[1];
  const Tensor weights = fed.initializers.at(w);
  fed.initializers.erase(w);
  ValueInfo input;
  input.name = w;
  input.dtype = DType::f32;
  input.shape = weights.shape();
  input.has_shape = true;
  fed.inputs.push_back(input);
  EXPECT_EQ(kernels::prepare_integer_layers(fed).size(), 1u);
  const Tensor x = qs::test::RandomDataset(3, {2, 6, 6}, 13).read(0, 3).inputs;
  const Tensor want = ReferenceExecutor(sim).run({{"x", x}}).at("y");
  const Tensor got = make_default_registry()
                         .create_device("cpu-ref")
                         ->compile(fed)
                         ->run({{"x", x}, {w, weights}})
                         .at("y");
  for (std::int64_t i = 0; i < got.numel(); ++i)
    EXPECT_EQ(got.data<float>()[i], want.data<float>()[i]) << i;
}
