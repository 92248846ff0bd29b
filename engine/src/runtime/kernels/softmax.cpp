// Softmax and LogSoftmax.
#include <algorithm>
#include <cmath>

#include "runtime/kernel_util.h"
#include "runtime/kernels/kernels.h"

namespace qs::kernels {

namespace {

// Before opset 13 the input is coerced to 2-D [prod(dims < axis), prod(dims >= axis)] and
// normalized along the second dimension; from 13 on, along the single axis only.
template <bool Log>
void softmax_impl(KernelContext& c) {
  require_float(c, 0);
  const Tensor& x = c.in(0);
  const int rank = x.rank();
  const bool coerce = c.opset < 13;
  const int axis = normalize_axis(c, c.node.attr_int("axis", coerce ? 1 : -1), rank);
  Tensor& out = c.output(0, DType::f32, x.shape());
  if (c.shape_only) return;
  std::int64_t outer = 1, len = 1, inner = 1;
  for (int d = 0; d < rank; ++d) {
    if (d < axis)
      outer *= x.dim(d);
    else if (d == axis || coerce)
      len *= x.dim(d);
    else
      inner *= x.dim(d);
  }
  const float* px = x.data<float>();
  float* po = out.data<float>();
  for (std::int64_t o = 0; o < outer; ++o) {
    for (std::int64_t i = 0; i < inner; ++i) {
      const float* in = px + o * len * inner + i;
      float* res = po + o * len * inner + i;
      float max_value = -INFINITY;
      for (std::int64_t k = 0; k < len; ++k) max_value = std::max(max_value, in[k * inner]);
      double sum = 0;
      for (std::int64_t k = 0; k < len; ++k) sum += std::exp(double(in[k * inner] - max_value));
      for (std::int64_t k = 0; k < len; ++k) {
        float shifted = in[k * inner] - max_value;
        res[k * inner] = Log ? static_cast<float>(shifted - std::log(sum))
                             : static_cast<float>(std::exp(double(shifted)) / sum);
      }
    }
  }
}

}  // namespace

void softmax(KernelContext& c) {
  softmax_impl<false>(c);
}
void log_softmax(KernelContext& c) {
  softmax_impl<true>(c);
}

}  // namespace qs::kernels
