// Activation functions.
#include <algorithm>
#include <cmath>
#include <limits>

#include "runtime/kernels/kernels.h"
#include "runtime/kernels/unary_util.h"

namespace qs::kernels {

void relu(KernelContext& c) {
  unary_numeric(c, [](auto x) { return x > 0 ? x : decltype(x)(0); });
}

void leaky_relu(KernelContext& c) {
  const float alpha = c.node.attr_float("alpha", 0.01f);
  unary_float(c, [alpha](float x) { return x >= 0 ? x : alpha * x; });
}

void sigmoid(KernelContext& c) {
  unary_float(c, [](float x) { return 1.0f / (1.0f + std::exp(-x)); });
}

void tanh(KernelContext& c) {
  unary_float(c, [](float x) { return std::tanh(x); });
}

void hard_sigmoid(KernelContext& c) {
  const float alpha = c.node.attr_float("alpha", 0.2f);
  const float beta = c.node.attr_float("beta", 0.5f);
  unary_float(c, [=](float x) { return std::clamp(alpha * x + beta, 0.0f, 1.0f); });
}

void hard_swish(KernelContext& c) {
  unary_float(c, [](float x) { return x * std::clamp(x / 6.0f + 0.5f, 0.0f, 1.0f); });
}

void gelu(KernelContext& c) {
  const std::string approximate = c.node.attr_string("approximate", "none");
  if (approximate == "tanh") {
    const float k = std::sqrt(2.0f / 3.14159265358979f);
    unary_float(
        c, [k](float x) { return 0.5f * x * (1.0f + std::tanh(k * (x + 0.044715f * x * x * x))); });
  } else if (approximate == "none") {
    unary_float(c, [](float x) { return 0.5f * x * (1.0f + std::erf(x / std::sqrt(2.0f))); });
  } else {
    c.fail("approximate='" + approximate + "' is not 'none' or 'tanh'");
  }
}

void elu(KernelContext& c) {
  const float alpha = c.node.attr_float("alpha", 1.0f);
  unary_float(c, [alpha](float x) { return x >= 0 ? x : alpha * std::expm1(x); });
}

void selu(KernelContext& c) {
  const float alpha = c.node.attr_float("alpha", 1.67326319217681884765625f);
  const float gamma = c.node.attr_float("gamma", 1.05070102214813232421875f);
  unary_float(c, [=](float x) { return gamma * (x > 0 ? x : alpha * std::expm1(x)); });
}

void celu(KernelContext& c) {
  const float alpha = c.node.attr_float("alpha", 1.0f);
  unary_float(c, [alpha](float x) {
    return std::max(0.0f, x) + std::min(0.0f, alpha * std::expm1(x / alpha));
  });
}

void thresholded_relu(KernelContext& c) {
  const float alpha = c.node.attr_float("alpha", 1.0f);
  unary_float(c, [alpha](float x) { return x > alpha ? x : 0.0f; });
}

void softplus(KernelContext& c) {
  unary_float(c, [](float x) { return x > 20.0f ? x : std::log1p(std::exp(x)); });
}

void softsign(KernelContext& c) {
  unary_float(c, [](float x) { return x / (1.0f + std::fabs(x)); });
}

void mish(KernelContext& c) {
  unary_float(c, [](float x) {
    const float sp = x > 20.0f ? x : std::log1p(std::exp(x));
    return x * std::tanh(sp);
  });
}

void shrink(KernelContext& c) {
  const float lambd = c.node.attr_float("lambd", 0.5f), bias = c.node.attr_float("bias", 0.0f);
  unary_numeric(c, [=](auto x) {
    using T = decltype(x);
    const float v = static_cast<float>(x);
    return static_cast<T>(v < -lambd ? v + bias : (v > lambd ? v - bias : 0.0f));
  });
}

void clip(KernelContext& c) {
  // Before opset 11 the bounds are attributes; from 11 on they are optional inputs.
  const Tensor& x = c.in(0);
  if (c.opset < 11) {
    require_float(c, 0);
    const float lo = c.node.attr_float("min", -std::numeric_limits<float>::infinity());
    const float hi = c.node.attr_float("max", std::numeric_limits<float>::infinity());
    unary_float(c, [=](float v) { return std::min(std::max(v, lo), hi); });
    return;
  }
  Tensor& out = c.output(0, x.dtype(), x.shape());
  if (c.shape_only) return;
  for (int i : {1, 2})
    if (c.has(i) && (c.in(i).dtype() != x.dtype() || c.in(i).numel() != 1))
      c.fail("min and max must be single values of the input's dtype");
  dispatch_numeric(c, x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T lo = c.has(1) ? c.in(1).data<T>()[0] : std::numeric_limits<T>::lowest();
    T hi = c.has(2) ? c.in(2).data<T>()[0] : std::numeric_limits<T>::max();
    if constexpr (std::is_floating_point_v<T>) {
      if (!c.has(1)) lo = -std::numeric_limits<T>::infinity();
      if (!c.has(2)) hi = std::numeric_limits<T>::infinity();
    }
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for (std::int64_t i = 0; i < x.numel(); ++i) po[i] = std::min(std::max(px[i], lo), hi);
  });
}

}  // namespace qs::kernels
