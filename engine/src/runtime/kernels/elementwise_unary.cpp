// Unary math ops.
#include <cmath>
#include <cstdlib>

#include "runtime/kernel_util.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/unary_util.h"

namespace qs::kernels {

void sqrt(KernelContext& c) {
  unary_float(c, [](float x) { return std::sqrt(x); });
}
void erf(KernelContext& c) {
  unary_float(c, [](float x) { return std::erf(x); });
}
void exp(KernelContext& c) {
  unary_float(c, [](float x) { return std::exp(x); });
}
void log(KernelContext& c) {
  unary_float(c, [](float x) { return std::log(x); });
}
void reciprocal(KernelContext& c) {
  unary_float(c, [](float x) { return 1.0f / x; });
}
void floor(KernelContext& c) {
  unary_float(c, [](float x) { return std::floor(x); });
}
void ceil(KernelContext& c) {
  unary_float(c, [](float x) { return std::ceil(x); });
}

void sin(KernelContext& c) {
  unary_float(c, [](float x) { return std::sin(x); });
}
void cos(KernelContext& c) {
  unary_float(c, [](float x) { return std::cos(x); });
}
void tan(KernelContext& c) {
  unary_float(c, [](float x) { return std::tan(x); });
}
void asin(KernelContext& c) {
  unary_float(c, [](float x) { return std::asin(x); });
}
void acos(KernelContext& c) {
  unary_float(c, [](float x) { return std::acos(x); });
}
void atan(KernelContext& c) {
  unary_float(c, [](float x) { return std::atan(x); });
}
void sinh(KernelContext& c) {
  unary_float(c, [](float x) { return std::sinh(x); });
}
void cosh(KernelContext& c) {
  unary_float(c, [](float x) { return std::cosh(x); });
}
void asinh(KernelContext& c) {
  unary_float(c, [](float x) { return std::asinh(x); });
}
void acosh(KernelContext& c) {
  unary_float(c, [](float x) { return std::acosh(x); });
}
void atanh(KernelContext& c) {
  unary_float(c, [](float x) { return std::atanh(x); });
}
void round(KernelContext& c) {
  // Halves to even, as ONNX (and numpy) round.
  unary_float(c, [](float x) { return std::nearbyint(x); });
}

void sign(KernelContext& c) {
  unary_numeric(c, [](auto x) {
    using T = decltype(x);
    return static_cast<T>(x > T(0) ? 1 : (x < T(0) ? -1 : 0));
  });
}

void logical_not(KernelContext& c) {
  require_dtype(c, 0, DType::boolean);
  const Tensor& x = c.in(0);
  Tensor& out = c.output(0, DType::boolean, x.shape());
  if (c.shape_only) return;
  const bool* px = x.data<bool>();
  bool* po = out.data<bool>();
  for (std::int64_t i = 0; i < x.numel(); ++i) po[i] = !px[i];
}

// IsNaN, IsInf: a float test with a boolean result.
template <typename Test>
void float_test(KernelContext& c, Test test) {
  require_float(c, 0);
  const Tensor& x = c.in(0);
  Tensor& out = c.output(0, DType::boolean, x.shape());
  if (c.shape_only) return;
  const float* px = x.data<float>();
  bool* po = out.data<bool>();
  for (std::int64_t i = 0; i < x.numel(); ++i) po[i] = test(px[i]);
}

void is_nan(KernelContext& c) {
  float_test(c, [](float x) { return std::isnan(x); });
}

void is_inf(KernelContext& c) {
  const bool positive = c.node.attr_int("detect_positive", 1) != 0;
  const bool negative = c.node.attr_int("detect_negative", 1) != 0;
  float_test(c, [=](float x) { return std::isinf(x) && (x > 0 ? positive : negative); });
}

void neg(KernelContext& c) {
  unary_numeric(c, [](auto x) { return -x; });
}

void abs(KernelContext& c) {
  unary_numeric(c, [](auto x) { return x < 0 ? -x : x; });
}

}  // namespace qs::kernels
