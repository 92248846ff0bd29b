// Reference loss kernels: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (ONNX's
// training losses, also found in exported evaluation graphs).
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "runtime/kernel_util.h"
#include "runtime/kernels/kernels.h"

namespace qs::kernels {

namespace {

// NLL over log-probabilities [N, C, d...] and targets [N, d...]; writes output 0.
void nll(KernelContext& c, const float* log_prob, const Shape& shape, const Tensor& target,
         const Tensor* weight) {
  const std::string reduction = c.node.attr_string("reduction", "mean");
  if (reduction != "none" && reduction != "sum" && reduction != "mean")
    c.fail("reduction '" + reduction + "' is not none, sum or mean");
  if (shape.size() < 2) c.fail("input must be [N, C, ...]");
  Shape target_shape = shape;
  target_shape.erase(target_shape.begin() + 1);
  if (target.shape() != target_shape)
    c.fail("target has shape " + shape_to_string(target.shape()) + ", expected " +
           shape_to_string(target_shape));
  const std::int64_t classes = shape[1];
  if (weight && (weight->rank() != 1 || weight->dim(0) != classes))
    c.fail("weight must have one value per class");
  const bool has_ignore = c.node.has_attr("ignore_index");
  const std::int64_t ignore = c.node.attr_int("ignore_index", 0);
  Tensor& y = c.output(0, DType::f32, reduction == "none" ? target_shape : Shape{});
  if (c.shape_only) return;
  const std::int64_t n = shape[0];
  const std::int64_t inner = n == 0 ? 0 : shape_numel(target_shape) / n;
  const std::vector<std::int64_t> labels = target.to_i64();
  const float* w = weight ? weight->data<float>() : nullptr;
  std::vector<double> loss(labels.size(), 0.0);
  double total = 0, weights = 0;
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t i = 0; i < inner; ++i) {
      const std::size_t at = static_cast<std::size_t>(b * inner + i);
      const std::int64_t t = labels[at];
      if (has_ignore && t == ignore) continue;
      if (t < 0 || t >= classes)
        c.fail("target " + std::to_string(t) + " is out of range for " + std::to_string(classes) +
               " classes");
      const double wt = w ? w[t] : 1.0;
      loss[at] = -double(log_prob[(b * classes + t) * inner + i]) * wt;
      total += loss[at];
      weights += wt;
    }
  float* py = y.data<float>();
  if (reduction == "none")
    for (std::size_t k = 0; k < loss.size(); ++k) py[k] = static_cast<float>(loss[k]);
  else if (reduction == "sum")
    py[0] = static_cast<float>(total);
  else
    py[0] = weights == 0 ? std::numeric_limits<float>::quiet_NaN()
                         : static_cast<float>(total / weights);
}

}  // namespace

void negative_log_likelihood_loss(KernelContext& c) {
  require_float(c, 0);
  const Tensor& x = c.in(0);
  if (c.has(2)) require_float(c, 2);
  nll(c, c.shape_only ? nullptr : x.data<float>(), x.shape(), c.in(1),
      c.has(2) ? &c.in(2) : nullptr);
}

void softmax_cross_entropy_loss(KernelContext& c) {
  require_float(c, 0);
  const Tensor& scores = c.in(0);
  if (scores.rank() < 2) c.fail("scores must be [N, C, ...]");
  if (c.has(2)) require_float(c, 2);
  // log_softmax over the class axis 1, computed before the loss declares its output.
  Tensor log_prob(DType::f32, c.shape_only ? Shape{} : scores.shape());
  if (!c.shape_only) {
    const std::int64_t n = scores.dim(0), classes = scores.dim(1);
    const std::int64_t inner = scores.numel() / std::max<std::int64_t>(n * classes, 1);
    const float* ps = scores.data<float>();
    float* pl = log_prob.data<float>();
    for (std::int64_t b = 0; b < n; ++b)
      for (std::int64_t i = 0; i < inner; ++i) {
        double peak = -std::numeric_limits<double>::infinity(), sum = 0;
        for (std::int64_t k = 0; k < classes; ++k)
          peak = std::max(peak, double(ps[(b * classes + k) * inner + i]));
        for (std::int64_t k = 0; k < classes; ++k)
          sum += std::exp(double(ps[(b * classes + k) * inner + i]) - peak);
        const double log_sum = peak + std::log(sum);
        for (std::int64_t k = 0; k < classes; ++k) {
          const std::int64_t at = (b * classes + k) * inner + i;
          pl[at] = static_cast<float>(double(ps[at]) - log_sum);
        }
      }
  }
  nll(c, c.shape_only ? nullptr : log_prob.data<float>(), scores.shape(), c.in(1),
      c.has(2) ? &c.in(2) : nullptr);
  if (c.node.outputs.size() > 1 && !c.node.outputs[1].empty()) {
    if (c.shape_only)
      c.output(1, DType::f32, scores.shape());
    else
      c.set_output(1, log_prob);
  }
}

}  // namespace qs::kernels
