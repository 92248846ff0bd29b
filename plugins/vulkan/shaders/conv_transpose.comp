#version 450
// ConvTranspose (2-D, grouped), one invocation per output value gathering the input positions
// whose kernel taps land on it: input row ih feeds output row ih * SH - PH + ky * DH.
layout(local_size_x = 256) in;
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const int ACT = 0;
layout(constant_id = 1) const int HAS_BIAS = 0;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer Wt { float w[]; };  // [C, O / group, KH, KW]
layout(std430, set = 0, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Params {
  int total, C, H, W, O, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW, group;
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
  int og = p.O / p.group, cg = p.C / p.group;
  int g = o / og, oo = o - g * og;
  float acc = 0.0;
  for (int ky = 0; ky < p.KH; ++ky) {
    int th = oh + p.PH - ky * p.DH;
    if (th < 0 || th % p.SH != 0) continue;
    int ih = th / p.SH;
    if (ih >= p.H) continue;
    for (int kx = 0; kx < p.KW; ++kx) {
      int tw = ow + p.PW - kx * p.DW;
      if (tw < 0 || tw % p.SW != 0) continue;
      int iw = tw / p.SW;
      if (iw >= p.W) continue;
      for (int c = 0; c < cg; ++c) {
        int ci = g * cg + c;
        acc += x[((n * p.C + ci) * p.H + ih) * p.W + iw] *
               w[((ci * og + oo) * p.KH + ky) * p.KW + kx];
      }
    }
  }
  if (HAS_BIAS != 0) acc += bias[o];
  y[i] = activate(ACT, acc, p.lo, p.hi);
}
