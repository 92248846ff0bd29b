// error_propagation(): the error each layer introduces alone and the error it has accumulated in
// the quantized model (analysis/error_propagation.cpp).
#include <gtest/gtest.h>

#include <cmath>

#include "model_builder.h"
#include "quantscope/analysis.h"
#include "quantscope/error.h"
#include "quantscope/quant.h"
#include "quantscope/registry.h"
#include "random_dataset.h"

using namespace qs;
using qs::test::small_cnn;

namespace {

// The layers quantized alone are compiled a group at a time (by the weights they hold): one
// layer per group reruns the float model per layer and must give the same numbers.
TEST(ErrorPropagation, LayersCompiledInGroupsGiveTheSameNumbers) {
  const Graph g = small_cnn();
  auto device = make_default_registry().create_device("cpu-ref");
  qs::test::RandomDataset data(23, {2, 6, 6}, 7);
  QuantConfig c;
  c.defaults.weight_bits = 3;
  const QuantizedModel q = quantize_model(g, c, data, *device);
  const std::vector<LayerError> together = error_propagation(g, q, data, *device, 5);
  const std::vector<LayerError> one_by_one = error_propagation(g, q, data, *device, 5, {}, 1);
  ASSERT_GE(together.size(), 2u);
  ASSERT_EQ(one_by_one.size(), together.size());
  for (std::size_t i = 0; i < together.size(); ++i) {
    SCOPED_TRACE(together[i].name);
    EXPECT_EQ(one_by_one[i].name, together[i].name);
    EXPECT_TRUE(std::isfinite(together[i].introduced_sqnr_db));
    EXPECT_EQ(one_by_one[i].introduced_sqnr_db, together[i].introduced_sqnr_db);
    EXPECT_EQ(one_by_one[i].accumulated_sqnr_db, together[i].accumulated_sqnr_db);
  }
  // The first quantized layer sees float inputs in both runs: what it introduces is all it has.
  EXPECT_NEAR(together[0].accumulated_sqnr_db, together[0].introduced_sqnr_db, 1e-9);
}

}  // namespace
