#version 450
// Reductions over one axis of a tensor viewed as [outer, r, inner]: one 64-wide work group per
// output value, the invocations striding over r and combining through shared memory. OP 0 sum,
// 1 mean, 2 max, 3 min, 4 sum of squares.
layout(local_size_x = 64) in;
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const int OP = 0;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Params {
  int rows, r, inner;
} p;

shared float part[64];

float combine(float u, float v) {
  if (OP == 2) return max(u, v);
  if (OP == 3) return min(u, v);
  return u + v;
}

void main() {
  int row = int(row_index());
  if (row >= p.rows) return;
  int o = row / p.inner, in_ = row - o * p.inner;
  int base = o * p.r * p.inner + in_;
  int t = int(gl_LocalInvocationID.x);
  float acc = OP == 2 ? -1.0 / 0.0 : (OP == 3 ? 1.0 / 0.0 : 0.0);
  for (int j = t; j < p.r; j += 64) {
    float v = x[base + j * p.inner];
    acc = combine(acc, OP == 4 ? v * v : v);
  }
  part[t] = acc;
  barrier();
  for (int s = 32; s > 0; s >>= 1) {
    if (t < s) part[t] = combine(part[t], part[t + s]);
    barrier();
  }
  if (t == 0) y[row] = OP == 1 ? part[0] / float(p.r) : part[0];
}
