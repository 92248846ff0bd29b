// Weight-only low-bit matrix products for few rows of input (a decoder's step: one token).
// Such a product is bound by reading the weights: a 4-bit code is an eighth of an fp32 weight's
// bytes. The codes stay packed and are widened to floats in registers, group by group:
//   y[m, n] = sum_g scale[n, g] * (sum_{k in g} code[n, k] x[m, k] - zero[n, g] * sum_{k in g} x[m,
//   k])
// which is the simulation's x . dequantized(w) up to the order of the float additions.
#pragma once

#include <cstdint>
#include <vector>

namespace qs::onednn {

struct LowBitWeights {
  int bits = 4;                // 2..4: two codes a byte; 5..8: one
  std::int64_t n = 0, k = 0;   // outputs, inputs
  std::int64_t k_padded = 0;   // k rounded up to a block of 32
  std::int64_t group = 0;      // inputs per scale: a multiple of 32 (k_padded: one per row)
  std::int64_t groups = 0;     // per row: ceil(k / group)
  std::int64_t row_bytes = 0;  // bytes of one output's codes
  // Per output row, per block of 32 inputs: 16 bytes, byte j holding input j in its low nibble
  // and input 16 + j in its high one (code + 8, 0..15); or 32 signed bytes. Inputs past k: 0.
  std::vector<std::uint8_t> codes;
  std::vector<float> scales;       // n * groups
  std::vector<float> zero_points;  // n * groups, as floats
  bool symmetric = true;           // every zero point 0: the second term is skipped
};

// Whether the layout holds weights with these groups (group: inputs per scale).
bool lowbit_fits(std::int64_t k, std::int64_t group);

// Packs a weight matrix's codes (int8 values within `bits`): `kn` when stored [k, n] (MatMul),
// else [n, k]; scales and zero points [n, groups] with groups = ceil(k / group).
LowBitWeights pack_lowbit(const std::int8_t* codes, bool kn, std::int64_t n, std::int64_t k,
                          int bits, std::int64_t group, const float* scales,
                          const std::int32_t* zero_points);

// y [m, n] = x [m, k] . W^T (+ bias [n] when not null), on the calling thread's OpenMP team.
// Uses AVX2 and FMA where the CPU has them, else portable code (lowbit_matmul_portable).
void lowbit_matmul(const LowBitWeights& w, const float* x, std::int64_t m, const float* bias,
                   float* y);
void lowbit_matmul_portable(const LowBitWeights& w, const float* x, std::int64_t m,
                            const float* bias, float* y);
// Which of the two lowbit_matmul runs here: "avx2" or "portable".
const char* lowbit_isa();

}  // namespace qs::onednn
