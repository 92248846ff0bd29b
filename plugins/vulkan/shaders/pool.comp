#version 450
// 2-D MaxPool (MAX 1) and AveragePool (MAX 0) on NCHW, one invocation per output value.
layout(local_size_x = 256) in;
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const int MAX = 1;
layout(constant_id = 1) const int COUNT_PAD = 0;  // AveragePool's count_include_pad

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Params {
  int total, H, W, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW, PEH, PEW;  // PE*: end pads
} p;

void main() {
  int i = int(flat_index());
  if (i >= p.total) return;
  int ow = i % p.OW;
  int t = i / p.OW;
  int oh = t % p.OH;
  int nc = t / p.OH;
  int base = nc * p.H * p.W;
  float acc = MAX != 0 ? -1.0 / 0.0 : 0.0;
  int count = 0;
  for (int ky = 0; ky < p.KH; ++ky) {
    int ih = oh * p.SH - p.PH + ky * p.DH;
    for (int kx = 0; kx < p.KW; ++kx) {
      int iw = ow * p.SW - p.PW + kx * p.DW;
      bool inside = ih >= 0 && ih < p.H && iw >= 0 && iw < p.W;
      // Padding counts for the average only up to the padded input's edge.
      if (COUNT_PAD != 0 && ih < p.H + p.PEH && iw < p.W + p.PEW) ++count;
      if (!inside) continue;
      float v = x[base + ih * p.W + iw];
      if (MAX != 0) acc = max(acc, v);
      else { acc += v; if (COUNT_PAD == 0) ++count; }
    }
  }
  y[i] = MAX != 0 ? acc : acc / float(max(count, 1));
}
