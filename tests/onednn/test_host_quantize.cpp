// cpu-onednn's HostQuantizer (the SIMD FakeQuant of its integer mode) against quant::quantize,
// the one definition of a grid's rounding: every code and every dequantized value bit for bit,
// on ties, NaN, infinities, values far outside the grid and lengths that end in each loop's tail.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "host_quantize.h"
#include "quantscope/quant_format.h"

namespace {

using qs::quant::Grid;

std::vector<float> awkward_values(const Grid& g, std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> special{
      std::nanf(""), inf,   -inf,   0.0f,
      -0.0f,         1e30f, -1e30f, std::numeric_limits<float>::denorm_min()};
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    switch (rng() % 4) {
      case 0:  // ties: exactly half-way between two codes
        v[i] = (static_cast<float>(static_cast<int>(rng() % 300) - 150) + 0.5f) * g.scale;
        break;
      case 1:
        v[i] = special[rng() % special.size()];
        break;
      default:  // spread over and past the grid's range
        v[i] = normal(rng) * 100.0f * g.scale;
        break;
    }
  }
  return v;
}

TEST(OnednnHostQuantize, MatchesTheReferenceBitForBit) {
  const std::vector<Grid> grids{
      qs::quant::asymmetric_grid(-1.3f, 2.9f, 8, true),   // u8 activations
      qs::quant::symmetric_grid(0.73f, 8),                // s8, zero point 0
      qs::quant::asymmetric_grid(-0.4f, 5.0f, 8, false),  // s8 with a zero point
      qs::quant::asymmetric_grid(-3.0f, 3.0f, 4, true)};  // a narrow grid
  for (std::size_t gi = 0; gi < grids.size(); ++gi) {
    const Grid& g = grids[gi];
    const qs::onednn::HostQuantizer host(g);
    for (std::size_t n : {0u, 1u, 3u, 4u, 15u, 16u, 17u, 31u, 32u, 33u, 64u, 71u, 1000u}) {
      const std::vector<float> x = awkward_values(g, n + 4, static_cast<unsigned>(n * 7 + gi));
      std::vector<std::uint8_t> codes(n + 16);
      std::vector<float> values(n + 4);
      host.run(x.data(), static_cast<std::int64_t>(n), true, codes.data());
      host.run(x.data(), static_cast<std::int64_t>(n), false, values.data());
      for (std::size_t i = 0; i < n; ++i) {
        const std::int32_t want = qs::quant::quantize(x[i], g);
        const std::uint8_t want_byte = static_cast<std::uint8_t>(want);  // s8 as its byte
        ASSERT_EQ(codes[i], want_byte) << "grid " << gi << ", n " << n << ", x " << x[i];
        const float want_value = qs::quant::dequantize(want, g);
        ASSERT_EQ(std::memcmp(&values[i], &want_value, sizeof(float)), 0)
            << "grid " << gi << ", n " << n << ", x " << x[i] << ": " << values[i] << " vs "
            << want_value;
      }
    }
  }
}

}  // namespace
