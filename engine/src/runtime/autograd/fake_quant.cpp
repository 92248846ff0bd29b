// Backward rule of FakeQuant (domain ai.quantscope): the straight-through estimator. The
// gradient passes unchanged where the input lies on the grid's range
// [(qmin - zero_point) * scale, (qmax - zero_point) * scale] and is zero where it was clamped.
// Attribute defaults are the kernel's (runtime/kernels/fake_quant.cpp).
#include "runtime/autograd/rules.h"

namespace qs::autograd {

void fake_quant_backward(BackwardContext& c) {
  if (!c.need(0)) return;
  const float scale = c.node.attr_float("scale", 0.0f);
  const std::int64_t zero_point = c.node.attr_int("zero_point", 0);
  const std::int64_t qmin = c.node.attr_int("qmin", -128);
  const std::int64_t qmax = c.node.attr_int("qmax", 127);
  const float lo = static_cast<float>(qmin - zero_point) * scale;
  const float hi = static_cast<float>(qmax - zero_point) * scale;
  const Tensor& x = c.in(0);
  const Tensor& g = c.grad_out(0);
  Tensor dx = zeros(x.shape());
  const float* px = x.data<float>();
  const float* pg = g.data<float>();
  float* pd = dx.data<float>();
  for (std::int64_t i = 0; i < x.numel(); ++i) pd[i] = px[i] >= lo && px[i] <= hi ? pg[i] : 0.0f;
  c.set_grad(0, std::move(dx));
}

}  // namespace qs::autograd
