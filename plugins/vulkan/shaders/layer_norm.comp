#version 450
// LayerNormalization over the last `d` values of each row: one 64-wide work group per row,
// mean then variance (two passes, as the reference computes them), then scale and shift.
layout(local_size_x = 64) in;
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const int HAS_BIAS = 0;
layout(constant_id = 1) const int HAS_STATS = 0;  // also write Mean and InvStdDev

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer Scale { float gamma[]; };
layout(std430, set = 0, binding = 2) readonly buffer Bias { float beta[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Y { float y[]; };
layout(std430, set = 0, binding = 4) writeonly buffer Mean { float mean_out[]; };
layout(std430, set = 0, binding = 5) writeonly buffer InvStd { float inv_std_out[]; };

layout(push_constant) uniform Params {
  int rows, d;
  float eps;
} p;

shared float part[64];

float row_sum(float v, int t) {
  part[t] = v;
  barrier();
  for (int s = 32; s > 0; s >>= 1) {
    if (t < s) part[t] += part[t + s];
    barrier();
  }
  float r = part[0];
  barrier();
  return r;
}

void main() {
  int row = int(row_index());
  if (row >= p.rows) return;
  int base = row * p.d;
  int t = int(gl_LocalInvocationID.x);
  float s = 0.0;
  for (int j = t; j < p.d; j += 64) s += x[base + j];
  float mean = row_sum(s, t) / float(p.d);
  float q = 0.0;
  for (int j = t; j < p.d; j += 64) {
    float c = x[base + j] - mean;
    q += c * c;
  }
  float inv = 1.0 / sqrt(row_sum(q, t) / float(p.d) + p.eps);
  if (HAS_STATS != 0 && t == 0) {
    mean_out[row] = mean;
    inv_std_out[row] = inv;
  }
  for (int j = t; j < p.d; j += 64) {
    float v = (x[base + j] - mean) * inv * gamma[j];
    y[base + j] = HAS_BIAS != 0 ? v + beta[j] : v;
  }
}
