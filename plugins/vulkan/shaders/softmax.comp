#version 450
// Softmax (LOG 0) or LogSoftmax (LOG 1) along one axis of a tensor viewed as [outer, r, inner]:
// one 64-wide work group per row, max and sum through shared memory.
layout(local_size_x = 64) in;
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const int LOG = 0;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Params {
  int rows, r, inner;
} p;

shared float part[64];

void main() {
  int row = int(row_index());
  if (row >= p.rows) return;
  int o = row / p.inner, in_ = row - o * p.inner;
  int base = o * p.r * p.inner + in_;
  int t = int(gl_LocalInvocationID.x);
  float m = -1.0 / 0.0;
  for (int j = t; j < p.r; j += 64) m = max(m, x[base + j * p.inner]);
  part[t] = m;
  barrier();
  for (int s = 32; s > 0; s >>= 1) {
    if (t < s) part[t] = max(part[t], part[t + s]);
    barrier();
  }
  m = part[0];
  barrier();
  float sum = 0.0;
  for (int j = t; j < p.r; j += 64) sum += exp(x[base + j * p.inner] - m);
  part[t] = sum;
  barrier();
  for (int s = 32; s > 0; s >>= 1) {
    if (t < s) part[t] += part[t + s];
    barrier();
  }
  sum = part[0];
  if (LOG != 0) {
    float ls = log(sum);
    for (int j = t; j < p.r; j += 64) y[base + j * p.inner] = x[base + j * p.inner] - m - ls;
  } else {
    float inv = 1.0 / sum;
    for (int j = t; j < p.r; j += 64) y[base + j * p.inner] = exp(x[base + j * p.inner] - m) * inv;
  }
}
