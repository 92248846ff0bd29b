// Backward rules of the elementwise math ops and activations. At kinks the rules take the
// one-sided derivative PyTorch takes (Relu: 0 at 0; Clip: 1 on the closed interval; HardSigmoid:
// 0 at the ends; HardSwish: x/3 + 1/2 on [-3, 3]).
#include <cmath>
#include <limits>

#include "runtime/autograd/rules.h"

namespace qs::autograd {

namespace {

// dx[i] = f(x[i], y[i], g[i]).
template <typename F>
void unary(BackwardContext& c, F f) {
  if (!c.need(0)) return;
  const Tensor& x = c.in(0);
  const Tensor& y = c.out(0);
  const Tensor& g = c.grad_out(0);
  Tensor dx = zeros(x.shape());
  const float* px = x.data<float>();
  const float* py = y.data<float>();
  const float* pg = g.data<float>();
  float* pd = dx.data<float>();
  for (std::int64_t i = 0; i < x.numel(); ++i) pd[i] = f(px[i], py[i], pg[i]);
  c.set_grad(0, std::move(dx));
}

constexpr double kTwoOverSqrtPi = 1.1283791670955126;  // 2 / sqrt(pi)
constexpr double kInvSqrt2Pi = 0.3989422804014327;     // 1 / sqrt(2 pi)

}  // namespace

void relu_backward(BackwardContext& c) {
  unary(c, [](float x, float, float g) { return x > 0 ? g : 0.0f; });
}

void leaky_relu_backward(BackwardContext& c) {
  const float alpha = c.node.attr_float("alpha", 0.01f);
  unary(c, [alpha](float x, float, float g) { return x >= 0 ? g : alpha * g; });
}

void clip_backward(BackwardContext& c) {
  // y = min(max(x, lo), hi). Bounds: attributes before opset 11, optional inputs 1 and 2 after.
  const Tensor& x = c.in(0);
  float lo = -std::numeric_limits<float>::infinity();
  float hi = std::numeric_limits<float>::infinity();
  if (c.opset < 11) {
    lo = c.node.attr_float("min", lo);
    hi = c.node.attr_float("max", hi);
  } else {
    if (c.has_input(1)) lo = c.in(1).to_f32().at(0);
    if (c.has_input(2)) hi = c.in(2).to_f32().at(0);
  }
  const Tensor& g = c.grad_out(0);
  Tensor dx = zeros(x.shape());
  const float* px = x.data<float>();
  const float* pg = g.data<float>();
  float* pd = dx.data<float>();
  double dlo = 0, dhi = 0;
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    if (lo > hi)
      dhi += pg[i];  // the output is hi everywhere
    else if (px[i] < lo)
      dlo += pg[i];
    else if (px[i] > hi)
      dhi += pg[i];
    else
      pd[i] = pg[i];
  }
  c.set_grad(0, std::move(dx));
  if (c.opset >= 11) {
    if (c.need(1)) c.set_grad(1, Tensor::from_vector<float>(c.in(1).shape(), {float(dlo)}));
    if (c.need(2)) c.set_grad(2, Tensor::from_vector<float>(c.in(2).shape(), {float(dhi)}));
  }
}

void sigmoid_backward(BackwardContext& c) {
  unary(c, [](float, float y, float g) { return g * y * (1.0f - y); });
}

void tanh_backward(BackwardContext& c) {
  unary(c, [](float, float y, float g) { return g * (1.0f - y * y); });
}

void hard_sigmoid_backward(BackwardContext& c) {
  const float alpha = c.node.attr_float("alpha", 0.2f);
  const float beta = c.node.attr_float("beta", 0.5f);
  unary(c, [=](float x, float, float g) {
    const float v = alpha * x + beta;
    return v > 0.0f && v < 1.0f ? g * alpha : 0.0f;
  });
}

void hard_swish_backward(BackwardContext& c) {
  // y = x * clamp(x/6 + 1/2, 0, 1).
  unary(c, [](float x, float, float g) {
    if (x < -3.0f) return 0.0f;
    if (x <= 3.0f) return g * (x / 3.0f + 0.5f);
    return g;
  });
}

void gelu_backward(BackwardContext& c) {
  const std::string approximate = c.node.attr_string("approximate", "none");
  if (approximate == "tanh") {
    const double k = std::sqrt(2.0 / 3.14159265358979);
    unary(c, [k](float xf, float, float g) {
      const double x = xf;
      const double t = std::tanh(k * (x + 0.044715 * x * x * x));
      const double d = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x);
      return static_cast<float>(g * d);
    });
  } else if (approximate == "none") {
    unary(c, [](float xf, float, float g) {
      const double x = xf;
      const double d =
          0.5 * (1 + std::erf(x / std::sqrt(2.0))) + x * kInvSqrt2Pi * std::exp(-0.5 * x * x);
      return static_cast<float>(g * d);
    });
  } else {
    c.fail("approximate='" + approximate + "' is not 'none' or 'tanh'");
  }
}

void erf_backward(BackwardContext& c) {
  unary(c, [](float x, float, float g) {
    return static_cast<float>(g * kTwoOverSqrtPi * std::exp(-double(x) * double(x)));
  });
}

void sqrt_backward(BackwardContext& c) {
  unary(c, [](float, float y, float g) { return g * 0.5f / y; });
}

void exp_backward(BackwardContext& c) {
  unary(c, [](float, float y, float g) { return g * y; });
}

void log_backward(BackwardContext& c) {
  unary(c, [](float x, float, float g) { return g / x; });
}

void neg_backward(BackwardContext& c) {
  unary(c, [](float, float, float g) { return -g; });
}

void abs_backward(BackwardContext& c) {
  unary(c, [](float x, float, float g) { return x > 0 ? g : (x < 0 ? -g : 0.0f); });
}

void reciprocal_backward(BackwardContext& c) {
  unary(c, [](float, float y, float g) { return -g * y * y; });
}

void zero_backward(BackwardContext& c) {
  unary(c, [](float, float, float) { return 0.0f; });
}

}  // namespace qs::autograd
