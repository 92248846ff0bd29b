// Normalizations over groups of channels: InstanceNormalization (one channel a group),
// GroupNormalization, MeanVarianceNormalization, LpNormalization and LRN.
#include <cmath>
#include <cstdint>
#include <vector>

#include "runtime/kernel_util.h"
#include "runtime/kernels/kernels.h"

namespace qs::kernels {

namespace {

// x [N, C, ...] normalized over each of `groups` groups of C / groups channels and the spatial
// dimensions; then y = x_hat * scale + bias, with scale and bias per channel (or per group,
// `per_group`).
void normalize_groups(KernelContext& c, std::int64_t groups, bool per_group) {
  require_float(c, 0);
  require_float(c, 1);
  require_float(c, 2);
  const Tensor& x = c.in(0);
  if (x.rank() < 2) c.fail("input must be [N, C, ...]");
  const std::int64_t n = x.dim(0), channels = x.dim(1);
  if (groups < 1 || channels % groups != 0)
    c.fail("num_groups " + std::to_string(groups) + " does not divide " + std::to_string(channels) +
           " channels");
  const std::int64_t params = per_group ? groups : channels;
  for (int i : {1, 2})
    if (c.in(i).numel() != params)
      c.fail("input '" + c.node.inputs[i] + "' must have " + std::to_string(params) + " values");
  Tensor& y = c.output(0, DType::f32, x.shape());
  if (c.shape_only) return;
  const float epsilon = c.node.attr_float("epsilon", 1e-5f);
  const std::int64_t spatial = channels == 0 || n == 0 ? 0 : x.numel() / (n * channels);
  const std::int64_t per = channels / groups * spatial;
  const float* px = x.data<float>();
  const float* scale = c.in(1).data<float>();
  const float* bias = c.in(2).data<float>();
  float* py = y.data<float>();
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t g = 0; g < groups; ++g) {
      const std::int64_t first = (b * groups + g) * per;
      double mean = 0, var = 0;
      for (std::int64_t k = 0; k < per; ++k) mean += px[first + k];
      mean /= double(per);
      for (std::int64_t k = 0; k < per; ++k) var += (px[first + k] - mean) * (px[first + k] - mean);
      var /= double(per);
      const double inv_std = 1.0 / std::sqrt(var + epsilon);
      for (std::int64_t k = 0; k < per; ++k) {
        const std::int64_t ch = g * (channels / groups) + k / spatial;
        const std::int64_t p = per_group ? g : ch;
        py[first + k] = static_cast<float>((px[first + k] - mean) * inv_std) * scale[p] + bias[p];
      }
    }
}

}  // namespace

void instance_normalization(KernelContext& c) {
  const std::int64_t channels = c.in(0).rank() >= 2 ? c.in(0).dim(1) : 0;
  normalize_groups(c, channels, false);
}

void group_normalization(KernelContext& c) {
  if (!c.node.has_attr("num_groups")) c.fail("attribute 'num_groups' is required");
  // Opset 18 gave scale and bias per group; opset 21 per channel.
  normalize_groups(c, c.node.attr_int("num_groups", 1), c.opset < 21);
}

void mean_variance_normalization(KernelContext& c) {
  require_float(c, 0);
  const Tensor& x = c.in(0);
  const std::vector<std::int64_t> axes = c.node.attr_ints("axes", {0, 2, 3});
  std::vector<bool> reduced(static_cast<std::size_t>(x.rank()), false);
  for (std::int64_t a : axes) reduced[normalize_axis(c, a, x.rank())] = true;
  Tensor& y = c.output(0, DType::f32, x.shape());
  if (c.shape_only) return;
  Shape kept = x.shape();
  for (int d = 0; d < x.rank(); ++d)
    if (reduced[d]) kept[d] = 1;
  std::vector<std::int64_t> strides = strides_of(kept);
  for (int d = 0; d < x.rank(); ++d)
    if (reduced[d]) strides[d] = 0;
  const std::vector<std::int64_t> group = strided_offsets(x.shape(), strides);
  const std::int64_t groups = shape_numel(kept);
  std::vector<double> sum(groups, 0.0), squares(groups, 0.0);
  const float* px = x.data<float>();
  for (std::int64_t k = 0; k < x.numel(); ++k) {
    sum[group[k]] += px[k];
    squares[group[k]] += double(px[k]) * px[k];
  }
  const double count = groups == 0 ? 1 : double(x.numel()) / double(groups);
  float* py = y.data<float>();
  for (std::int64_t k = 0; k < x.numel(); ++k) {
    const double mean = sum[group[k]] / count;
    const double var = squares[group[k]] / count - mean * mean;
    py[k] = static_cast<float>((px[k] - mean) / (std::sqrt(std::max(var, 0.0)) + 1e-9));
  }
}

void lp_normalization(KernelContext& c) {
  require_float(c, 0);
  const Tensor& x = c.in(0);
  const int axis = normalize_axis(c, c.node.attr_int("axis", -1), x.rank());
  const std::int64_t p = c.node.attr_int("p", 2);
  if (p != 1 && p != 2) c.fail("p must be 1 or 2");
  Tensor& y = c.output(0, DType::f32, x.shape());
  if (c.shape_only) return;
  std::int64_t outer = 1, dim = x.dim(axis), inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  const float* px = x.data<float>();
  float* py = y.data<float>();
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::int64_t i = 0; i < inner; ++i) {
      double norm = 0;
      for (std::int64_t k = 0; k < dim; ++k) {
        const double v = px[(o * dim + k) * inner + i];
        norm += p == 1 ? std::fabs(v) : v * v;
      }
      if (p == 2) norm = std::sqrt(norm);
      for (std::int64_t k = 0; k < dim; ++k) {
        const std::int64_t at = (o * dim + k) * inner + i;
        py[at] = norm == 0 ? 0.0f : static_cast<float>(px[at] / norm);
      }
    }
}

void lrn(KernelContext& c) {
  require_float(c, 0);
  const Tensor& x = c.in(0);
  if (x.rank() < 3) c.fail("input must be [N, C, ...]");
  const std::int64_t size = c.node.attr_int("size", 0);
  if (size < 1) c.fail("attribute 'size' must be positive");
  const float alpha = c.node.attr_float("alpha", 1e-4f), beta = c.node.attr_float("beta", 0.75f);
  const float bias = c.node.attr_float("bias", 1.0f);
  Tensor& y = c.output(0, DType::f32, x.shape());
  if (c.shape_only) return;
  const std::int64_t n = x.dim(0), channels = x.dim(1);
  const std::int64_t spatial = n * channels == 0 ? 0 : x.numel() / (n * channels);
  const std::int64_t before = (size - 1) / 2, after = size - 1 - before;
  const float* px = x.data<float>();
  float* py = y.data<float>();
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t ch = 0; ch < channels; ++ch)
      for (std::int64_t s = 0; s < spatial; ++s) {
        double square_sum = 0;
        for (std::int64_t k = std::max<std::int64_t>(0, ch - before);
             k <= std::min(channels - 1, ch + after); ++k) {
          const double v = px[(b * channels + k) * spatial + s];
          square_sum += v * v;
        }
        const std::int64_t at = (b * channels + ch) * spatial + s;
        py[at] = static_cast<float>(px[at] / std::pow(bias + alpha / size * square_sum, beta));
      }
}

}  // namespace qs::kernels
