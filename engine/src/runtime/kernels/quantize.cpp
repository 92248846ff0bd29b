// Reference kernels for QuantizeLinear and DequantizeLinear: per-tensor, per-axis (opset 13+)
// and blocked (opset 21) scales and zero points.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "runtime/kernel_util.h"
#include "runtime/kernels/kernels.h"

namespace qs::kernels {

namespace {

// How the scale (and zero point) tensor maps onto the elements of x. x is viewed as
// [outer, dim, inner] around `axis`; element (o, a, i) uses parameter
//   per-tensor: 0;  per-axis: a;  blocked: (o, a / block, i) in [outer, ceil(dim/block), inner].
struct QuantParams {
  std::int64_t outer = 1, dim = 1, inner = 1;
  std::int64_t block = 0;  // 0 unless blocked
  bool per_tensor = true;

  std::int64_t param_index(std::int64_t flat) const {
    if (per_tensor) return 0;
    const std::int64_t i = flat % inner;
    const std::int64_t a = (flat / inner) % dim;
    if (block == 0) return a;
    const std::int64_t o = flat / (inner * dim);
    const std::int64_t blocks = (dim + block - 1) / block;
    return (o * blocks + a / block) * inner + i;
  }
};

// Validates the scale (input 1) and optional zero point (input 2) against x (input 0).
QuantParams quant_params(const KernelContext& c) {
  const Tensor& x = c.in(0);
  const Tensor& scale = c.in(1);
  require_float(c, 1);
  QuantParams q;
  const std::int64_t block = c.opset >= 21 ? c.node.attr_int("block_size", 0) : 0;
  if (block < 0) c.fail("block_size must not be negative");
  const bool scalar_like = scale.rank() == 0 || (scale.rank() == 1 && scale.numel() == 1);
  if (block == 0 && scalar_like) {
    q.per_tensor = true;
  } else {
    if (x.rank() == 0) c.fail("a scalar input needs a scalar scale");
    const int axis = normalize_axis(c, c.node.attr_int("axis", 1), x.rank());
    q.per_tensor = false;
    q.dim = x.dim(axis);
    for (int d = 0; d < axis; ++d) q.outer *= x.dim(d);
    for (int d = axis + 1; d < x.rank(); ++d) q.inner *= x.dim(d);
    if (block == 0) {
      if (scale.rank() != 1 || scale.dim(0) != q.dim)
        c.fail("per-axis scale of shape " + shape_to_string(scale.shape()) +
               " does not match dimension " + std::to_string(q.dim) + " of axis " +
               std::to_string(axis));
    } else {
      q.block = block;
      Shape expected = x.shape();
      expected[axis] = (q.dim + block - 1) / block;
      if (scale.shape() != expected)
        c.fail("blocked scale of shape " + shape_to_string(scale.shape()) + " should be " +
               shape_to_string(expected) + " for block_size " + std::to_string(block));
    }
  }
  if (c.has(2) && c.in(2).shape() != scale.shape() && !(q.per_tensor && c.in(2).numel() == 1))
    c.fail("zero point shape " + shape_to_string(c.in(2).shape()) +
           " differs from the scale shape " + shape_to_string(scale.shape()));
  return q;
}

template <typename Q>
void quantize_to(const std::vector<float>& x, const float* scale,
                 const std::vector<std::int64_t>& zp, const QuantParams& q, Q* y) {
  const double lo = std::numeric_limits<Q>::min(), hi = std::numeric_limits<Q>::max();
  for (std::size_t k = 0; k < x.size(); ++k) {
    const std::int64_t p = q.param_index(static_cast<std::int64_t>(k));
    // Divide in float like the reference, round half to even, then saturate.
    const float scaled = x[k] / scale[p];
    double v = std::nearbyint(static_cast<double>(scaled)) + static_cast<double>(zp[p]);
    if (std::isnan(v)) v = static_cast<double>(zp[p]);
    y[k] = static_cast<Q>(std::clamp(v, lo, hi));
  }
}

}  // namespace

void quantize_linear(KernelContext& c) {
  const Tensor& x = c.in(0);
  if (x.dtype() != DType::f32 && x.dtype() != DType::i32)
    c.unsupported("QuantizeLinear of dtype " + dtype_name(x.dtype()));
  const QuantParams q = quant_params(c);
  // The output type is the zero point's; without one, output_dtype (opset 21) or uint8.
  DType out = DType::u8;
  if (c.has(2)) {
    out = c.in(2).dtype();
  } else if (c.opset >= 21 && c.node.attr_int("output_dtype", 0) != 0) {
    const int t = static_cast<int>(c.node.attr_int("output_dtype", 0));
    try {
      out = dtype_from_onnx(t);
    } catch (const Unsupported&) {
      c.unsupported("output_dtype " + onnx_type_name(t));
    }
  }
  if (out != DType::u8 && out != DType::i8) c.unsupported("quantizing to " + dtype_name(out));
  Tensor& y = c.output(0, out, x.shape());
  if (c.shape_only) return;

  const std::vector<float> xv = x.to_f32();
  const float* scale = c.in(1).data<float>();
  std::vector<std::int64_t> zp = c.has(2) ? c.in(2).to_i64() : std::vector<std::int64_t>{};
  if (zp.empty()) zp.assign(std::max<std::int64_t>(c.in(1).numel(), 1), 0);
  if (out == DType::u8)
    quantize_to(xv, scale, zp, q, y.data<std::uint8_t>());
  else
    quantize_to(xv, scale, zp, q, y.data<std::int8_t>());
}

void dequantize_linear(KernelContext& c) {
  const Tensor& x = c.in(0);
  if (x.dtype() != DType::u8 && x.dtype() != DType::i8 && x.dtype() != DType::i32)
    c.unsupported("DequantizeLinear of dtype " + dtype_name(x.dtype()));
  const QuantParams q = quant_params(c);
  if (c.has(2) && c.in(2).dtype() != x.dtype())
    c.fail("zero point dtype " + dtype_name(c.in(2).dtype()) + " differs from the input's " +
           dtype_name(x.dtype()));
  Tensor& y = c.output(0, DType::f32, x.shape());
  if (c.shape_only) return;

  const std::vector<std::int64_t> xv = x.to_i64();
  const float* scale = c.in(1).data<float>();
  std::vector<std::int64_t> zp = c.has(2) ? c.in(2).to_i64() : std::vector<std::int64_t>{};
  if (x.dtype() == DType::i32)
    for (std::int64_t z : zp)
      if (z != 0) c.fail("an int32 input requires a zero point of 0");
  if (zp.empty()) zp.assign(std::max<std::int64_t>(c.in(1).numel(), 1), 0);
  float* yd = y.data<float>();
  for (std::size_t k = 0; k < xv.size(); ++k) {
    const std::int64_t p = q.param_index(static_cast<std::int64_t>(k));
    yd[k] = static_cast<float>(xv[k] - zp[p]) * scale[p];
  }
}

}  // namespace qs::kernels
