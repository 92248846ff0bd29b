// The quantized-layer format (quant_format.h): what is written reads back the same, malformed
// parameters are refused with the reason, and the graphs apply_quantization() makes carry
// their parameters in it.
#include <gtest/gtest.h>

#include "quantscope/error.h"
#include "quantscope/quant_format.h"

using namespace qs;

namespace {

// group_size 0: cols / groups (groups that divide the row).
Node layer_with_weights(int bits, std::int64_t rows, std::int64_t cols, std::int64_t groups,
                        std::int64_t group_size = 0) {
  Node n;
  n.name = "fc";
  n.op_type = "Gemm";
  std::vector<std::int8_t> codes(static_cast<std::size_t>(rows * cols));
  for (std::size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<std::int8_t>(i % 7) - 3;
  std::vector<float> scales(static_cast<std::size_t>(rows * groups));
  for (std::size_t i = 0; i < scales.size(); ++i) scales[i] = 0.01f * float(i + 1);
  quant::write_weights(n, bits, Tensor::from_vector<std::int8_t>({rows, cols}, codes),
                       Tensor::from_vector<float>({rows * groups}, scales),
                       Tensor::from_vector<std::int32_t>(
                           {rows * groups}, std::vector<std::int32_t>(scales.size(), 0)),
                       groups, group_size ? group_size : cols / groups);
  return n;
}

}  // namespace

TEST(QuantFormat, WeightsReadBackAsWritten) {
  Node n = layer_with_weights(4, 3, 8, 2);
  EXPECT_TRUE(quant::has_quantized_weights(n));
  std::string why;
  const auto w = quant::read_weights(n, why);
  ASSERT_TRUE(w) << why;
  EXPECT_EQ(w->bits, 4);
  EXPECT_EQ(w->rows, 3);
  EXPECT_EQ(w->groups_per_row, 2);
  EXPECT_EQ(w->cols, 8);
  EXPECT_EQ(w->group_size, 4);
  EXPECT_EQ(w->codes->shape(), (Shape{3, 8}));
  EXPECT_EQ(w->scales->numel(), 6);
  EXPECT_EQ(w->bias_codes, nullptr);
  quant::write_bias_codes(n, Tensor::from_vector<std::int32_t>({3}, {5, -6, 7}));
  const auto with_bias = quant::read_weights(n, why);
  ASSERT_TRUE(with_bias) << why;
  ASSERT_NE(with_bias->bias_codes, nullptr);
  EXPECT_EQ(with_bias->bias_codes->to_i64(), (std::vector<std::int64_t>{5, -6, 7}));
}

TEST(QuantFormat, AShortLastGroupReadsBack) {
  // 10 columns in groups of 4: 4 + 4 + 2.
  const Node n = layer_with_weights(4, 3, 10, 3, 4);
  std::string why;
  const auto w = quant::read_weights(n, why);
  ASSERT_TRUE(w) << why;
  EXPECT_EQ(w->groups_per_row, 3);
  EXPECT_EQ(w->cols, 10);
  EXPECT_EQ(w->group_size, 4);
  EXPECT_EQ(quant::groups_in_row(10, 4), 3);
  EXPECT_EQ(quant::groups_in_row(8, 4), 2);
  EXPECT_EQ(quant::groups_in_row(3, 4), 1);
}

TEST(QuantFormat, InconsistentWeightsAreRefusedWithTheReason) {
  std::string why;
  Node none;
  EXPECT_FALSE(quant::has_quantized_weights(none));
  EXPECT_FALSE(quant::read_weights(none, why));
  EXPECT_EQ(why, "no weight codes");

  Node wide = layer_with_weights(9, 2, 4, 1);
  EXPECT_FALSE(quant::read_weights(wide, why));
  EXPECT_EQ(why, "weight bits 9");

  // 3 groups of 2 per row for 4 columns.
  Node groups = layer_with_weights(8, 2, 4, 3, 2);
  EXPECT_FALSE(quant::read_weights(groups, why));
  EXPECT_EQ(why, "weight groups of 2 do not cut 4 inputs into 3");

  // 3 rows of scales for 8 codes.
  Node rows = layer_with_weights(8, 2, 4, 1);
  quant::write_weights(rows, 8,
                       Tensor::from_vector<std::int8_t>({2, 4}, std::vector<std::int8_t>(8)),
                       Tensor::from_vector<float>({3}, {1.0f, 1.0f, 1.0f}),
                       Tensor::from_vector<std::int32_t>({3}, {0, 0, 0}), 1, 4);
  EXPECT_FALSE(quant::read_weights(rows, why));
  EXPECT_EQ(why, "weight codes do not fit their scales");

  // Groups of 2 cut 5 columns into 3 (the last holds one), not 2.
  Node ragged = layer_with_weights(8, 2, 5, 2, 2);
  EXPECT_FALSE(quant::read_weights(ragged, why));
  EXPECT_EQ(why, "weight groups of 2 do not cut 5 inputs into 2");

  Node bias = layer_with_weights(8, 2, 4, 1);
  quant::write_bias_codes(bias, Tensor::from_vector<std::int32_t>({3}, {1, 2, 3}));
  EXPECT_FALSE(quant::read_weights(bias, why));
  EXPECT_EQ(why, "bias codes");

  // Codes of the wrong dtype: as if there were none.
  Node dtype = layer_with_weights(8, 2, 4, 1);
  quant::write_weights(dtype, 8, Tensor::from_vector<float>({2, 4}, std::vector<float>(8, 1.0f)),
                       Tensor::from_vector<float>({2}, {1.0f, 1.0f}),
                       Tensor::from_vector<std::int32_t>({2}, {0, 0}), 1, 4);
  EXPECT_FALSE(quant::read_weights(dtype, why));
  EXPECT_EQ(why, "no weight codes");
}

TEST(QuantFormat, GridsReadBackAndDefaultToSigned8Bit) {
  const quant::Grid g = quant::asymmetric_grid(-0.5f, 3.0f, 8, true);
  EXPECT_EQ(g.bits, 8);
  const Node f = quant::make_fake_quant("x::fq", "x", "x::fq", g);
  EXPECT_TRUE(quant::is_fake_quant(f));
  const quant::Grid r = quant::read_fake_quant(f);
  EXPECT_EQ(r.scale, g.scale);
  EXPECT_EQ(r.zero_point, g.zero_point);
  EXPECT_EQ(r.qmin, 0);
  EXPECT_EQ(r.qmax, 255);
  EXPECT_EQ(r.bits, 8);
  EXPECT_TRUE(quant::valid(r));

  // A FakeQuant without attributes: the signed 8-bit range, and scale 0, which is not valid.
  Node bare = f;
  bare.attributes.clear();
  const quant::Grid d = quant::read_fake_quant(bare);
  EXPECT_EQ(d.qmin, -128);
  EXPECT_EQ(d.qmax, 127);
  EXPECT_FALSE(quant::valid(d));

  Node layer = layer_with_weights(8, 2, 4, 1);
  EXPECT_FALSE(quant::read_input_grid(layer));  // weight-only
  quant::write_input_grid(layer, quant::symmetric_grid(2.0f, 6));
  const auto x = quant::read_input_grid(layer);
  ASSERT_TRUE(x);
  EXPECT_EQ(x->qmin, -31);
  EXPECT_EQ(x->qmax, 31);
  EXPECT_EQ(x->bits, 6);
  EXPECT_FLOAT_EQ(x->scale, 2.0f / 31.0f);
}

TEST(QuantFormat, ErasingLeavesTheOpsOwnAttributes) {
  Node n = layer_with_weights(8, 2, 4, 1);
  quant::write_input_grid(n, quant::symmetric_grid(1.0f, 8));
  quant::write_bias_codes(n, Tensor::from_vector<std::int32_t>({2}, {1, 2}));
  n.attributes["transB"] = {std::int64_t{1}};
  quant::erase_quantization(n);
  EXPECT_FALSE(quant::has_quantized_weights(n));
  EXPECT_FALSE(quant::read_input_grid(n));
  ASSERT_EQ(n.attributes.size(), 1u);
  EXPECT_EQ(n.attr_int("transB", 0), 1);
}
