// compare_sample() and histogram(): one sample float vs quantized (analysis/compare.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "model_builder.h"
#include "quantscope/compare.h"
#include "quantscope/error.h"
#include "quantscope/executor.h"
#include "quantscope/registry.h"
#include "random_dataset.h"

using namespace qs;
using qs::test::ModelBuilder;
using qs::test::random_values;
using qs::test::small_cnn;

namespace {

TEST(Histogram, CountsEveryFiniteValueInItsBin) {
  const std::vector<float> v{0.0f, 0.1f, 0.5f, 0.99f, 1.0f, -1.0f, 2.0f, NAN, INFINITY};
  const Histogram h = histogram(v.data(), std::int64_t(v.size()), 0.0, 1.0, 4);
  EXPECT_EQ(h.counts, (std::vector<std::int64_t>{2, 0, 1, 2}));  // 1.0 goes in the last bin
  EXPECT_EQ(h.lo, 0.0);
  EXPECT_EQ(h.hi, 1.0);
  // An empty range: the values equal to it in bin 0, the others outside.
  const Histogram flat = histogram(v.data(), 3, 0.5, 0.5, 3);
  EXPECT_EQ(flat.counts, (std::vector<std::int64_t>{1, 0, 0}));
}

TEST(Compare, OneSampleFloatAgainstQuantized) {
  const Graph g = small_cnn();
  auto device = make_default_registry().create_device("cpu-ref");
  qs::test::RandomDataset data(16, {2, 6, 6}, 7);
  QuantConfig c;
  c.defaults.weight_bits = 3;
  c.defaults.act_bits = 8;
  c.defaults.granularity = QuantGranularity::per_tensor;
  const QuantizedModel q = quantize_model(g, c, data, *device);
  CompareOptions o;
  o.bins = 32;
  o.topk = 3;
  const SampleComparison r = compare_sample(g, q, data, 5, *device, o);

  // The float output is the float model's on that sample.
  ReferenceExecutor exec(g);
  const Tensor y = exec.run({{"x", data.read(5, 1).inputs}}).at("y");
  EXPECT_EQ(r.float_output.to_f32(), y.to_f32());
  EXPECT_TRUE(r.classifier);
  EXPECT_EQ(r.sample, 5);
  EXPECT_EQ(r.label, -1);
  ASSERT_EQ(r.float_topk.size(), 3u);
  const std::vector<float> z = y.to_f32();
  const std::int64_t best = std::max_element(z.begin(), z.end()) - z.begin();
  EXPECT_EQ(r.float_topk[0].index, best);
  double sum = 0;
  for (float v : z) sum += std::exp(double(v) - z[best]);
  EXPECT_NEAR(r.float_topk[0].probability, 1.0 / sum, 1e-6);
  EXPECT_GE(r.float_topk[0].probability, r.float_topk[1].probability);
  EXPECT_GT(r.max_abs_error, 0);
  EXPECT_TRUE(std::isfinite(r.sqnr_db));

  // Both layers, in graph order, with histograms over every value.
  ASSERT_EQ(r.activations.size(), 2u);
  EXPECT_EQ(r.activations[0].layer, "conv");
  EXPECT_EQ(r.activations[1].tensor, "y");
  const auto total = [](const Histogram& h) {
    return std::accumulate(h.counts.begin(), h.counts.end(), std::int64_t{0});
  };
  EXPECT_EQ(total(r.activations[0].float_hist), 4 * 6 * 6);
  EXPECT_EQ(total(r.activations[0].quant_hist), 4 * 6 * 6);
  ASSERT_EQ(r.weights.size(), 2u);
  const WeightComparison& w = r.weights[1];
  EXPECT_EQ(w.bits, 3);
  EXPECT_EQ(w.granularity, "tensor");
  EXPECT_EQ(w.grid.size(), 7u);  // symmetric 3-bit codes -3..3
  EXPECT_EQ(total(w.float_hist), 720);
  // Dequantized weights sit on at most 7 levels: at most 7 non-empty bins.
  EXPECT_LE(std::count_if(w.quant_hist.counts.begin(), w.quant_hist.counts.end(),
                          [](std::int64_t n) { return n > 0; }),
            7);
  EXPECT_GT(std::count_if(w.float_hist.counts.begin(), w.float_hist.counts.end(),
                          [](std::int64_t n) { return n > 0; }),
            7);

  EXPECT_THROW(compare_sample(g, q, data, 16, *device), Error);
  EXPECT_THROW(compare_sample(g, q, data, -1, *device), Error);
  o.bins = 0;
  EXPECT_THROW(compare_sample(g, q, data, 0, *device, o), Error);
}

}  // namespace
