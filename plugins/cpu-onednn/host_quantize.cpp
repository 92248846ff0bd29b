// HostQuantizer's loops: AVX2 (chosen at run time), SSE2, scalar for the tail.
#include "host_quantize.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define QS_HOST_AVX2 1
#endif

namespace qs::onednn {

namespace {

#if QS_HOST_AVX2
struct Avx2Grid {
  float inv, lo, hi, scale;
  std::int32_t zero_point;
  bool is_signed;
};

__attribute__((target("avx2"))) inline __m256i levels8(const float* x, __m256 inv, __m256 lo,
                                                       __m256 hi) {
  __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x), inv);
  v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));  // NaN -> 0
  return _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v, lo), hi));
}

// Handles a multiple of 32 (codes) or 8 (values) from the start; returns how many.
__attribute__((target("avx2"))) std::int64_t run_avx2(const float* x, std::int64_t n,
                                                      const Avx2Grid& g, bool codes, void* out) {
  const __m256 inv = _mm256_set1_ps(g.inv), lo = _mm256_set1_ps(g.lo), hi = _mm256_set1_ps(g.hi);
  std::int64_t i = 0;
  if (codes) {
    const __m256i zp = _mm256_set1_epi32(g.zero_point);
    // packs works within 128-bit lanes: this puts the 8 dwords back in order.
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    std::uint8_t* y = static_cast<std::uint8_t*>(out);
    for (; i + 32 <= n; i += 32) {
      const __m256i a = _mm256_packs_epi32(_mm256_add_epi32(levels8(x + i, inv, lo, hi), zp),
                                           _mm256_add_epi32(levels8(x + i + 8, inv, lo, hi), zp));
      const __m256i b = _mm256_packs_epi32(_mm256_add_epi32(levels8(x + i + 16, inv, lo, hi), zp),
                                           _mm256_add_epi32(levels8(x + i + 24, inv, lo, hi), zp));
      const __m256i c = g.is_signed ? _mm256_packs_epi16(a, b) : _mm256_packus_epi16(a, b);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), _mm256_permutevar8x32_epi32(c, order));
    }
  } else {
    const __m256 scale = _mm256_set1_ps(g.scale);
    float* y = static_cast<float*>(out);
    for (; i + 8 <= n; i += 8)
      _mm256_storeu_ps(y + i,
                       _mm256_mul_ps(_mm256_cvtepi32_ps(levels8(x + i, inv, lo, hi)), scale));
  }
  return i;
}
#endif

}  // namespace

HostQuantizer::HostQuantizer(const ActGrid& g)
    : g_(g),
      inv_(1.0f / g.scale),
      lo_(static_cast<float>(g.qmin - g.zero_point)),
      hi_(static_cast<float>(g.qmax - g.zero_point)) {
#if QS_HOST_AVX2
  avx2_ = __builtin_cpu_supports("avx2");
#endif
}

void HostQuantizer::run(const float* x, std::int64_t n, bool codes, void* out) const {
  std::uint8_t* u8 = static_cast<std::uint8_t*>(out);
  float* f32 = static_cast<float*>(out);
  std::int64_t i = 0;
#if QS_HOST_AVX2
  if (avx2_) i = run_avx2(x, n, {inv_, lo_, hi_, g_.scale, g_.zero_point, g_.qmin < 0}, codes, out);
#endif
  if (codes) {
    for (; i + 16 <= n; i += 16) codes16(x + i, u8 + i);
    for (; i < n; ++i) u8[i] = code(x[i]);
    return;
  }
#if defined(__SSE2__)
  const __m128 scale = _mm_set1_ps(g_.scale);
  for (; i + 4 <= n; i += 4)
    _mm_storeu_ps(f32 + i, _mm_mul_ps(_mm_cvtepi32_ps(levels4(x + i)), scale));
#endif
  for (; i < n; ++i) f32[i] = static_cast<float>(level(x[i])) * g_.scale;
}

}  // namespace qs::onednn
