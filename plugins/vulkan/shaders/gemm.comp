#version 450
// C = act(A x B^T + bias), tiled (16 RM) x (16 RN) x 16 through shared memory, each of the
// 256 invocations computing an RM x RN block: 4 x 4 in general, 16 x 1 for products with few
// columns (a first Conv's handful of channels), 1 x 16 for few rows (one sample's Gemm). MODE 0: strided batched matrix product (Gemm, MatMul),
// one batch per work group z, with the batch's offsets in `offsets`. MODE 1: convolution as an
// implicit GEMM (rows: batch x output pixels, columns: output channels of one group, k: input
// channels x kernel taps), one group per work group z. B holds fp32 values, or int8 / int4
// codes packed in 32-bit words with per-(row, group) scales and zero points, dequantized here.
layout(local_size_x = 16, local_size_y = 16) in;
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const int MODE = 0;      // 0 matmul, 1 conv
layout(constant_id = 1) const int WFMT = 0;      // 0 fp32, 1 int8 codes, 2 int4 codes
layout(constant_id = 2) const int ACT = 0;       // common.glsl ACT_*
layout(constant_id = 3) const int HAS_BIAS = 0;
layout(constant_id = 4) const int RM = 4;        // rows per invocation
layout(constant_id = 5) const int RN = 4;        // columns per invocation

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { uint b[]; };
layout(std430, set = 0, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, set = 0, binding = 3) writeonly buffer C { float c[]; };
layout(std430, set = 0, binding = 4) readonly buffer Offsets { int offsets[]; };
layout(std430, set = 0, binding = 5) readonly buffer Scales { float w_scale[]; };
layout(std430, set = 0, binding = 6) readonly buffer Zeros { int w_zero[]; };

layout(push_constant) uniform Params {
  int M, N, K;
  int a_sm, a_sk, b_sn, b_sk, c_sm, c_sn;  // MODE 0 strides (elements)
  float lo, hi;                            // ACT_CLIP bounds
  float alpha, beta;                       // Gemm: alpha * A x B^T + beta * bias
  int bias_sm, bias_sn;                    // MODE 0: the bias's strides (0 where it broadcasts)
  int group_size, groups_per_row, k_words; // quantized B: k per scale, scales per row, words per row
  // MODE 1
  int C_in, H, W, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW, O_total;
} p;

const int BM = 16 * RM, BN = 16 * RN, BK = 16;
shared float As[BK][BM];
shared float Bs[BK][BN];

float load_a(int m, int k, int z) {
  if (m >= p.M || k >= p.K) return 0.0;
  if (MODE == 0) return a[offsets[3 * z] + m * p.a_sm + k * p.a_sk];
  int ohw = p.OH * p.OW;
  int n = m / ohw, r = m - n * ohw;
  int oh = r / p.OW, ow = r - oh * p.OW;
  int taps = p.KH * p.KW;
  int ci = k / taps, t = k - ci * taps;
  int ky = t / p.KW, kx = t - ky * p.KW;
  int ih = oh * p.SH - p.PH + ky * p.DH;
  int iw = ow * p.SW - p.PW + kx * p.DW;
  if (ih < 0 || ih >= p.H || iw < 0 || iw >= p.W) return 0.0;
  int c_in_group = p.K / taps;
  return a[((n * p.C_in + z * c_in_group + ci) * p.H + ih) * p.W + iw];
}

float load_b(int n, int k, int z) {
  if (n >= p.N || k >= p.K) return 0.0;
  int row = MODE == 0 ? n : z * p.N + n;
  if (WFMT == 0) {
    int base = MODE == 0 ? offsets[3 * z + 1] : 0;
    int idx = MODE == 0 ? base + n * p.b_sn + k * p.b_sk : row * p.K + k;
    return uintBitsToFloat(b[idx]);
  }
  int code;
  if (WFMT == 1) {
    uint word = b[row * p.k_words + (k >> 2)];
    code = bitfieldExtract(int(word), (k & 3) * 8, 8);
  } else {
    uint word = b[row * p.k_words + (k >> 3)];
    code = bitfieldExtract(int(word), (k & 7) * 4, 4);
  }
  int s = row * p.groups_per_row + k / p.group_size;
  return float(code - w_zero[s]) * w_scale[s];
}

void main() {
  int z = int(gl_WorkGroupID.z);
  int tx = int(gl_LocalInvocationID.x), ty = int(gl_LocalInvocationID.y);
  int tid = ty * 16 + tx;
  int m0 = int(gl_WorkGroupID.y) * BM, n0 = int(gl_WorkGroupID.x) * BN;
  float acc[RM][RN];
  for (int i = 0; i < RM; ++i)
    for (int j = 0; j < RN; ++j) acc[i][j] = 0.0;
  for (int k0 = 0; k0 < p.K; k0 += BK) {
    // Consecutive invocations walk k, contiguous in an input row (A) and a weight row (B).
    for (int idx = tid; idx < BM * BK; idx += 256) {
      int kk = idx % BK, rr = idx / BK;
      As[kk][rr] = load_a(m0 + rr, k0 + kk, z);
    }
    for (int idx = tid; idx < BN * BK; idx += 256) {
      int kk = idx % BK, rr = idx / BK;
      Bs[kk][rr] = load_b(n0 + rr, k0 + kk, z);
    }
    barrier();
    for (int kk = 0; kk < BK; ++kk) {
      float av[RM], bv[RN];
      for (int i = 0; i < RM; ++i) av[i] = As[kk][ty + 16 * i];
      for (int j = 0; j < RN; ++j) bv[j] = Bs[kk][tx + 16 * j];
      for (int i = 0; i < RM; ++i)
        for (int j = 0; j < RN; ++j) acc[i][j] += av[i] * bv[j];
    }
    barrier();
  }
  for (int i = 0; i < RM; ++i) {
    int m = m0 + ty + 16 * i;
    if (m >= p.M) continue;
    for (int j = 0; j < RN; ++j) {
      int n = n0 + tx + 16 * j;
      if (n >= p.N) continue;
      int channel = MODE == 0 ? n : z * p.N + n;
      float v = p.alpha * acc[i][j];
      if (HAS_BIAS != 0) v += p.beta * bias[MODE == 0 ? m * p.bias_sm + n * p.bias_sn : channel];
      v = activate(ACT, v, p.lo, p.hi);
      if (MODE == 0) {
        c[offsets[3 * z + 2] + m * p.c_sm + n * p.c_sn] = v;
      } else {
        int ohw = p.OH * p.OW;
        int b_ = m / ohw, r = m - b_ * ohw;
        c[(b_ * p.O_total + channel) * ohw + r] = v;
      }
    }
  }
}
