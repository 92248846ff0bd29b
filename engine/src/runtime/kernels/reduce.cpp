// Reference reduction kernels: ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceProd, and
// the sums of a function of x (ReduceL1, ReduceL2, ReduceSumSquare, ReduceLogSum, ReduceLogSumExp).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/kernel_util.h"
#include "runtime/kernels/kernels.h"

namespace qs::kernels {

namespace {

// Which axes to reduce and the resulting shape.
struct ReducePlan {
  bool identity = false;      // noop_with_empty_axes with no axes: the output is the input
  std::vector<bool> reduced;  // per input dimension
  Shape kept_shape;           // output shape with reduced dims kept as 1
  Shape out_shape;            // final output shape (keepdims applied)
};

// `axes_input_opset` is the opset from which the axes come as input 1 rather than an attribute
// (13 for ReduceSum, 18 for the others); noop_with_empty_axes exists from then on too.
ReducePlan plan_reduce(const KernelContext& c, std::int64_t axes_input_opset) {
  const Tensor& x = c.in(0);
  const int rank = x.rank();
  std::vector<std::int64_t> axes;
  bool noop_with_empty_axes = false;
  if (c.opset >= axes_input_opset) {
    if (c.has(1)) axes = c.in_ints(1);
    noop_with_empty_axes = c.node.attr_int("noop_with_empty_axes", 0) != 0;
  } else {
    axes = c.node.attr_ints("axes");
  }

  ReducePlan p;
  if (axes.empty() && noop_with_empty_axes) {
    p.identity = true;
    p.out_shape = x.shape();
    return p;
  }
  p.reduced.assign(rank, axes.empty());  // no axes: reduce over all of them
  for (std::int64_t a : axes) {
    int n = normalize_axis(c, a, rank);
    if (rank == 0) continue;  // a scalar has nothing to reduce; axis 0 / -1 is tolerated
    if (p.reduced[n]) c.fail("axis " + std::to_string(a) + " is listed twice");
    p.reduced[n] = true;
  }
  const bool keepdims = c.node.attr_int("keepdims", 1) != 0;
  for (int d = 0; d < rank; ++d) {
    p.kept_shape.push_back(p.reduced[d] ? 1 : x.dim(d));
    if (!p.reduced[d] || keepdims) p.out_shape.push_back(p.reduced[d] ? 1 : x.dim(d));
  }
  return p;
}

// For every input element, the flat index of the output element it reduces into.
std::vector<std::int64_t> reduce_index_map(const Shape& in_shape, const ReducePlan& p) {
  const int rank = static_cast<int>(in_shape.size());
  std::vector<std::int64_t> out_strides = strides_of(p.kept_shape);
  for (int d = 0; d < rank; ++d)
    if (p.reduced[d]) out_strides[d] = 0;
  return strided_offsets(in_shape, out_strides);
}

enum class ReduceKind { sum, mean, max, min, prod, l1, l2, sum_square, log_sum, log_sum_exp };

template <typename T>
void reduce_typed(KernelContext& c, const ReducePlan& p, ReduceKind kind) {
  const Tensor& x = c.in(0);
  Tensor& y = c.outputs[0];
  const T* xd = x.data<T>();
  T* yd = y.data<T>();
  const std::int64_t out_n = y.numel();
  const std::int64_t in_n = x.numel();
  const std::vector<std::int64_t> map = reduce_index_map(x.shape(), p);

  if (kind == ReduceKind::max || kind == ReduceKind::min) {
    // An empty reduction yields the identity of the operation (-inf for max, +inf for min).
    T init;
    if constexpr (std::numeric_limits<T>::has_infinity)
      init = kind == ReduceKind::max ? -std::numeric_limits<T>::infinity()
                                     : std::numeric_limits<T>::infinity();
    else
      init = kind == ReduceKind::max ? std::numeric_limits<T>::lowest()
                                     : std::numeric_limits<T>::max();
    for (std::int64_t o = 0; o < out_n; ++o) yd[o] = init;
    for (std::int64_t k = 0; k < in_n; ++k) {
      T v = xd[k];
      T& acc = yd[map[k]];
      if (kind == ReduceKind::max ? v > acc : v < acc) acc = v;
    }
    return;
  }

  // Sums accumulate in double for floats (accuracy) and in int64 for integers (wrapping at the
  // end like a sum in the element type would).
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, std::int64_t>;
  std::vector<Acc> acc(static_cast<std::size_t>(out_n),
                       static_cast<Acc>(kind == ReduceKind::prod ? 1 : 0));
  switch (kind) {
    case ReduceKind::prod:
      for (std::int64_t k = 0; k < in_n; ++k) acc[map[k]] *= static_cast<Acc>(xd[k]);
      break;
    case ReduceKind::l1:
      for (std::int64_t k = 0; k < in_n; ++k) {
        const Acc v = static_cast<Acc>(xd[k]);
        acc[map[k]] += v < 0 ? -v : v;
      }
      break;
    case ReduceKind::l2:
    case ReduceKind::sum_square:
      for (std::int64_t k = 0; k < in_n; ++k) {
        const Acc v = static_cast<Acc>(xd[k]);
        acc[map[k]] += v * v;
      }
      break;
    case ReduceKind::log_sum_exp: {
      // exp of (x - max) keeps large inputs finite; the max is added back after the log.
      std::vector<double> peak(static_cast<std::size_t>(out_n),
                               -std::numeric_limits<double>::infinity());
      for (std::int64_t k = 0; k < in_n; ++k)
        peak[map[k]] = std::max(peak[map[k]], static_cast<double>(xd[k]));
      std::vector<double> sum(static_cast<std::size_t>(out_n), 0.0);
      for (std::int64_t k = 0; k < in_n; ++k)
        sum[map[k]] += std::exp(static_cast<double>(xd[k]) - peak[map[k]]);
      for (std::int64_t o = 0; o < out_n; ++o)
        yd[o] = static_cast<T>(std::isinf(peak[o]) ? peak[o] : peak[o] + std::log(sum[o]));
      return;
    }
    default:
      for (std::int64_t k = 0; k < in_n; ++k) acc[map[k]] += static_cast<Acc>(xd[k]);
  }
  if (kind == ReduceKind::l2 || kind == ReduceKind::log_sum) {
    for (std::int64_t o = 0; o < out_n; ++o) {
      const double v = static_cast<double>(acc[o]);
      yd[o] = static_cast<T>(kind == ReduceKind::l2 ? std::sqrt(v) : std::log(v));
    }
    return;
  }
  const std::int64_t count = out_n == 0 ? 0 : in_n / out_n;
  for (std::int64_t o = 0; o < out_n; ++o) {
    Acc v = acc[o];
    if (kind == ReduceKind::mean) {
      if constexpr (std::is_floating_point_v<T>)
        v = v / static_cast<double>(count);  // 0/0 gives NaN for an empty reduction, as numpy
      else
        v = count > 0 ? v / count : 0;
    }
    yd[o] = static_cast<T>(v);
  }
}

void reduce(KernelContext& c, ReduceKind kind, std::int64_t axes_input_opset) {
  const Tensor& x = c.in(0);
  ReducePlan p = plan_reduce(c, axes_input_opset);
  if (p.identity) {
    c.set_output(0, x);
    return;
  }
  const bool is_sum = kind != ReduceKind::max && kind != ReduceKind::min;
  if (x.dtype() == DType::boolean && is_sum) c.unsupported("dtype bool");
  c.output(0, x.dtype(), p.out_shape);
  if (c.shape_only) return;
  dispatch_all(c, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    reduce_typed<T>(c, p, kind);  // bool only gets here for max/min (opset 20)
  });
}

}  // namespace

void reduce_mean(KernelContext& c) {
  reduce(c, ReduceKind::mean, 18);
}
void reduce_sum(KernelContext& c) {
  reduce(c, ReduceKind::sum, 13);
}
void reduce_max(KernelContext& c) {
  reduce(c, ReduceKind::max, 18);
}
void reduce_min(KernelContext& c) {
  reduce(c, ReduceKind::min, 18);
}
void reduce_prod(KernelContext& c) {
  reduce(c, ReduceKind::prod, 18);
}
void reduce_l1(KernelContext& c) {
  reduce(c, ReduceKind::l1, 18);
}
void reduce_l2(KernelContext& c) {
  reduce(c, ReduceKind::l2, 18);
}
void reduce_sum_square(KernelContext& c) {
  reduce(c, ReduceKind::sum_square, 18);
}
void reduce_log_sum(KernelContext& c) {
  reduce(c, ReduceKind::log_sum, 18);
}
void reduce_log_sum_exp(KernelContext& c) {
  reduce(c, ReduceKind::log_sum_exp, 18);
}

}  // namespace qs::kernels
