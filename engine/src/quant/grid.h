// A uniform quantization grid: the integers qmin..qmax, a scale and a zero point. Every
// quantizer in the engine (weights, activations, simulation, the integer kernels' parameters)
// goes through this one definition, so that simulation and the integer path agree.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace qs::quant {

struct Grid {
  float scale = 1.0f;
  std::int32_t zero_point = 0;
  std::int32_t qmin = -128;
  std::int32_t qmax = 127;
};

// Signed symmetric grids use the restricted range -(2^(b-1)-1)..2^(b-1)-1 with zero point 0
// (what oneDNN's s8 weights and TensorRT expect); asymmetric grids use 0..2^b-1 (activations:
// u8) or, for weights, -2^(b-1)..2^(b-1)-1 with a zero point.
inline Grid symmetric_grid(float max_abs, int bits) {
  Grid g;
  g.qmax = (1 << (bits - 1)) - 1;
  g.qmin = -g.qmax;
  g.zero_point = 0;
  g.scale = max_abs > 0 ? max_abs / static_cast<float>(g.qmax) : 1.0f;
  return g;
}

// The range is first widened to contain 0, so that 0 is exactly representable (padding and
// Relu outputs stay exact). `unsigned_codes`: codes 0..2^b-1, else -2^(b-1)..2^(b-1)-1.
inline Grid asymmetric_grid(float lo, float hi, int bits, bool unsigned_codes) {
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  Grid g;
  g.qmin = unsigned_codes ? 0 : -(1 << (bits - 1));
  g.qmax = unsigned_codes ? (1 << bits) - 1 : (1 << (bits - 1)) - 1;
  const float span = hi - lo;
  g.scale = span > 0 ? span / static_cast<float>(g.qmax - g.qmin) : 1.0f;
  const float zp = static_cast<float>(g.qmin) - lo / g.scale;
  g.zero_point = static_cast<std::int32_t>(
      std::clamp(std::nearbyint(zp), static_cast<float>(g.qmin), static_cast<float>(g.qmax)));
  return g;
}

// x -> code. Multiplies by the reciprocal of the scale and rounds half to even, as oneDNN's
// quantizing reorder does (output scale 1/scale), so simulation matches the integer kernels.
inline std::int32_t quantize(float x, const Grid& g) {
  float q = std::nearbyint(x * (1.0f / g.scale)) + static_cast<float>(g.zero_point);
  if (std::isnan(q)) q = static_cast<float>(g.zero_point);  // NaN has no code; never UB
  return static_cast<std::int32_t>(
      std::clamp(q, static_cast<float>(g.qmin), static_cast<float>(g.qmax)));
}

inline float dequantize(std::int32_t code, const Grid& g) {
  return static_cast<float>(code - g.zero_point) * g.scale;
}

inline float fake_quantize(float x, const Grid& g) {
  return dequantize(quantize(x, g), g);
}

}  // namespace qs::quant
