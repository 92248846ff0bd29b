// FakeQuant (domain ai.quantscope): y = dequantize(quantize(x)) on one per-tensor grid.
// Its grid is quant_format.h's, and so is the arithmetic, the same the integer kernels'
// quantizing reorders do.
#include <cmath>

#include "quantscope/quant_format.h"
#include "runtime/kernel_util.h"
#include "runtime/kernels/kernels.h"

namespace qs::kernels {

void fake_quant(KernelContext& c) {
  const Tensor& x = c.in(0);
  require_float(c, 0);
  const quant::Grid g = quant::read_fake_quant(c.node);
  if (!(g.scale > 0.0f) || !std::isfinite(g.scale)) c.fail("scale must be positive and finite");
  if (g.qmin >= g.qmax || g.zero_point < g.qmin || g.zero_point > g.qmax)
    c.fail("zero point " + std::to_string(g.zero_point) + " outside qmin..qmax " +
           std::to_string(g.qmin) + ".." + std::to_string(g.qmax));
  Tensor& y = c.output(0, DType::f32, x.shape());
  if (c.shape_only) return;
  const float* in = x.data<float>();
  float* out = y.data<float>();
  for (std::int64_t i = 0; i < x.numel(); ++i) out[i] = quant::fake_quantize(in[i], g);
}

}  // namespace qs::kernels
