// BatchNormalization: inference with running statistics, or (training_mode=1, opset 14+) with
// the batch's own statistics and updated running ones as extra outputs.
#include <cmath>

#include "runtime/kernel_util.h"
#include "runtime/kernels/kernels.h"

namespace qs::kernels {

namespace {

// Mean and population variance per channel over the batch and spatial dimensions.
void batch_statistics(const Tensor& x, std::vector<double>& mean, std::vector<double>& var) {
  const std::int64_t batch = x.dim(0), channels = x.dim(1);
  const std::int64_t inner = x.numel() / std::max<std::int64_t>(batch * channels, 1);
  const float* px = x.data<float>();
  mean.assign(channels, 0.0);
  var.assign(channels, 0.0);
  const double count = double(batch * inner);
  for (std::int64_t ch = 0; ch < channels; ++ch) {
    for (std::int64_t n = 0; n < batch; ++n)
      for (std::int64_t i = 0; i < inner; ++i) mean[ch] += px[(n * channels + ch) * inner + i];
    mean[ch] /= count;
    for (std::int64_t n = 0; n < batch; ++n)
      for (std::int64_t i = 0; i < inner; ++i) {
        const double d = px[(n * channels + ch) * inner + i] - mean[ch];
        var[ch] += d * d;
      }
    var[ch] /= count;
  }
}

}  // namespace

void batch_normalization(KernelContext& c) {
  const bool training = c.node.attr_int("training_mode", 0) != 0;
  if (c.node.attr_int("is_test", 1) == 0 && c.opset < 7) c.unsupported("is_test=0");
  for (int i = 0; i < 5; ++i) require_float(c, i);
  const Tensor& x = c.in(0);
  if (x.rank() < 2) c.fail("input must have rank >= 2, got " + shape_to_string(x.shape()));
  const std::int64_t channels = x.dim(1);
  for (int i = 1; i < 5; ++i)
    if (c.in(i).numel() != channels)
      c.fail("input '" + c.node.inputs[i] + "' has " + std::to_string(c.in(i).numel()) +
             " values for " + std::to_string(channels) + " channels");
  c.output(0, DType::f32, x.shape());
  const bool want_running = training && c.node.outputs.size() >= 3;
  if (want_running) {
    c.output(1, DType::f32, {channels});
    c.output(2, DType::f32, {channels});
  }
  if (c.shape_only) return;
  const float epsilon = c.node.attr_float("epsilon", 1e-5f);
  const float* scale = c.in(1).data<float>();
  const float* bias = c.in(2).data<float>();
  std::vector<double> mean(c.in(3).data<float>(), c.in(3).data<float>() + channels);
  std::vector<double> var(c.in(4).data<float>(), c.in(4).data<float>() + channels);
  if (training) {
    std::vector<double> batch_mean, batch_var;
    batch_statistics(x, batch_mean, batch_var);
    if (want_running) {
      const double momentum = c.node.attr_float("momentum", 0.9f);
      for (std::int64_t ch = 0; ch < channels; ++ch) {
        c.outputs[1].data<float>()[ch] =
            float(mean[ch] * momentum + batch_mean[ch] * (1 - momentum));
        c.outputs[2].data<float>()[ch] = float(var[ch] * momentum + batch_var[ch] * (1 - momentum));
      }
    }
    mean = batch_mean;
    var = batch_var;
  }
  const std::int64_t inner = x.numel() / std::max<std::int64_t>(x.dim(0) * channels, 1);
  const float* px = x.data<float>();
  float* po = c.outputs[0].data<float>();  // after every output() call: it may reallocate
  for (std::int64_t n = 0; n < x.dim(0); ++n) {
    for (std::int64_t ch = 0; ch < channels; ++ch) {
      const float a = scale[ch] / std::sqrt(float(var[ch]) + epsilon);
      const float b = bias[ch] - float(mean[ch]) * a;
      const std::int64_t base = (n * channels + ch) * inner;
      for (std::int64_t i = 0; i < inner; ++i) po[base + i] = px[base + i] * a + b;
    }
  }
}

}  // namespace qs::kernels
