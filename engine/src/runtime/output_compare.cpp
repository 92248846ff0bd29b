#include "runtime/output_compare.h"

#include <algorithm>
#include <cmath>

#include "quantscope/error.h"

namespace qs {

bool is_classifier_output(const Shape& shape, std::int64_t count, const Shape& input_shape) {
  return shape.size() == 2 && shape[0] == count && shape != input_shape;
}

void OutputComparison::add(const Tensor& a, const Tensor& b, bool classifier) {
  if (a.shape() != b.shape() || a.dtype() != DType::f32 || b.dtype() != DType::f32)
    throw Error("the two models' outputs differ in shape or type: " + shape_to_string(a.shape()) +
                " and " + shape_to_string(b.shape()));
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    // Equal values (both -inf: a masked logit) differ by nothing.
    if (std::isfinite(pa[i])) signal_ += double(pa[i]) * pa[i];
    const double d = pa[i] == pb[i] ? 0.0 : double(pa[i]) - double(pb[i]);
    noise_ += d * d;
  }
  if (!classifier || a.rank() != 2) return;
  const std::int64_t count = a.dim(0), classes = a.dim(1);
  for (std::int64_t i = 0; i < count; ++i) {
    const float* la = pa + i * classes;
    const float* lb = pb + i * classes;
    agree_ += std::max_element(la, la + classes) - la == std::max_element(lb, lb + classes) - lb;
    ++compared_;
    // KL(softmax(a) || softmax(b)), in a numerically stable form.
    const double ma = *std::max_element(la, la + classes);
    const double mb = *std::max_element(lb, lb + classes);
    double za = 0, zb = 0;
    for (std::int64_t j = 0; j < classes; ++j) {
      za += std::exp(la[j] - ma);
      zb += std::exp(lb[j] - mb);
    }
    const double lza = std::log(za) + ma, lzb = std::log(zb) + mb;
    // A class both give -inf (a masked token) adds nothing, not NaN; rounding can leave a
    // row's sum a hair below 0, which KL is not.
    double row = 0;
    for (std::int64_t j = 0; j < classes; ++j) {
      const double lpa = la[j] - lza, lpb = lb[j] - lzb;
      const double pa_j = std::exp(lpa);
      if (pa_j > 0) row += pa_j * (lpa - lpb);
    }
    kl_ += std::max(row, 0.0);
  }
}

double OutputComparison::agreement() const {
  return compared_ > 0 ? 100.0 * double(agree_) / double(compared_) : 0.0;
}

double OutputComparison::kl() const {
  return compared_ > 0 ? kl_ / double(compared_) : 0.0;
}

double OutputComparison::sqnr_db() const {
  return noise_ > 0 ? 10.0 * std::log10(signal_ / noise_) : INFINITY;
}

}  // namespace qs
