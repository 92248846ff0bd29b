#version 450
// Clip with its bounds computed on the device (inputs, not constants): min(max(x, lo), hi).
layout(local_size_x = 256) in;
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const int HAS_LO = 0;
layout(constant_id = 1) const int HAS_HI = 0;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer Lo { float lo[]; };
layout(std430, set = 0, binding = 2) readonly buffer Hi { float hi[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Params { int n; } p;

void main() {
  int i = int(flat_index());
  if (i >= p.n) return;
  float v = x[i];
  if (HAS_LO != 0) v = max(v, lo[0]);
  if (HAS_HI != 0) v = min(v, hi[0]);
  y[i] = v;
}
