// Shared driver for unary elementwise kernels.
#pragma once

#include "runtime/kernel_util.h"

namespace qs::kernels {

// out = f(x) elementwise over a float tensor.
template <typename F>
void unary_float(KernelContext& c, F f) {
  require_float(c, 0);
  const Tensor& x = c.in(0);
  Tensor& out = c.output(0, DType::f32, x.shape());
  if (c.shape_only) return;
  const float* px = x.data<float>();
  float* po = out.data<float>();
  for (std::int64_t i = 0; i < x.numel(); ++i) po[i] = f(px[i]);
}

// out = f(x) for every numeric dtype.
template <typename F>
void unary_numeric(KernelContext& c, F f) {
  const Tensor& x = c.in(0);
  Tensor& out = c.output(0, x.dtype(), x.shape());
  if (c.shape_only) return;
  dispatch_numeric(c, x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for (std::int64_t i = 0; i < x.numel(); ++i) po[i] = static_cast<T>(f(px[i]));
  });
}

}  // namespace qs::kernels
