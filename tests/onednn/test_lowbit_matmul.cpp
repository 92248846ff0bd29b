// lowbit_matmul (AVX2 + FMA where the CPU has them) and its portable twin against the product
// with the dequantized weights in double: every bit width's packing, groups that end short,
// inputs that are not a multiple of the 32-wide blocks, 1 to 7 rows (the 4-, 2- and 1-row tiles),
// outputs past the 16-wide work items, weights stored either way, zero points, a bias.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>

#include "lowbit_matmul.h"

using namespace qs::onednn;

namespace {

struct Case {
  int bits;
  std::int64_t n, k, group;
  bool kn, symmetric;
};

std::string describe(const Case& c) {
  return "w" + std::to_string(c.bits) + " n=" + std::to_string(c.n) + " k=" + std::to_string(c.k) +
         " group=" + std::to_string(c.group) + (c.kn ? " [k,n]" : " [n,k]") +
         (c.symmetric ? "" : " asymmetric");
}

}  // namespace

TEST(LowBitMatmul, EqualsTheDequantizedProduct) {
  const std::vector<Case> cases = {
      {4, 40, 288, 32, true, true},   {4, 33, 864, 128, true, true}, {4, 17, 200, 64, false, false},
      {3, 16, 96, 32, true, false},   {2, 5, 64, 32, false, true},   {8, 20, 300, 300, true, false},
      {5, 7, 130, 1000, false, true}, {6, 48, 256, 64, true, false}, {4, 1, 31, 31, true, true}};
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f), scale(0.001f, 0.05f);
  for (const Case& c : cases) {
    SCOPED_TRACE(describe(c));
    ASSERT_TRUE(lowbit_fits(c.k, c.group));
    const int qmin = -(1 << (c.bits - 1)), qmax = (1 << (c.bits - 1)) - 1;
    std::uniform_int_distribution<int> code(qmin, qmax);
    const std::int64_t g = std::min(c.group, c.k), groups = (c.k + g - 1) / g;
    std::vector<std::int8_t> codes(static_cast<std::size_t>(c.n * c.k));
    for (auto& v : codes) v = static_cast<std::int8_t>(code(rng));
    std::vector<float> scales(static_cast<std::size_t>(c.n * groups));
    std::vector<std::int32_t> zeros(scales.size(), 0);
    for (auto& s : scales) s = scale(rng);
    if (!c.symmetric)
      for (auto& z : zeros) z = code(rng);
    std::vector<float> bias(static_cast<std::size_t>(c.n));
    for (auto& b : bias) b = value(rng);
    const LowBitWeights w =
        pack_lowbit(codes.data(), c.kn, c.n, c.k, c.bits, c.group, scales.data(), zeros.data());
    for (std::int64_t m = 1; m <= 7; ++m) {
      SCOPED_TRACE(std::to_string(m) + " rows");
      std::vector<float> x(static_cast<std::size_t>(m * c.k));
      for (auto& v : x) v = value(rng);
      const bool with_bias = m % 2 == 1;
      std::vector<float> fast(static_cast<std::size_t>(m * c.n)), portable(fast.size());
      lowbit_matmul(w, x.data(), m, with_bias ? bias.data() : nullptr, fast.data());
      lowbit_matmul_portable(w, x.data(), m, with_bias ? bias.data() : nullptr, portable.data());
      for (std::int64_t r = 0; r < m; ++r) {
        for (std::int64_t o = 0; o < c.n; ++o) {
          double want = with_bias ? bias[static_cast<std::size_t>(o)] : 0.0, size = 0;
          for (std::int64_t i = 0; i < c.k; ++i) {
            const std::size_t gi = static_cast<std::size_t>(o * groups + i / g);
            const int q = codes[static_cast<std::size_t>(c.kn ? i * c.n + o : o * c.k + i)];
            const double term =
                double(q - zeros[gi]) * scales[gi] * x[static_cast<std::size_t>(r * c.k + i)];
            want += term;
            size += std::abs(term);
          }
          const double tol = 1e-5 * (size + 1.0);
          const std::size_t at = static_cast<std::size_t>(r * c.n + o);
          ASSERT_NEAR(fast[at], want, tol)
              << "row " << r << " output " << o << " (" << lowbit_isa() << ")";
          ASSERT_NEAR(portable[at], want, tol) << "row " << r << " output " << o;
        }
      }
    }
  }
}

TEST(LowBitMatmul, FitsBlocksOfThirtyTwoOrOneGroupPerRow) {
  EXPECT_TRUE(lowbit_fits(864, 128));  // the last group holds 96
  EXPECT_TRUE(lowbit_fits(200, 64));
  EXPECT_TRUE(lowbit_fits(200, 200));
  EXPECT_TRUE(lowbit_fits(200, 256));
  EXPECT_FALSE(lowbit_fits(200, 24));
  EXPECT_FALSE(lowbit_fits(200, 48));
  EXPECT_FALSE(lowbit_fits(0, 32));
  EXPECT_FALSE(lowbit_fits(64, 0));
}
