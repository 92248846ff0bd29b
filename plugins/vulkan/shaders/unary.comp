#version 450
// Elementwise ops of one input, chosen by OP.
layout(local_size_x = 256) in;
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const int OP = 0;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Params {
  int n;
  float alpha, beta;
} p;

// The OP values (vulkan ops_simple.cpp, kUnaryOps, lists the same numbers).
float apply(float v) {
  switch (OP) {
    case 0: return max(v, 0.0);                                   // Relu
    case 1: return 1.0 / (1.0 + exp(-v));                         // Sigmoid
    case 2: return tanh(v);                                       // Tanh
    case 3: return exp(v);                                        // Exp
    case 4: return log(v);                                        // Log
    case 5: return sqrt(v);                                       // Sqrt
    case 6: return -v;                                            // Neg
    case 7: return abs(v);                                        // Abs
    case 8: return erf_approx(v);                                 // Erf
    case 9: return v * clamp(v / 6.0 + 0.5, 0.0, 1.0);            // HardSwish
    case 10: return clamp(p.alpha * v + p.beta, 0.0, 1.0);        // HardSigmoid
    case 11: return min(max(v, p.alpha), p.beta);                 // Clip
    case 12: return v >= 0.0 ? v : p.alpha * v;                   // LeakyRelu
    case 13: return v >= 0.0 ? v : p.alpha * (exp(v) - 1.0);      // Elu
    case 14: return v > 20.0 ? v : log(1.0 + exp(v));             // Softplus
    case 15: return 1.0 / v;                                      // Reciprocal
    case 16: return floor(v);                                     // Floor
    case 17: return ceil(v);                                      // Ceil
    case 18: return v;                                            // Identity
    case 19: return 0.5 * v * (1.0 + erf_approx(v * 0.70710678118654752)); // Gelu (exact)
    case 20: return sin(v);                                       // Sin
    case 21: return cos(v);                                       // Cos
    case 22: return v * (1.0 / (1.0 + exp(-v)));                  // Silu (Mul(x, Sigmoid(x)))
    case 23: return v > 0.0 ? 1.0 : (v < 0.0 ? -1.0 : 0.0);       // Sign
    case 24: return roundEven(v);                                 // Round
    case 25: return v >= 0.0 ? p.beta * v : p.beta * p.alpha * (exp(v) - 1.0);  // Selu
  }
  return v;
}

void main() {
  int i = int(flat_index());
  if (i < p.n) y[i] = apply(x[i]);
}
