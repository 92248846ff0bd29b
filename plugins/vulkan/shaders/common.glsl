// Shared by the shaders, included after the local size is declared (flat_index reads it).
// The flat index of an invocation in a 2-D grid of 256-wide work groups (dispatch_1d on the
// host spreads large counts over y to stay under the group-count limit).
uint flat_index() {
  return (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * gl_WorkGroupSize.x +
         gl_LocalInvocationID.x;
}

// erf with |error| < 1.2e-7 (Numerical Recipes' erfc by Chebyshev fit), in float.
float erf_approx(float x) {
  float z = abs(x);
  float t = 1.0 / (1.0 + 0.5 * z);
  float r = t * exp(-z * z - 1.26551223 +
                    t * (1.00002368 +
                         t * (0.37409196 +
                              t * (0.09678418 +
                                   t * (-0.18628806 +
                                        t * (0.27886807 +
                                             t * (-1.13520398 +
                                                  t * (1.48851587 +
                                                       t * (-0.82215223 + t * 0.17087277)))))))));
  float e = 1.0 - r;
  return x >= 0.0 ? e : -e;
}

// Activations fused into the producing kernel (ACT specialization constant).
const int ACT_NONE = 0;
const int ACT_RELU = 1;
const int ACT_CLIP = 2;
const int ACT_HARDSWISH = 3;
const int ACT_SIGMOID = 4;

float activate(int act, float v, float lo, float hi) {
  if (act == ACT_RELU) return max(v, 0.0);
  if (act == ACT_CLIP) return min(max(v, lo), hi);
  if (act == ACT_HARDSWISH) return v * clamp(v / 6.0 + 0.5, 0.0, 1.0);
  if (act == ACT_SIGMOID) return 1.0 / (1.0 + exp(-v));
  return v;
}

// The row a 64-wide work group works on, for kernels with one work group per row.
uint row_index() { return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x; }
