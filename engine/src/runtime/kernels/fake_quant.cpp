// FakeQuant (domain ai.quantscope): y = dequantize(quantize(x)) on one per-tensor grid.
// Attributes: scale (float > 0), zero_point, qmin, qmax (ints). The arithmetic is quant/grid.h's,
// the same the integer kernels' quantizing reorders do.
#include <cmath>

#include "quant/grid.h"
#include "runtime/kernel_util.h"
#include "runtime/kernels/kernels.h"

namespace qs::kernels {

void fake_quant(KernelContext& c) {
  const Tensor& x = c.in(0);
  require_float(c, 0);
  quant::Grid g;
  g.scale = c.node.attr_float("scale", 0.0f);
  g.zero_point = static_cast<std::int32_t>(c.node.attr_int("zero_point", 0));
  g.qmin = static_cast<std::int32_t>(c.node.attr_int("qmin", -128));
  g.qmax = static_cast<std::int32_t>(c.node.attr_int("qmax", 127));
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
