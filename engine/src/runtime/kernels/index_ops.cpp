// Reference kernels that pick or number elements: ArgMax/ArgMin, TopK, Hardmax, CumSum, Trilu,
// Range, Size, OneHot, EyeLike, Tile, Compress, NonZero.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <vector>

#include "runtime/kernel_util.h"
#include "runtime/kernels/kernels.h"

namespace qs::kernels {

namespace {

// A tensor seen as [outer, axis, inner] around one axis.
struct AxisView {
  std::int64_t outer = 1, dim = 1, inner = 1;
};

AxisView view_around(const Shape& s, int axis) {
  AxisView v;
  for (int d = 0; d < static_cast<int>(s.size()); ++d) {
    if (d < axis) v.outer *= s[d];
    if (d == axis) v.dim = s[d];
    if (d > axis) v.inner *= s[d];
  }
  return v;
}

void arg_extreme(KernelContext& c, bool want_max) {
  const Tensor& x = c.in(0);
  const int axis = normalize_axis(c, c.node.attr_int("axis", 0), std::max(x.rank(), 1));
  const bool keepdims = c.node.attr_int("keepdims", 1) != 0;
  const bool last = c.node.attr_int("select_last_index", 0) != 0;
  Shape shape;
  for (int d = 0; d < x.rank(); ++d)
    if (d != axis || keepdims) shape.push_back(d == axis ? 1 : x.dim(d));
  Tensor& y = c.output(0, DType::i64, shape);
  if (c.shape_only) return;
  if (x.rank() > 0 && x.dim(axis) == 0) c.fail("cannot take the arg of an empty axis");
  const AxisView v = view_around(x.shape(), axis);
  std::int64_t* out = y.data<std::int64_t>();
  dispatch_numeric(c, x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* px = x.data<T>();
    for (std::int64_t o = 0; o < v.outer; ++o)
      for (std::int64_t i = 0; i < v.inner; ++i) {
        std::int64_t best = 0;
        T best_value = px[o * v.dim * v.inner + i];
        for (std::int64_t k = 1; k < v.dim; ++k) {
          const T value = px[(o * v.dim + k) * v.inner + i];
          const bool better = want_max ? (value > best_value || (last && value == best_value))
                                       : (value < best_value || (last && value == best_value));
          if (better) best = k, best_value = value;
        }
        out[o * v.inner + i] = best;
      }
  });
}

}  // namespace

void arg_max(KernelContext& c) {
  arg_extreme(c, true);
}
void arg_min(KernelContext& c) {
  arg_extreme(c, false);
}

void top_k(KernelContext& c) {
  const Tensor& x = c.in(0);
  if (x.rank() == 0) c.fail("input must have rank >= 1");
  const int axis = normalize_axis(c, c.node.attr_int("axis", -1), x.rank());
  const std::vector<std::int64_t> kv =
      c.opset >= 10 ? c.in_ints(1) : std::vector<std::int64_t>{c.node.attr_int("k", 1)};
  if (kv.size() != 1 || kv[0] < 0 || kv[0] > x.dim(axis))
    c.fail("k must be one value between 0 and " + std::to_string(x.dim(axis)));
  const std::int64_t k = kv[0];
  const bool largest = c.node.attr_int("largest", 1) != 0;
  Shape shape = x.shape();
  shape[axis] = k;
  Tensor& values = c.output(0, x.dtype(), shape);
  Tensor& indices = c.output(1, DType::i64, shape);
  if (c.shape_only) return;
  const AxisView v = view_around(x.shape(), axis);
  dispatch_numeric(c, x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* px = x.data<T>();
    T* pv = values.data<T>();
    std::int64_t* pi = indices.data<std::int64_t>();
    std::vector<std::int64_t> order(static_cast<std::size_t>(v.dim));
    for (std::int64_t o = 0; o < v.outer; ++o)
      for (std::int64_t i = 0; i < v.inner; ++i) {
        auto at = [&](std::int64_t j) { return px[(o * v.dim + j) * v.inner + i]; };
        std::iota(order.begin(), order.end(), 0);
        // Ties keep the lower index first, as ONNX asks.
        std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
          return largest ? at(a) > at(b) : at(a) < at(b);
        });
        for (std::int64_t j = 0; j < k; ++j) {
          pv[(o * k + j) * v.inner + i] = at(order[j]);
          pi[(o * k + j) * v.inner + i] = order[j];
        }
      }
  });
}

void hardmax(KernelContext& c) {
  require_float(c, 0);
  const Tensor& x = c.in(0);
  const int axis = normalize_axis(c, c.node.attr_int("axis", c.opset >= 13 ? -1 : 1), x.rank());
  Tensor& y = c.output(0, DType::f32, x.shape());
  if (c.shape_only) return;
  // Before opset 13 the input is flattened to 2D at `axis`; from 13 on, one axis.
  AxisView v = view_around(x.shape(), axis);
  if (c.opset < 13) v = {v.outer, v.dim * v.inner, 1};
  const float* px = x.data<float>();
  float* py = y.data<float>();
  for (std::int64_t o = 0; o < v.outer; ++o)
    for (std::int64_t i = 0; i < v.inner; ++i) {
      std::int64_t best = 0;
      for (std::int64_t k = 1; k < v.dim; ++k)
        if (px[(o * v.dim + k) * v.inner + i] > px[(o * v.dim + best) * v.inner + i]) best = k;
      if (v.dim > 0) py[(o * v.dim + best) * v.inner + i] = 1.0f;
    }
}

void cum_sum(KernelContext& c) {
  const Tensor& x = c.in(0);
  const std::vector<std::int64_t> axes = c.in_ints(1);
  if (axes.size() != 1) c.fail("axis must be a single value");
  const int axis = normalize_axis(c, axes[0], x.rank());
  const bool exclusive = c.node.attr_int("exclusive", 0) != 0;
  const bool reverse = c.node.attr_int("reverse", 0) != 0;
  Tensor& y = c.output(0, x.dtype(), x.shape());
  if (c.shape_only) return;
  const AxisView v = view_around(x.shape(), axis);
  dispatch_numeric(c, x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for (std::int64_t o = 0; o < v.outer; ++o)
      for (std::int64_t i = 0; i < v.inner; ++i) {
        T running{};
        for (std::int64_t s = 0; s < v.dim; ++s) {
          const std::int64_t k = reverse ? v.dim - 1 - s : s;
          const std::int64_t at = (o * v.dim + k) * v.inner + i;
          if (exclusive) {
            py[at] = running;
            running = static_cast<T>(running + px[at]);
          } else {
            running = static_cast<T>(running + px[at]);
            py[at] = running;
          }
        }
      }
  });
}

void trilu(KernelContext& c) {
  const Tensor& x = c.in(0);
  if (x.rank() < 2) c.fail("input must have rank >= 2");
  const std::int64_t k = c.has(1) ? c.in_ints(1).at(0) : 0;
  const bool upper = c.node.attr_int("upper", 1) != 0;
  Tensor& y = c.output(0, x.dtype(), x.shape());
  if (c.shape_only) return;
  const std::int64_t rows = x.dim(x.rank() - 2), cols = x.dim(x.rank() - 1);
  const std::int64_t matrices = rows * cols == 0 ? 0 : x.numel() / (rows * cols);
  const std::size_t es = dtype_size(x.dtype());
  const auto* src = static_cast<const std::byte*>(x.raw());
  auto* dst = static_cast<std::byte*>(y.raw());
  for (std::int64_t m = 0; m < matrices; ++m)
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t col = 0; col < cols; ++col) {
        const bool keep = upper ? col - r >= k : col - r <= k;
        if (!keep) continue;  // y is zero-filled
        const std::int64_t at = (m * rows + r) * cols + col;
        std::memcpy(dst + at * es, src + at * es, es);
      }
}

void range(KernelContext& c) {
  const DType dtype = c.in(0).dtype();
  for (int i : {1, 2})
    if (c.in(i).dtype() != dtype) c.fail("start, limit and delta must have one dtype");
  for (int i : {0, 1, 2})
    if (!c.in(i).has_data())
      throw DataDependentShape("Range: the output size depends on run-time values");
  if (dtype == DType::f32) {
    const float start = c.in_scalar_f32(0), limit = c.in_scalar_f32(1), delta = c.in_scalar_f32(2);
    if (delta == 0) c.fail("delta must not be 0");
    const double n = std::ceil((double(limit) - double(start)) / double(delta));
    const std::int64_t count = std::max<std::int64_t>(0, static_cast<std::int64_t>(n));
    Tensor& y = c.output(0, dtype, {count});
    if (c.shape_only) return;
    float* py = y.data<float>();
    for (std::int64_t i = 0; i < count; ++i) py[i] = start + static_cast<float>(i) * delta;
    return;
  }
  const std::int64_t start = c.in_ints(0).at(0), limit = c.in_ints(1).at(0);
  const std::int64_t delta = c.in_ints(2).at(0);
  if (delta == 0) c.fail("delta must not be 0");
  const std::int64_t span = limit - start;
  std::int64_t count = span / delta + ((span % delta) != 0 ? 1 : 0);
  count = std::max<std::int64_t>(0, count);
  Tensor& y = c.output(0, dtype, {count});
  if (c.shape_only) return;
  dispatch_numeric(c, dtype, [&](auto zero) {
    using T = decltype(zero);
    T* py = y.data<T>();
    for (std::int64_t i = 0; i < count; ++i) py[i] = static_cast<T>(start + i * delta);
  });
}

void size(KernelContext& c) {
  Tensor& y = c.output(0, DType::i64, {});
  if (c.shape_only) return;
  y.data<std::int64_t>()[0] = c.in(0).numel();
}

void one_hot(KernelContext& c) {
  const Tensor& indices = c.in(0);
  // depth may be any numeric type; a float depth is truncated, as ONNX says.
  const std::vector<float> depth_v = c.in_floats(1);
  if (depth_v.size() != 1 || depth_v[0] < 1) c.fail("depth must be one positive value");
  const std::int64_t depth = static_cast<std::int64_t>(depth_v[0]);
  const Tensor& values = c.in(2);
  if (values.numel() != 2) c.fail("values must hold [off, on]");
  const int rank = indices.rank() + 1;
  const int axis = normalize_axis(c, c.node.attr_int("axis", -1), rank);
  Shape shape = indices.shape();
  shape.insert(shape.begin() + axis, depth);
  Tensor& y = c.output(0, values.dtype(), shape);
  if (c.shape_only) return;
  const std::vector<float> idx = indices.to_f32();
  const AxisView v = view_around(shape, axis);
  dispatch_numeric(c, values.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T off = values.data<T>()[0], on = values.data<T>()[1];
    T* py = y.data<T>();
    std::fill(py, py + y.numel(), off);
    for (std::int64_t o = 0; o < v.outer; ++o)
      for (std::int64_t i = 0; i < v.inner; ++i) {
        std::int64_t k = static_cast<std::int64_t>(idx[o * v.inner + i]);
        if (k < 0) k += depth;
        if (k >= 0 && k < depth) py[(o * depth + k) * v.inner + i] = on;
      }
  });
}

void eye_like(KernelContext& c) {
  const Tensor& x = c.in(0);
  if (x.rank() != 2) c.fail("input must be 2D");
  const DType dtype = c.node.has_attr("dtype")
                          ? dtype_from_onnx(static_cast<int>(c.node.attr_int("dtype", 1)))
                          : x.dtype();
  const std::int64_t k = c.node.attr_int("k", 0);
  Tensor& y = c.output(0, dtype, x.shape());
  if (c.shape_only) return;
  dispatch_all(c, dtype, [&](auto zero) {
    using T = decltype(zero);
    T* py = y.data<T>();
    for (std::int64_t r = 0; r < x.dim(0); ++r)
      if (r + k >= 0 && r + k < x.dim(1)) py[r * x.dim(1) + r + k] = static_cast<T>(1);
  });
}

void tile(KernelContext& c) {
  const Tensor& x = c.in(0);
  const std::vector<std::int64_t> repeats = c.in_ints(1);
  if (static_cast<int>(repeats.size()) != x.rank())
    c.fail("repeats has " + std::to_string(repeats.size()) + " values for rank " +
           std::to_string(x.rank()));
  Shape shape = x.shape();
  for (int d = 0; d < x.rank(); ++d) {
    if (repeats[d] < 0) c.fail("repeats must be >= 0");
    shape[d] *= repeats[d];
  }
  Tensor& y = c.output(0, x.dtype(), shape);
  if (c.shape_only) return;
  // Each output element reads the input at (index mod input dim) per axis.
  const std::vector<std::int64_t> in_strides = strides_of(x.shape());
  const std::size_t es = dtype_size(x.dtype());
  const auto* src = static_cast<const std::byte*>(x.raw());
  auto* dst = static_cast<std::byte*>(y.raw());
  std::vector<std::int64_t> index(shape.size(), 0);
  for (std::int64_t o = 0; o < y.numel(); ++o) {
    std::int64_t from = 0;
    for (std::size_t d = 0; d < shape.size(); ++d)
      from += (index[d] % x.dim(int(d))) * in_strides[d];
    std::memcpy(dst + o * es, src + from * es, es);
    for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
}

void compress(KernelContext& c) {
  const Tensor& x = c.in(0);
  require_dtype(c, 1, DType::boolean);
  const Tensor& condition = c.in(1);
  if (condition.rank() != 1) c.fail("condition must be 1D");
  const bool has_axis = c.node.has_attr("axis");
  const Tensor flat = has_axis ? x : x.reshaped({x.numel()});
  const int axis = has_axis ? normalize_axis(c, c.node.attr_int("axis", 0), x.rank()) : 0;
  if (c.shape_only) throw DataDependentShape("Compress: the output size depends on the data");
  const bool* keep = condition.data<bool>();
  std::vector<std::int64_t> kept;
  for (std::int64_t i = 0; i < std::min(condition.numel(), flat.dim(axis)); ++i)
    if (keep[i]) kept.push_back(i);
  Shape shape = flat.shape();
  shape[axis] = static_cast<std::int64_t>(kept.size());
  Tensor& y = c.output(0, x.dtype(), shape);
  const AxisView v = view_around(flat.shape(), axis);
  const std::size_t es = dtype_size(x.dtype());
  const auto* src = static_cast<const std::byte*>(flat.raw());
  auto* dst = static_cast<std::byte*>(y.raw());
  const std::int64_t m = static_cast<std::int64_t>(kept.size());
  for (std::int64_t o = 0; o < v.outer; ++o)
    for (std::int64_t j = 0; j < m; ++j)
      std::memcpy(dst + (o * m + j) * v.inner * es, src + (o * v.dim + kept[j]) * v.inner * es,
                  v.inner * es);
}

void non_zero(KernelContext& c) {
  const Tensor& x = c.in(0);
  if (c.shape_only) throw DataDependentShape("NonZero: the output size depends on the data");
  const std::vector<float> values = x.to_f32();
  std::vector<std::int64_t> hits;
  for (std::int64_t i = 0; i < x.numel(); ++i)
    if (values[i] != 0.0f) hits.push_back(i);
  const std::int64_t n = static_cast<std::int64_t>(hits.size());
  Tensor& y = c.output(0, DType::i64, {x.rank(), n});
  std::int64_t* py = y.data<std::int64_t>();
  const std::vector<std::int64_t> strides = strides_of(x.shape());
  for (std::int64_t j = 0; j < n; ++j)
    for (int d = 0; d < x.rank(); ++d) py[d * n + j] = (hits[j] / strides[d]) % x.dim(d);
}

}  // namespace qs::kernels
