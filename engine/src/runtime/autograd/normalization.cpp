// Backward rules of Softmax, LogSoftmax, LayerNormalization, RMSNormalization, BatchNormalization
// (inference) and
// the linear reductions ReduceMean and ReduceSum (LayerNormalization's opset-13 decomposition).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "runtime/autograd/rules.h"
#include "runtime/kernel_util.h"

namespace qs::autograd {

namespace {

// [outer, len, inner] around the softmax axis: before opset 13 the axes from `axis` on are
// coerced into one (default axis 1), from 13 on only `axis` (default -1), as the kernel does.
struct SoftmaxLayout {
  std::int64_t outer = 1, len = 1, inner = 1;
};

SoftmaxLayout softmax_layout(const BackwardContext& c, const Tensor& x) {
  const kernels::KernelContext kc = c.kernel_context();
  const bool coerce = c.opset < 13;
  const int rank = x.rank();
  const int axis = kernels::normalize_axis(kc, c.node.attr_int("axis", coerce ? 1 : -1), rank);
  SoftmaxLayout l;
  for (int d = 0; d < rank; ++d) {
    if (d < axis)
      l.outer *= x.dim(d);
    else if (d == axis || coerce)
      l.len *= x.dim(d);
    else
      l.inner *= x.dim(d);
  }
  return l;
}

template <bool Log>
void softmax_backward_impl(BackwardContext& c) {
  if (!c.need(0)) return;
  const Tensor& y = c.out(0);
  const Tensor& g = c.grad_out(0);
  const SoftmaxLayout l = softmax_layout(c, y);
  Tensor dx = zeros(y.shape());
  const float* py = y.data<float>();
  const float* pg = g.data<float>();
  float* pd = dx.data<float>();
  for (std::int64_t o = 0; o < l.outer; ++o) {
    for (std::int64_t i = 0; i < l.inner; ++i) {
      const std::int64_t base = o * l.len * l.inner + i;
      double dot = 0;  // softmax: sum g*y; log-softmax: sum g
      for (std::int64_t k = 0; k < l.len; ++k) {
        const std::int64_t at = base + k * l.inner;
        dot += Log ? pg[at] : double(pg[at]) * py[at];
      }
      for (std::int64_t k = 0; k < l.len; ++k) {
        const std::int64_t at = base + k * l.inner;
        pd[at] = Log ? static_cast<float>(pg[at] - std::exp(double(py[at])) * dot)
                     : static_cast<float>(py[at] * (pg[at] - dot));
      }
    }
  }
  c.set_grad(0, std::move(dx));
}

// dx = dy broadcast back over the reduced axes, times `factor`: 1 for ReduceSum, 1/count for
// ReduceMean. The axes come from input 1 from `axes_input_opset` on, else from the attribute;
// with none, every axis is reduced unless noop_with_empty_axes is set (then y = x).
void reduce_backward(BackwardContext& c, bool mean, std::int64_t axes_input_opset) {
  if (!c.need(0)) return;
  const Tensor& x = c.in(0);
  const Tensor& g = c.grad_out(0);
  const kernels::KernelContext kc = c.kernel_context();
  std::vector<std::int64_t> axes;
  bool noop_with_empty_axes = false;
  if (c.opset >= axes_input_opset) {
    if (c.has_input(1)) axes = c.in(1).to_i64();
    noop_with_empty_axes = c.node.attr_int("noop_with_empty_axes", 0) != 0;
  } else {
    axes = c.node.attr_ints("axes");
  }
  if (axes.empty() && noop_with_empty_axes) {
    c.set_grad(0, g);
    return;
  }
  const int rank = x.rank();
  std::vector<bool> reduced(rank, axes.empty());
  for (std::int64_t a : axes)
    if (rank > 0) reduced[kernels::normalize_axis(kc, a, rank)] = true;
  Shape kept = x.shape();
  for (int d = 0; d < rank; ++d)
    if (reduced[d]) kept[d] = 1;
  if (shape_numel(kept) != g.numel()) c.fail("output gradient has the wrong size");
  const std::vector<std::int64_t> map = kernels::broadcast_index_map(kept, x.shape());
  const std::int64_t count = g.numel() == 0 ? 0 : x.numel() / g.numel();
  const float factor = mean && count > 0 ? 1.0f / static_cast<float>(count) : 1.0f;
  Tensor dx = zeros(x.shape());
  const float* pg = g.data<float>();
  float* pd = dx.data<float>();
  for (std::int64_t k = 0; k < x.numel(); ++k) pd[k] = pg[map[k]] * factor;
  c.set_grad(0, std::move(dx));
}

}  // namespace

void softmax_backward(BackwardContext& c) {
  softmax_backward_impl<false>(c);
}

void log_softmax_backward(BackwardContext& c) {
  softmax_backward_impl<true>(c);
}

void reduce_mean_backward(BackwardContext& c) {
  reduce_backward(c, true, 18);
}

void reduce_sum_backward(BackwardContext& c) {
  reduce_backward(c, false, 13);
}

void layer_normalization_backward(BackwardContext& c) {
  if (c.has_grad_out(1) || c.has_grad_out(2)) c.unsupported("the Mean and InvStdDev outputs");
  const Tensor& x = c.in(0);
  const Tensor& scale = c.in(1);
  const Tensor& g = c.grad_out(0);
  const kernels::KernelContext kc = c.kernel_context();
  const int rank = x.rank();
  const int axis = kernels::normalize_axis(kc, c.node.attr_int("axis", -1), rank);
  const Shape norm_shape(x.shape().begin() + axis, x.shape().end());
  const float epsilon = c.node.attr_float("epsilon", 1e-5f);
  const std::int64_t len = shape_numel(norm_shape);
  const std::int64_t outer = len == 0 ? 0 : x.numel() / len;
  const std::vector<std::int64_t> scale_map =
      kernels::broadcast_index_map(scale.shape(), norm_shape);
  std::vector<std::int64_t> bias_map;
  if (c.need(2)) bias_map = kernels::broadcast_index_map(c.in(2).shape(), norm_shape);
  const float* px = x.data<float>();
  const float* ps = scale.data<float>();
  const float* pg = g.data<float>();
  Tensor dx = c.need(0) ? zeros(x.shape()) : Tensor();
  std::vector<double> dscale(c.need(1) ? scale.numel() : 0, 0.0);
  std::vector<double> dbias(c.need(2) ? c.in(2).numel() : 0, 0.0);
  std::vector<double> xhat(static_cast<std::size_t>(len)), gs(static_cast<std::size_t>(len));
  for (std::int64_t o = 0; o < outer; ++o) {
    const float* row = px + o * len;
    const float* grow = pg + o * len;
    // Statistics as the kernel computes them (double, population variance).
    double mean = 0;
    for (std::int64_t k = 0; k < len; ++k) mean += row[k];
    mean /= static_cast<double>(len);
    double var = 0;
    for (std::int64_t k = 0; k < len; ++k) var += (row[k] - mean) * (row[k] - mean);
    var /= static_cast<double>(len);
    const double inv_std = 1.0 / std::sqrt(var + epsilon);
    double sum_gs = 0, sum_gs_xhat = 0;
    for (std::int64_t k = 0; k < len; ++k) {
      xhat[k] = (row[k] - mean) * inv_std;
      gs[k] = double(grow[k]) * ps[scale_map[k]];
      sum_gs += gs[k];
      sum_gs_xhat += gs[k] * xhat[k];
      if (c.need(1)) dscale[scale_map[k]] += grow[k] * xhat[k];
      if (c.need(2)) dbias[bias_map[k]] += grow[k];
    }
    if (c.need(0)) {
      float* drow = dx.data<float>() + o * len;
      const double n = static_cast<double>(len);
      for (std::int64_t k = 0; k < len; ++k)
        drow[k] = static_cast<float>(inv_std * (gs[k] - sum_gs / n - xhat[k] * sum_gs_xhat / n));
    }
  }
  auto to_tensor = [](const std::vector<double>& v, const Shape& shape) {
    std::vector<float> f(v.begin(), v.end());
    return Tensor::from_vector<float>(shape, f);
  };
  if (c.need(0)) c.set_grad(0, std::move(dx));
  if (c.need(1)) c.set_grad(1, to_tensor(dscale, scale.shape()));
  if (c.need(2)) c.set_grad(2, to_tensor(dbias, c.in(2).shape()));
}

// y = x r s with r = (mean(x^2) + eps)^-1/2 over each row:
// dx_j = r g_j s_j - x_j r^3 / n * sum_k g_k s_k x_k, dscale_k = sum over rows of g_k x_k r.
void rms_normalization_backward(BackwardContext& c) {
  const Tensor& x = c.in(0);
  const Tensor& scale = c.in(1);
  const Tensor& g = c.grad_out(0);
  const kernels::KernelContext kc = c.kernel_context();
  const int axis = kernels::normalize_axis(kc, c.node.attr_int("axis", -1), x.rank());
  const Shape norm_shape(x.shape().begin() + axis, x.shape().end());
  const double epsilon = c.node.attr_float("epsilon", 1e-5f);
  const std::int64_t len = shape_numel(norm_shape);
  const std::int64_t outer = len == 0 ? 0 : x.numel() / len;
  const std::vector<std::int64_t> scale_map =
      kernels::broadcast_index_map(scale.shape(), norm_shape);
  const float* px = x.data<float>();
  const float* ps = scale.data<float>();
  const float* pg = g.data<float>();
  Tensor dx = c.need(0) ? zeros(x.shape()) : Tensor();
  std::vector<double> dscale(c.need(1) ? scale.numel() : 0, 0.0);
  const double n = static_cast<double>(len);
  for (std::int64_t o = 0; o < outer; ++o) {
    const float* row = px + o * len;
    const float* grow = pg + o * len;
    double squares = 0;
    for (std::int64_t k = 0; k < len; ++k) squares += double(row[k]) * row[k];
    const double r = 1.0 / std::sqrt(squares / n + epsilon);
    double dot = 0;  // sum_k g_k s_k x_k
    for (std::int64_t k = 0; k < len; ++k) {
      dot += double(grow[k]) * ps[scale_map[k]] * row[k];
      if (c.need(1)) dscale[scale_map[k]] += double(grow[k]) * row[k] * r;
    }
    if (c.need(0)) {
      float* drow = dx.data<float>() + o * len;
      for (std::int64_t k = 0; k < len; ++k)
        drow[k] = static_cast<float>(r * grow[k] * ps[scale_map[k]] - row[k] * r * r * r / n * dot);
    }
  }
  if (c.need(0)) c.set_grad(0, std::move(dx));
  if (c.need(1)) {
    std::vector<float> f(dscale.begin(), dscale.end());
    c.set_grad(1, Tensor::from_vector<float>(scale.shape(), f));
  }
}

void batch_normalization_backward(BackwardContext& c) {
  // Inference form: y = (x - mean) / sqrt(var + eps) * scale + bias, per channel (axis 1).
  if (c.node.attr_int("training_mode", 0) != 0) c.unsupported("training mode");
  const Tensor& x = c.in(0);
  const Tensor& g = c.grad_out(0);
  const std::int64_t batch = x.dim(0), channels = x.dim(1);
  const std::int64_t inner = x.numel() / std::max<std::int64_t>(batch * channels, 1);
  const float epsilon = c.node.attr_float("epsilon", 1e-5f);
  const float* px = x.data<float>();
  const float* pg = g.data<float>();
  const float* scale = c.in(1).data<float>();
  const float* mean = c.in(3).data<float>();
  const float* var = c.in(4).data<float>();
  Tensor dx = c.need(0) ? zeros(x.shape()) : Tensor();
  std::vector<float> dscale(channels), dbias(channels), dmean(channels), dvar(channels);
  for (std::int64_t ch = 0; ch < channels; ++ch) {
    const float stdev = std::sqrt(var[ch] + epsilon);
    const float a = scale[ch] / stdev;
    double sum_g = 0, sum_g_centered = 0;
    for (std::int64_t n = 0; n < batch; ++n) {
      const std::int64_t base = (n * channels + ch) * inner;
      for (std::int64_t i = 0; i < inner; ++i) {
        sum_g += pg[base + i];
        sum_g_centered += double(pg[base + i]) * (px[base + i] - mean[ch]);
        if (c.need(0)) dx.data<float>()[base + i] = pg[base + i] * a;
      }
    }
    dscale[ch] = static_cast<float>(sum_g_centered / stdev);
    dbias[ch] = static_cast<float>(sum_g);
    dmean[ch] = static_cast<float>(-a * sum_g);
    dvar[ch] =
        static_cast<float>(-0.5 * sum_g_centered * scale[ch] / (double(stdev) * stdev * stdev));
  }
  if (c.need(0)) c.set_grad(0, std::move(dx));
  const std::vector<float>* grads[] = {&dscale, &dbias, &dmean, &dvar};
  for (int i = 1; i < 5; ++i)
    if (c.need(i)) c.set_grad(i, Tensor::from_vector<float>(c.in(i).shape(), *grads[i - 1]));
}

}  // namespace qs::autograd
