#version 450
// Depthwise convolution (one input channel per group, `mult` output channels each), one
// invocation per output value: the work per output is only KH x KW multiply-adds, so the
// kernel is bound by memory and a tiled product would gain nothing.
layout(local_size_x = 256) in;
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const int ACT = 0;
layout(constant_id = 1) const int HAS_BIAS = 0;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer Wt { float w[]; };
layout(std430, set = 0, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Params {
  int total, C, H, W, O, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW, mult;
  float lo, hi;
} p;

void main() {
  int i = int(flat_index());
  if (i >= p.total) return;
  int ow = i % p.OW;
  int t = i / p.OW;
  int oh = t % p.OH;
  t /= p.OH;
  int o = t % p.O;
  int n = t / p.O;
  int c = o / p.mult;
  float acc = 0.0;
  int xbase = (n * p.C + c) * p.H * p.W;
  int wbase = o * p.KH * p.KW;
  for (int ky = 0; ky < p.KH; ++ky) {
    int ih = oh * p.SH - p.PH + ky * p.DH;
    if (ih < 0 || ih >= p.H) continue;
    for (int kx = 0; kx < p.KW; ++kx) {
      int iw = ow * p.SW - p.PW + kx * p.DW;
      if (iw < 0 || iw >= p.W) continue;
      acc += x[xbase + ih * p.W + iw] * w[wbase + ky * p.KW + kx];
    }
  }
  if (HAS_BIAS != 0) acc += bias[o];
  y[i] = activate(ACT, acc, p.lo, p.hi);
}
