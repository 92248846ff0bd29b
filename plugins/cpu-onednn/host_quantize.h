// quant::quantize() on the CPU, for FakeQuant steps in integer mode (int8.h): clamp(round half
// to even(x * (1 / scale)) + zero_point, qmin, qmax), NaN to the zero point; the codes as u8/s8
// bytes, or their dequantized values (code - zero point) * scale, bit for bit the reference
// kernel's. Clamping to qmin - zp .. qmax - zp before rounding gives the same integers (the
// bounds are integers); cvtps2dq rounds half to even, as nearbyint does, in the default mode.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "int8.h"

namespace qs::onednn {

class HostQuantizer {
 public:
  explicit HostQuantizer(const ActGrid& g);

  // The codes of x[0..n) (n <= 16, x readable up to the next multiple of 4) into out[0..16):
  // the bytes past n are garbage.
  void codes16(const float* x, std::uint8_t* out, int n = 16) const {
#if defined(__SSE2__)
    const __m128i zp = _mm_set1_epi32(g_.zero_point), zero = _mm_setzero_si128();
    auto codes4 = [&](int k) { return k < n ? _mm_add_epi32(levels4(x + k), zp) : zero; };
    const __m128i a = _mm_packs_epi32(codes4(0), codes4(4));
    const __m128i b = _mm_packs_epi32(codes4(8), codes4(12));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out),
                     g_.qmin < 0 ? _mm_packs_epi16(a, b) : _mm_packus_epi16(a, b));
#else
    for (int i = 0; i < n; ++i) out[i] = code(x[i]);
#endif
  }

  // n values: their codes (bytes) or their dequantized values (floats). AVX2 where the CPU has
  // it (twice as fast as SSE2 here).
  void run(const float* x, std::int64_t n, bool codes, void* out) const;

 private:
  std::int32_t level(float x) const {  // code - zero point
    float v = x * inv_;
    if (std::isnan(v)) v = 0;
    return static_cast<std::int32_t>(std::nearbyint(std::clamp(v, lo_, hi_)));
  }
  std::uint8_t code(float x) const {
    return static_cast<std::uint8_t>(level(x) + g_.zero_point);  // s8 codes as their bytes
  }
#if defined(__SSE2__)
  __m128i levels4(const float* x) const {
    __m128 v = _mm_mul_ps(_mm_loadu_ps(x), _mm_set1_ps(inv_));
    v = _mm_and_ps(v, _mm_cmpord_ps(v, v));  // NaN -> 0
    return _mm_cvtps_epi32(_mm_min_ps(_mm_max_ps(v, _mm_set1_ps(lo_)), _mm_set1_ps(hi_)));
  }
#endif
  ActGrid g_;
  float inv_, lo_, hi_;
  bool avx2_ = false;
};

}  // namespace qs::onednn
