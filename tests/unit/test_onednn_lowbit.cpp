// Weight-only quantized MatMul and Gemm on a few rows run on cpu-onednn's packed low-bit kernel
// (lowbit_matmul.h) and compute the simulation's outputs (dequantized weights on cpu-ref); with
// more rows they go back to oneDNN. No integer kernels are asked for: the packed kernel is the
// simulation's float product, computed from the codes.
#include "onednn_test_util.h"
#include "quantscope/quant.h"
#include "random_dataset.h"

using namespace onednn_test;

namespace {

// x [-1, 200] -> MatMul [200, 128] -> Relu -> Gemm transB [48, 128] + bias: 200 inputs are not
// a multiple of the kernel's blocks of 32.
Graph two_layers() {
  ModelBuilder m(17);
  m.input("x", {-1, 200});
  init(m, "w1", {200, 128}, 1, -0.2f, 0.2f);
  init(m, "w2", {48, 128}, 2, -0.3f, 0.3f);
  init(m, "b2", {48}, 3);
  m.node("MatMul", {"x", "w1"}, {"h"}, "mm");
  m.node("Relu", {"h"}, {"r"}, "relu");
  auto& fc = m.node("Gemm", {"r", "w2", "b2"}, {"y"}, "fc");
  set_attr(fc, "transB", std::int64_t{1});
  m.output("y");
  return m.load();
}

}  // namespace

TEST(OnednnLowBit, WeightOnlyLayersOnFewRowsMatchTheSimulation) {
  REQUIRE_ONEDNN(dev);
  const Graph g = two_layers();
  auto ref = registry().create_device("cpu-ref");
  // Per channel (one group a row: 200 and 128), groups of 32, 64 (200 = 3 x 64 + 8) and 128,
  // asymmetric grids (zero points), 2 to 8 bits (5 and 8 bits: a byte per code).
  const std::vector<std::pair<std::string, int>> variants = {{"channel", 4},   {"group:64", 4},
                                                             {"group:32", 3},  {"group:32", 2},
                                                             {"group:128", 8}, {"group:64", 5}};
  for (const auto& [granularity, bits] : variants) {
    for (bool symmetric : {true, false}) {
      const std::string variant =
          "w" + std::to_string(bits) + " " + granularity + (symmetric ? "" : " asymmetric");
      SCOPED_TRACE(variant);
      QuantConfig config;
      config.defaults.act_bits = 0;
      config.defaults.weight_bits = bits;
      config.defaults.weight_symmetric = symmetric;
      parse_granularity(granularity, config.defaults);
      qs::test::RandomDataset calibration(16, {200}, 5);
      const Graph sim = apply_quantization(g, quantize_model(g, config, calibration, *ref));
      for (std::int64_t rows : {1, 3, 8, 9}) {
        SCOPED_TRACE(std::to_string(rows) + " rows");
        qs::test::RandomDataset data(rows, {200}, 11);
        const TensorMap inputs{{"x", data.read(0, rows).inputs}};
        const Tensor want = ReferenceExecutor(sim).run(inputs).at("y");
        std::unique_ptr<CompiledGraph> compiled = dev->compile(sim);
        compiled->set_profiling(true);
        const Tensor got = compiled->run(inputs).at("y");
        const std::string ops = step_ops(*compiled);
        const bool packed =
            ops.find("MatMul (w" + std::to_string(bits) + ", packed)") != std::string::npos &&
            ops.find("Gemm (w" + std::to_string(bits) + ", packed)") != std::string::npos;
        EXPECT_EQ(packed, rows <= 8) << ops;
        ASSERT_EQ(got.shape(), want.shape());
        const std::vector<float> a = got.to_f32(), b = want.to_f32();
        float scale = 1;
        for (float v : b) scale = std::max(scale, std::abs(v));
        for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 2e-5f * scale) << i;
      }
    }
  }
}

namespace {

// `g` (input "x" [-1, inputs], output "y") at W4 weight-only in `granularity`, one row on
// cpu-onednn: not on the packed kernel, and the simulation's outputs.
void expect_float_path(Device& dev, const Graph& g, std::int64_t inputs,
                       const std::string& granularity) {
  auto ref = registry().create_device("cpu-ref");
  QuantConfig config;
  config.defaults.act_bits = 0;
  config.defaults.weight_bits = 4;
  parse_granularity(granularity, config.defaults);
  qs::test::RandomDataset calibration(16, {inputs}, 5);
  const Graph sim = apply_quantization(g, quantize_model(g, config, calibration, *ref));
  qs::test::RandomDataset data(1, {inputs}, 11);
  const TensorMap feeds{{"x", data.read(0, 1).inputs}};
  std::unique_ptr<CompiledGraph> compiled = dev.compile(sim);
  compiled->set_profiling(true);
  const Tensor got = compiled->run(feeds).at("y");
  EXPECT_EQ(step_ops(*compiled).find("packed"), std::string::npos) << step_ops(*compiled);
  const std::vector<float> a = got.to_f32(), b = ReferenceExecutor(sim).run(feeds).at("y").to_f32();
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-4f) << i;
}

}  // namespace

// Groups the packed layout cannot hold (not a multiple of 32, fewer than the inputs) stay on
// the float path, with the same outputs.
TEST(OnednnLowBit, GroupsOffTheBlocksStayOnTheFloatPath) {
  REQUIRE_ONEDNN(dev);
  expect_float_path(*dev, two_layers(), 200, "group:24");
}

// Rows of fewer than 128 inputs stay on oneDNN (fp32 weights that short stay in cache and cost
// less than widening codes), with the same outputs.
TEST(OnednnLowBit, ShortRowsStayOnTheFloatPath) {
  REQUIRE_ONEDNN(dev);
  ModelBuilder m(19);
  m.input("x", {-1, 64});
  init(m, "w", {64, 96}, 1, -0.2f, 0.2f);
  m.node("MatMul", {"x", "w"}, {"y"}, "mm");
  m.output("y");
  expect_float_path(*dev, m.load(), 64, "group:32");
}
