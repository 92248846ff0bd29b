// Backward rule of FakeQuant (domain ai.quantscope): the straight-through estimator. The
// gradient passes unchanged where the input lies on the grid's range
// [(qmin - zero_point) * scale, (qmax - zero_point) * scale] and is zero where it was clamped.
#include "quantscope/quant_format.h"
#include "runtime/autograd/rules.h"

namespace qs::autograd {

void fake_quant_backward(BackwardContext& c) {
  if (!c.need(0)) return;
  const quant::Grid grid = quant::read_fake_quant(c.node);
  const float lo = quant::dequantize(grid.qmin, grid);
  const float hi = quant::dequantize(grid.qmax, grid);
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
