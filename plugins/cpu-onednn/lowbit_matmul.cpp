// lowbit_matmul.h: packing, a portable kernel, and an AVX2 + FMA one chosen at run time (the
// plugin is built for baseline x86-64).
#include "lowbit_matmul.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

namespace qs::onednn {

namespace {

constexpr std::int64_t kBlock = 32;        // inputs per packed block
constexpr std::int64_t kOutputChunk = 16;  // outputs per OpenMP work item

bool nibbles(const LowBitWeights& w) {
  return w.bits <= 4;
}
std::int64_t block_bytes(const LowBitWeights& w) {
  return nibbles(w) ? kBlock / 2 : kBlock;
}

int code_at(const LowBitWeights& w, const std::uint8_t* row, std::int64_t k) {
  const std::int64_t b = k / kBlock, j = k % kBlock;
  if (!nibbles(w)) return static_cast<std::int8_t>(row[b * kBlock + j]);
  const std::uint8_t byte = row[b * (kBlock / 2) + j % 16];
  return ((j < 16 ? byte : byte >> 4) & 0xF) - 8;
}

// Inputs the kernels read: x itself, or a copy padded with zeros to k_padded per row.
struct Inputs {
  std::vector<float> padded;
  const float* x = nullptr;
  std::int64_t stride = 0;
  std::vector<float> group_sums;  // [m, groups]: sum of x over each group (asymmetric only)

  Inputs(const LowBitWeights& w, const float* in, std::int64_t m) {
    x = in;
    stride = w.k;
    if (w.k != w.k_padded) {
      padded.assign(static_cast<std::size_t>(m * w.k_padded), 0.0f);
      for (std::int64_t r = 0; r < m; ++r)
        std::memcpy(padded.data() + r * w.k_padded, in + r * w.k,
                    static_cast<std::size_t>(w.k) * sizeof(float));
      x = padded.data();
      stride = w.k_padded;
    }
    if (w.symmetric) return;
    group_sums.assign(static_cast<std::size_t>(m * w.groups), 0.0f);
    for (std::int64_t r = 0; r < m; ++r)
      for (std::int64_t k = 0; k < w.k; ++k)
        group_sums[static_cast<std::size_t>(r * w.groups + k / w.group)] += in[r * w.k + k];
  }

  // sum_g scale * zero point * sum(x over g): what the zero points take off output n of row r.
  float offset(const LowBitWeights& w, std::int64_t r, std::int64_t n) const {
    if (w.symmetric) return 0.0f;
    float s = 0;
    for (std::int64_t g = 0; g < w.groups; ++g) {
      const std::size_t p = static_cast<std::size_t>(n * w.groups + g);
      s += w.scales[p] * w.zero_points[p] * group_sums[static_cast<std::size_t>(r * w.groups + g)];
    }
    return s;
  }
};

// The outputs in chunks of kOutputChunk over the OpenMP team: one(n0, n1) per chunk.
template <typename T>
void for_chunks(const LowBitWeights& w, T&& one) {
  const std::int64_t chunks = (w.n + kOutputChunk - 1) / kOutputChunk;
#pragma omp parallel for schedule(static)
  for (std::int64_t c = 0; c < chunks; ++c)
    one(c * kOutputChunk, std::min(w.n, (c + 1) * kOutputChunk));
}

// ---- AVX2 + FMA ---------------------------------------------------------------------------

#define QS_AVX2 __attribute__((target("avx2,fma")))

// 32 codes of a block as four vectors of 8 floats: inputs 0-7, 8-15, 16-23, 24-31.
template <bool Nibbles>
QS_AVX2 inline void widen(const std::uint8_t* p, __m256 f[4]) {
  __m128i lo, hi;
  if constexpr (Nibbles) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i mask = _mm_set1_epi8(0x0F), eight = _mm_set1_epi8(8);
    lo = _mm_sub_epi8(_mm_and_si128(b, mask), eight);
    hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(b, 4), mask), eight);
  } else {
    lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16));
  }
  f[0] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo));
  f[1] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8)));
  f[2] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi));
  f[3] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8)));
}

QS_AVX2 inline float horizontal_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Output n for rows r0 .. r0 + Rows: each block's codes widened once, used for every row.
// Groups of one block (32) scale the codes (4 multiplies) rather than close a sum per group.
// Accumulators per row: 4 for one row, 2 for two, 1 for four (independent FMA chains). The
// small loops are unrolled so that the accumulators stay in registers.
template <int Rows, bool Nibbles>
QS_AVX2 void output_avx2(const LowBitWeights& w, const Inputs& in, std::int64_t r0, std::int64_t n,
                         const float* bias, float* y) {
  constexpr int kAcc = Rows == 1 ? 4 : Rows == 2 ? 2 : 1;
  const std::uint8_t* row = w.codes.data() + n * w.row_bytes;
  const std::int64_t bytes = Nibbles ? kBlock / 2 : kBlock;
  const std::int64_t blocks = w.k_padded / kBlock, per_group = w.group / kBlock;
  __m256 total[Rows], sums[Rows][kAcc];
#pragma GCC unroll 4
  for (int r = 0; r < Rows; ++r) {
    total[r] = _mm256_setzero_ps();
#pragma GCC unroll 4
    for (int a = 0; a < kAcc; ++a) sums[r][a] = _mm256_setzero_ps();
  }
  for (std::int64_t g = 0, b = 0; g < w.groups; ++g) {
    __m256 acc[Rows][kAcc];
#pragma GCC unroll 4
    for (int r = 0; r < Rows; ++r)
#pragma GCC unroll 4
      for (int a = 0; a < kAcc; ++a) acc[r][a] = _mm256_setzero_ps();
    const std::int64_t end = std::min(blocks, b + per_group);
    const __m256 scale = _mm256_set1_ps(w.scales[static_cast<std::size_t>(n * w.groups + g)]);
    if (per_group == 1) {  // one block a group: its codes scaled, then added to the totals
      __m256 f[4];
      widen<Nibbles>(row + b * bytes, f);
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q) f[q] = _mm256_mul_ps(f[q], scale);
#pragma GCC unroll 4
      for (int r = 0; r < Rows; ++r) {
        const float* x = in.x + (r0 + r) * in.stride + b * kBlock;
#pragma GCC unroll 4
        for (int q = 0; q < 4; ++q)
          sums[r][q % kAcc] = _mm256_fmadd_ps(f[q], _mm256_loadu_ps(x + 8 * q), sums[r][q % kAcc]);
      }
      ++b;
      continue;
    }
    for (; b < end; ++b) {
      __m256 f[4];
      widen<Nibbles>(row + b * bytes, f);
#pragma GCC unroll 4
      for (int r = 0; r < Rows; ++r) {
        const float* x = in.x + (r0 + r) * in.stride + b * kBlock;
#pragma GCC unroll 4
        for (int q = 0; q < 4; ++q)
          acc[r][q % kAcc] = _mm256_fmadd_ps(f[q], _mm256_loadu_ps(x + 8 * q), acc[r][q % kAcc]);
      }
    }
#pragma GCC unroll 4
    for (int r = 0; r < Rows; ++r) {
      __m256 sum = acc[r][0];
#pragma GCC unroll 4
      for (int a = 1; a < kAcc; ++a) sum = _mm256_add_ps(sum, acc[r][a]);
      total[r] = _mm256_fmadd_ps(scale, sum, total[r]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 4
    for (int a = 0; a < kAcc; ++a) total[r] = _mm256_add_ps(total[r], sums[r][a]);
  }
#pragma GCC unroll 4
  for (int r = 0; r < Rows; ++r)
    y[(r0 + r) * w.n + n] =
        horizontal_sum(total[r]) - in.offset(w, r0 + r, n) + (bias ? bias[n] : 0.0f);
}

// Outputs n .. n + 3 of row r: the row's inputs loaded once for the four, and the four sums
// reduced together (a horizontal sum per output costs as much as a short row's products).
template <bool Nibbles>
QS_AVX2 void four_outputs_avx2(const LowBitWeights& w, const Inputs& in, std::int64_t r,
                               std::int64_t n, const float* bias, float* y) {
  const std::int64_t bytes = Nibbles ? kBlock / 2 : kBlock;
  const std::int64_t blocks = w.k_padded / kBlock, per_group = w.group / kBlock;
  const float* x = in.x + r * in.stride;
  __m256 total[4];
#pragma GCC unroll 4
  for (int o = 0; o < 4; ++o) total[o] = _mm256_setzero_ps();
  for (std::int64_t g = 0, b = 0; g < w.groups; ++g) {
    __m256 acc[4];
#pragma GCC unroll 4
    for (int o = 0; o < 4; ++o) acc[o] = _mm256_setzero_ps();
    for (const std::int64_t end = std::min(blocks, b + per_group); b < end; ++b) {
      __m256 xv[4];
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q) xv[q] = _mm256_loadu_ps(x + b * kBlock + 8 * q);
#pragma GCC unroll 4
      for (int o = 0; o < 4; ++o) {
        __m256 f[4];
        widen<Nibbles>(w.codes.data() + (n + o) * w.row_bytes + b * bytes, f);
#pragma GCC unroll 4
        for (int q = 0; q < 4; ++q) acc[o] = _mm256_fmadd_ps(f[q], xv[q], acc[o]);
      }
    }
#pragma GCC unroll 4
    for (int o = 0; o < 4; ++o)
      total[o] = _mm256_fmadd_ps(
          _mm256_set1_ps(w.scales[static_cast<std::size_t>((n + o) * w.groups + g)]), acc[o],
          total[o]);
  }
  // [t0 t1 t2 t3] from the four vectors: lanes summed pairwise, then the two halves.
  const __m256 s =
      _mm256_hadd_ps(_mm256_hadd_ps(total[0], total[1]), _mm256_hadd_ps(total[2], total[3]));
  float sums[4];
  _mm_storeu_ps(sums, _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1)));
  for (int o = 0; o < 4; ++o)
    y[r * w.n + n + o] = sums[o] - in.offset(w, r, n + o) + (bias ? bias[n + o] : 0.0f);
}

template <bool Nibbles>
QS_AVX2 void matmul_avx2(const LowBitWeights& w, const Inputs& in, std::int64_t m,
                         const float* bias, float* y) {
  for_chunks(w, [&](std::int64_t n0, std::int64_t n1) {
    for (std::int64_t n = n0; n < n1; ++n) {
      if (m == 1 && n + 4 <= n1) {  // one row (a decode step): four outputs at a time
        four_outputs_avx2<Nibbles>(w, in, 0, n, bias, y);
        n += 3;
        continue;
      }
      std::int64_t r = 0;
      for (; r + 4 <= m; r += 4) output_avx2<4, Nibbles>(w, in, r, n, bias, y);
      if (r + 2 <= m) {
        output_avx2<2, Nibbles>(w, in, r, n, bias, y);
        r += 2;
      }
      if (r < m) output_avx2<1, Nibbles>(w, in, r, n, bias, y);
    }
  });
}

bool cpu_has_avx2_fma() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}

}  // namespace

bool lowbit_fits(std::int64_t k, std::int64_t group) {
  return k > 0 && group > 0 && (group >= k || group % kBlock == 0);
}

LowBitWeights pack_lowbit(const std::int8_t* codes, bool kn, std::int64_t n, std::int64_t k,
                          int bits, std::int64_t group, const float* scales,
                          const std::int32_t* zero_points) {
  LowBitWeights w;
  w.bits = bits;
  w.n = n;
  w.k = k;
  w.k_padded = (k + kBlock - 1) / kBlock * kBlock;
  w.group = group >= k ? w.k_padded : group;
  w.groups = (k + std::min(group, k) - 1) / std::min(group, k);
  w.row_bytes = w.k_padded / kBlock * block_bytes(w);
  w.codes.assign(static_cast<std::size_t>(n * w.row_bytes), 0);
  for (std::int64_t o = 0; o < n; ++o) {
    std::uint8_t* row = w.codes.data() + o * w.row_bytes;
    for (std::int64_t i = 0; i < w.k_padded; ++i) {
      const int c = i < k ? codes[kn ? i * n + o : o * k + i] : 0;
      const std::int64_t b = i / kBlock, j = i % kBlock;
      if (!nibbles(w)) {
        row[b * kBlock + j] = static_cast<std::uint8_t>(static_cast<std::int8_t>(c));
      } else {
        const auto u = static_cast<std::uint8_t>((c + 8) & 0xF);
        row[b * (kBlock / 2) + j % 16] |= static_cast<std::uint8_t>(j < 16 ? u : u << 4);
      }
    }
  }
  const std::size_t count = static_cast<std::size_t>(n * w.groups);
  w.scales.assign(scales, scales + count);
  w.zero_points.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    w.zero_points[i] = static_cast<float>(zero_points[i]);
    w.symmetric = w.symmetric && zero_points[i] == 0;
  }
  return w;
}

void lowbit_matmul_portable(const LowBitWeights& w, const float* x, std::int64_t m,
                            const float* bias, float* y) {
  const Inputs in(w, x, m);
  const std::int64_t group = std::min(w.group, w.k);
  for_chunks(w, [&](std::int64_t n0, std::int64_t n1) {
    for (std::int64_t n = n0; n < n1; ++n) {
      const std::uint8_t* row = w.codes.data() + n * w.row_bytes;
      for (std::int64_t r = 0; r < m; ++r) {
        float total = 0;
        for (std::int64_t g = 0; g < w.groups; ++g) {
          float sum = 0;
          for (std::int64_t k = g * group; k < std::min(w.k, (g + 1) * group); ++k)
            sum += static_cast<float>(code_at(w, row, k)) * x[r * w.k + k];
          total += w.scales[static_cast<std::size_t>(n * w.groups + g)] * sum;
        }
        y[r * w.n + n] = total - in.offset(w, r, n) + (bias ? bias[n] : 0.0f);
      }
    }
  });
}

void lowbit_matmul(const LowBitWeights& w, const float* x, std::int64_t m, const float* bias,
                   float* y) {
  if (!cpu_has_avx2_fma()) return lowbit_matmul_portable(w, x, m, bias, y);
  const Inputs in(w, x, m);
  if (nibbles(w))
    matmul_avx2<true>(w, in, m, bias, y);
  else
    matmul_avx2<false>(w, in, m, bias, y);
}

const char* lowbit_isa() {
  return cpu_has_avx2_fma() ? "avx2" : "portable";
}

}  // namespace qs::onednn
