#version 450
// Quantscope's FakeQuant (quant/grid.h): x * (1 / scale) rounded half to even, plus the zero
// point, clamped to qmin..qmax, back to float. `precise` keeps the compiler from fusing the
// product into anything that would round differently from the reference.
layout(local_size_x = 256) in;
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"


layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Params {
  int n;
  float inv_scale, scale, zero_point, qmin, qmax;
} p;

void main() {
  int i = int(flat_index());
  if (i >= p.n) return;
  precise float scaled = x[i] * p.inv_scale;
  precise float q = roundEven(scaled) + p.zero_point;
  if (isnan(q)) q = p.zero_point;
  q = min(max(q, p.qmin), p.qmax);
  precise float v = (q - p.zero_point) * p.scale;
  y[i] = v;
}
