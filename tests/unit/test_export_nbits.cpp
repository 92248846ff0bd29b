// MatMulNBits weights (export/matmul_nbits.h): codes per output column in blocks along K, the
// first of a pair in the low nibble, the padding past K at the zero point; a group's scale on
// each of its blocks; groups ONNX Runtime's blocks cannot cut are refused with the reason.
#include <gtest/gtest.h>

#include "export/matmul_nbits.h"
#include "quantscope/graph.h"

using namespace qs;

namespace {

// A MatMul's quantized weights [k, n] in groups of `group` (codes (i * 7 + col) % 16 - 8).
Node weights(std::int64_t k, std::int64_t n, int bits, std::int64_t group, std::int32_t zero) {
  const std::int64_t groups = (k + group - 1) / group;
  std::vector<std::int8_t> codes(static_cast<std::size_t>(k * n));
  for (std::int64_t i = 0; i < k; ++i)
    for (std::int64_t c = 0; c < n; ++c)
      codes[static_cast<std::size_t>(i * n + c)] = static_cast<std::int8_t>((i * 7 + c) % 16 - 8);
  std::vector<float> scales(static_cast<std::size_t>(n * groups));
  for (std::size_t i = 0; i < scales.size(); ++i) scales[i] = 0.5f + float(i);
  Node node;
  node.op_type = "MatMul";
  quant::write_weights(node, bits, Tensor::from_vector<std::int8_t>({k, n}, codes),
                       Tensor::from_vector<float>({n * groups}, scales),
                       Tensor::from_vector<std::int32_t>(
                           {n * groups}, std::vector<std::int32_t>(scales.size(), zero)),
                       groups, group);
  return node;
}

exporter::NBitsWeights convert(const Node& node, std::string& why) {
  const auto w = quant::read_weights(node, why);
  EXPECT_TRUE(w) << why;
  auto nb = exporter::matmul_nbits_weights(*w, why);
  return nb ? *nb : exporter::NBitsWeights{};
}

}  // namespace

TEST(ExportNBits, FourBitCodesPackPerColumnWithTheLastBlockPadded) {
  std::string why;
  const Node node = weights(40, 3, 4, 32, -2);  // groups of 32 and 8
  const exporter::NBitsWeights nb = convert(node, why);
  ASSERT_EQ(nb.block, 32) << why;
  EXPECT_EQ(nb.bits, 4);
  EXPECT_EQ(nb.b.shape(), (Shape{3, 2, 16}));
  const std::uint8_t* b = nb.b.data<std::uint8_t>();
  for (std::int64_t c = 0; c < 3; ++c) {
    for (std::int64_t i = 0; i < 64; ++i) {
      const std::uint8_t byte = b[c * 32 + i / 2];
      const int stored = i % 2 == 0 ? byte & 0xF : byte >> 4;
      const int want = i < 40 ? static_cast<int>((i * 7 + c) % 16 - 8) + 8 : -2 + 8;
      ASSERT_EQ(stored, want) << "column " << c << " input " << i;
    }
  }
  // Scales: the layer's [n, groups], one per block; zero points -2 + 8 = 6, two a byte.
  EXPECT_EQ(nb.scales.to_f32(), (std::vector<float>{0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f}));
  EXPECT_EQ(nb.zero_points.shape(), (Shape{3}));
  for (std::uint8_t z : nb.zero_points.values<std::uint8_t>()) EXPECT_EQ(z, 6 | (6 << 4));
}

TEST(ExportNBits, WideGroupsAndRowsShareAScaleAcrossBlocks) {
  std::string why;
  // One group a row of 300 inputs: blocks of 256 (the widest ONNX Runtime takes), two a row.
  const exporter::NBitsWeights row = convert(weights(300, 2, 8, 300, 0), why);
  ASSERT_EQ(row.block, 256) << why;
  EXPECT_EQ(row.bits, 8);
  EXPECT_EQ(row.b.shape(), (Shape{2, 2, 256}));
  EXPECT_EQ(row.scales.to_f32(), (std::vector<float>{0.5f, 0.5f, 1.5f, 1.5f}));
  EXPECT_EQ(row.zero_points.numel(), 0);  // all zero: the op's default, not stored
  // Groups of 96 (= 3 x 32): blocks of 32, three per group, the last group short (200 = 2 x 96 +
  // 8).
  const exporter::NBitsWeights g96 = convert(weights(200, 1, 3, 96, 0), why);
  ASSERT_EQ(g96.block, 32) << why;
  EXPECT_EQ(g96.scales.to_f32(), (std::vector<float>{0.5f, 0.5f, 0.5f, 1.5f, 1.5f, 1.5f, 2.5f}));
}

TEST(ExportNBits, GroupsNoBlockDividesAreRefused) {
  std::string why;
  const Node node = weights(48, 2, 4, 24, 0);
  const auto w = quant::read_weights(node, why);
  ASSERT_TRUE(w) << why;
  EXPECT_FALSE(exporter::matmul_nbits_weights(*w, why));
  EXPECT_NE(why.find("groups of 24"), std::string::npos) << why;
}
