#version 450
// A strided copy over a shape of up to 6 dimensions: Transpose, Slice, Concat (one dispatch per
// input into its place), Expand, Gather of one index. Source and destination offsets are each a
// base plus the coordinates times strides.
layout(local_size_x = 256) in;
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"


layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Params {
  int n, src_base, dst_base;
  int dims[6];
  int ss[6];
  int ds[6];
} p;

void main() {
  int i = int(flat_index());
  if (i >= p.n) return;
  int rest = i, s = p.src_base, d = p.dst_base;
  for (int k = 5; k >= 0; --k) {
    int c = rest % p.dims[k];
    rest /= p.dims[k];
    s += c * p.ss[k];
    d += c * p.ds[k];
  }
  y[d] = x[s];
}
