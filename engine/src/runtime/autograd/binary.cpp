// Backward rules of the broadcasting elementwise ops: Add, Sub, Mul, Div, Pow, Where, PRelu.
// Each operand's gradient is formed over the output's shape and then summed over the axes along
// which the operand was broadcast.
#include <cmath>
#include <vector>

#include "runtime/autograd/rules.h"
#include "runtime/kernel_util.h"

namespace qs::autograd {

namespace {

// For operands a and b of a binary op with output y and output gradient g: the gradient of
// input `which` is f(a[ia[k]], b[ib[k]], y[k], g[k]) over the output's elements k, summed over
// the axes along which that input was broadcast.
template <typename F>
Tensor operand_grad(const BackwardContext& c, int which, const Tensor& a, const Tensor& b, F f) {
  const Tensor& g = c.grad_out(0);
  const Tensor& y = c.out(0);
  const Shape& shape = g.shape();
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  const float* py = y.data<float>();
  const float* pg = g.data<float>();
  Tensor full = zeros(shape);
  float* pf = full.data<float>();
  const std::int64_t n = g.numel();
  if (a.shape() == shape && b.shape() == shape) {
    for (std::int64_t k = 0; k < n; ++k) pf[k] = f(pa[k], pb[k], py[k], pg[k]);
  } else if (a.shape() == shape && b.numel() == 1) {
    for (std::int64_t k = 0; k < n; ++k) pf[k] = f(pa[k], pb[0], py[k], pg[k]);
  } else {
    const std::vector<std::int64_t> ia = kernels::broadcast_index_map(a.shape(), shape);
    const std::vector<std::int64_t> ib = kernels::broadcast_index_map(b.shape(), shape);
    for (std::int64_t k = 0; k < n; ++k) pf[k] = f(pa[ia[k]], pb[ib[k]], py[k], pg[k]);
  }
  return reduce_to_shape(full, c.in(which).shape());
}

Tensor negated(const Tensor& t) {
  Tensor out = zeros(t.shape());
  const float* p = t.data<float>();
  float* q = out.data<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) q[i] = -p[i];
  return out;
}

}  // namespace

void add_backward(BackwardContext& c) {
  for (int i : {0, 1})
    if (c.need(i)) c.set_grad(i, reduce_to_shape(c.grad_out(0), c.in(i).shape()));
}

void sub_backward(BackwardContext& c) {
  if (c.need(0)) c.set_grad(0, reduce_to_shape(c.grad_out(0), c.in(0).shape()));
  if (c.need(1)) c.set_grad(1, negated(reduce_to_shape(c.grad_out(0), c.in(1).shape())));
}

void mul_backward(BackwardContext& c) {
  if (c.need(0))
    c.set_grad(0, operand_grad(c, 0, c.in(0), c.in(1),
                               [](float, float b, float, float g) { return g * b; }));
  if (c.need(1))
    c.set_grad(1, operand_grad(c, 1, c.in(0), c.in(1),
                               [](float a, float, float, float g) { return g * a; }));
}

void div_backward(BackwardContext& c) {
  // y = a / b: dy/da = 1 / b, dy/db = -a / b^2 = -y / b.
  if (c.need(0))
    c.set_grad(0, operand_grad(c, 0, c.in(0), c.in(1),
                               [](float, float b, float, float g) { return g / b; }));
  if (c.need(1))
    c.set_grad(1, operand_grad(c, 1, c.in(0), c.in(1),
                               [](float, float b, float y, float g) { return -g * y / b; }));
}

void pow_backward(BackwardContext& c) {
  // y = a^e: dy/da = e * a^(e-1), dy/de = y * ln(a) (0 where a == 0 and e >= 0, as PyTorch).
  // The exponent may be an integer tensor (opset 12+); it is then a constant.
  const Tensor& base = c.in(0);
  Tensor expo = c.in(1);
  if (expo.dtype() != DType::f32) expo = Tensor::from_vector<float>(expo.shape(), expo.to_f32());
  if (c.need(0))
    c.set_grad(0, operand_grad(c, 0, base, expo, [](float a, float e, float, float g) {
                 if (e == 0.0f) return 0.0f;
                 return static_cast<float>(g * e * std::pow(double(a), double(e) - 1.0));
               }));
  if (c.need(1))
    c.set_grad(1, operand_grad(c, 1, base, expo, [](float a, float e, float y, float g) {
                 if (a == 0.0f && e >= 0.0f) return 0.0f;
                 return static_cast<float>(g * y * std::log(double(a)));
               }));
}

void where_backward(BackwardContext& c) {
  // out = cond ? x : y; inputs 1 and 2 get the gradient where they were chosen.
  const Tensor& cond = c.in(0);
  const Tensor& g = c.grad_out(0);
  const std::vector<std::int64_t> ic = kernels::broadcast_index_map(cond.shape(), g.shape());
  const bool* pc = cond.data<bool>();
  const float* pg = g.data<float>();
  for (int i : {1, 2}) {
    if (!c.need(i)) continue;
    Tensor full = zeros(g.shape());
    float* pf = full.data<float>();
    for (std::int64_t k = 0; k < g.numel(); ++k) pf[k] = (pc[ic[k]] == (i == 1)) ? pg[k] : 0.0f;
    c.set_grad(i, reduce_to_shape(full, c.in(i).shape()));
  }
}

void prelu_backward(BackwardContext& c) {
  // y = x < 0 ? x * slope : x.
  if (c.need(0))
    c.set_grad(0, operand_grad(c, 0, c.in(0), c.in(1),
                               [](float x, float s, float, float g) { return x < 0 ? g * s : g; }));
  if (c.need(1))
    c.set_grad(1, operand_grad(c, 1, c.in(0), c.in(1), [](float x, float, float, float g) {
                 return x < 0 ? g * x : 0.0f;
               }));
}

}  // namespace qs::autograd
