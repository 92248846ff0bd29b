#version 450
// Elementwise ops of two inputs with ONNX (numpy) broadcasting: the output's shape (up to 6
// dimensions, leading ones padded with 1) and each input's strides, 0 along broadcast axes.
layout(local_size_x = 256) in;
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const int OP = 0;

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Params {
  int n;
  int dims[6];
  int sa[6];
  int sb[6];
} p;

float apply(float x, float z) {
  switch (OP) {
    case 0: return x + z;
    case 1: return x - z;
    case 2: return x * z;
    case 3: return x / z;
    case 4: return pow(x, z);
    case 5: return max(x, z);
    case 6: return min(x, z);
  }
  return x;
}

void main() {
  int i = int(flat_index());
  if (i >= p.n) return;
  int rest = i, ia = 0, ib = 0;
  for (int d = 5; d >= 0; --d) {
    int c = rest % p.dims[d];
    rest /= p.dims[d];
    ia += c * p.sa[d];
    ib += c * p.sb[d];
  }
  y[i] = apply(a[ia], b[ib]);
}
