// LayerNormalization and RMSNormalization: normalize over the axes from `axis` on, then scale
// (and shift).
#include <cmath>

#include "runtime/kernel_util.h"
#include "runtime/kernels/kernels.h"

namespace qs::kernels {

void layer_normalization(KernelContext& c) {
  require_float(c, 0);
  require_float(c, 1);
  const Tensor& x = c.in(0);
  const int rank = x.rank();
  const int axis = normalize_axis(c, c.node.attr_int("axis", -1), rank);
  Shape norm_shape(x.shape().begin() + axis, x.shape().end());
  Shape stat_shape = x.shape();
  for (int d = axis; d < rank; ++d) stat_shape[d] = 1;
  // Scale and B broadcast to the normalized dimensions.
  auto check_broadcast = [&](int i) {
    if (c.has(i) && broadcast_shapes(c, c.in(i).shape(), norm_shape) != norm_shape)
      c.fail("input '" + c.node.inputs[i] + "' does not broadcast to " +
             shape_to_string(norm_shape));
  };
  check_broadcast(1);
  check_broadcast(2);
  c.output(0, DType::f32, x.shape());
  const bool want_mean = c.node.outputs.size() > 1 && !c.node.outputs[1].empty();
  const bool want_inv = c.node.outputs.size() > 2 && !c.node.outputs[2].empty();
  if (want_mean) c.output(1, DType::f32, stat_shape);
  if (want_inv) c.output(2, DType::f32, stat_shape);
  if (c.shape_only) return;
  const float epsilon = c.node.attr_float("epsilon", 1e-5f);
  const std::int64_t len = shape_numel(norm_shape);
  const std::int64_t outer = len == 0 ? 0 : x.numel() / len;
  auto scale_map = broadcast_index_map(c.in(1).shape(), norm_shape);
  std::vector<std::int64_t> bias_map;
  if (c.has(2)) {
    require_float(c, 2);
    bias_map = broadcast_index_map(c.in(2).shape(), norm_shape);
  }
  const float* px = x.data<float>();
  const float* scale = c.in(1).data<float>();
  const float* bias = c.has(2) ? c.in(2).data<float>() : nullptr;
  float* po = c.outputs[0].data<float>();
  for (std::int64_t o = 0; o < outer; ++o) {
    const float* row = px + o * len;
    double mean = 0;
    for (std::int64_t k = 0; k < len; ++k) mean += row[k];
    mean /= static_cast<double>(len);
    double var = 0;
    for (std::int64_t k = 0; k < len; ++k) var += (row[k] - mean) * (row[k] - mean);
    var /= static_cast<double>(len);
    const double inv_std = 1.0 / std::sqrt(var + epsilon);
    for (std::int64_t k = 0; k < len; ++k) {
      float v = static_cast<float>((row[k] - mean) * inv_std) * scale[scale_map[k]];
      po[o * len + k] = bias ? v + bias[bias_map[k]] : v;
    }
    if (want_mean) c.outputs[1].data<float>()[o] = static_cast<float>(mean);
    if (want_inv) c.outputs[2].data<float>()[o] = static_cast<float>(inv_std);
  }
}

// y = x / sqrt(mean(x^2) + epsilon) * scale over the axes from `axis` on (ONNX opset 23;
// also what fuse_rms_norm makes of the decomposed form). Statistics in double, as above.
void rms_normalization(KernelContext& c) {
  require_float(c, 0);
  require_float(c, 1);
  const Tensor& x = c.in(0);
  const int axis = normalize_axis(c, c.node.attr_int("axis", -1), x.rank());
  const Shape norm_shape(x.shape().begin() + axis, x.shape().end());
  if (broadcast_shapes(c, c.in(1).shape(), norm_shape) != norm_shape)
    c.fail("input '" + c.node.inputs[1] + "' does not broadcast to " + shape_to_string(norm_shape));
  c.output(0, DType::f32, x.shape());
  if (c.shape_only) return;
  const double epsilon = c.node.attr_float("epsilon", 1e-5f);
  const std::int64_t len = shape_numel(norm_shape);
  const std::int64_t outer = len == 0 ? 0 : x.numel() / len;
  const auto scale_map = broadcast_index_map(c.in(1).shape(), norm_shape);
  const float* px = x.data<float>();
  const float* scale = c.in(1).data<float>();
  float* po = c.outputs[0].data<float>();
  for (std::int64_t o = 0; o < outer; ++o) {
    const float* row = px + o * len;
    double squares = 0;
    for (std::int64_t k = 0; k < len; ++k) squares += double(row[k]) * row[k];
    const double inv_rms = 1.0 / std::sqrt(squares / static_cast<double>(len) + epsilon);
    for (std::int64_t k = 0; k < len; ++k)
      po[o * len + k] = static_cast<float>(row[k] * inv_rms) * scale[scale_map[k]];
  }
}

}  // namespace qs::kernels
