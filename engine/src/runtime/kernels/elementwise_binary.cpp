// Binary (and variadic: Max, Min, Sum, Mean) elementwise ops with numpy broadcasting.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "runtime/kernel_util.h"
#include "runtime/kernels/kernels.h"

namespace qs::kernels {

namespace {

// Applies out[i] = op(a[ia], b[ib]) over the broadcast shape. Same-shape and scalar operands
// are the common case on the hot path. Otherwise the output's dimensions are merged, from the
// innermost, while both operands stay contiguous (or both broadcast) across them, so that the
// work is an outer walk over runs whose operands each advance by 1 or stay put.
template <typename In, typename Out, typename Op>
void broadcast_apply(const Tensor& a, const Tensor& b, Tensor& out, Op op) {
  const In* pa = a.data<In>();
  const In* pb = b.data<In>();
  Out* po = out.data<Out>();
  const std::int64_t n = out.numel();
  if (a.shape() == out.shape() && b.shape() == out.shape()) {
    for (std::int64_t i = 0; i < n; ++i) po[i] = op(pa[i], pb[i]);
    return;
  }
  if (a.shape() == out.shape() && b.numel() == 1) {
    for (std::int64_t i = 0; i < n; ++i) po[i] = op(pa[i], pb[0]);
    return;
  }
  if (n == 0) return;
  const Shape& shape = out.shape();
  const int rank = static_cast<int>(shape.size());
  auto strides = [&](const Shape& in) {  // per output dimension, 0 where broadcast
    std::vector<std::int64_t> s(static_cast<std::size_t>(rank), 0);
    const std::vector<std::int64_t> own = strides_of(in);
    const int offset = rank - static_cast<int>(in.size());
    for (int d = 0; d < static_cast<int>(in.size()); ++d)
      s[static_cast<std::size_t>(d + offset)] =
          in[static_cast<std::size_t>(d)] == 1 ? 0 : own[static_cast<std::size_t>(d)];
    return s;
  };
  const std::vector<std::int64_t> sa = strides(a.shape()), sb = strides(b.shape());
  struct Dim {
    std::int64_t size, a, b;
  };
  std::vector<Dim> dims;  // innermost first
  for (int d = rank - 1; d >= 0; --d) {
    const std::size_t k = static_cast<std::size_t>(d);
    if (shape[k] == 1) continue;
    if (!dims.empty() && sa[k] == dims.back().a * dims.back().size &&
        sb[k] == dims.back().b * dims.back().size)
      dims.back().size *= shape[k];
    else
      dims.push_back({shape[k], sa[k], sb[k]});
  }
  const Dim inner = dims.empty() ? Dim{1, 0, 0} : dims.front();
  const std::int64_t runs = n / inner.size;
  std::vector<std::int64_t> index(dims.size(), 0);
  std::int64_t oa = 0, ob = 0;
  for (std::int64_t r = 0; r < runs; ++r) {
    Out* o = po + r * inner.size;
    const In* x = pa + oa;
    const In* y = pb + ob;
    if (inner.a == 1 && inner.b == 1)
      for (std::int64_t i = 0; i < inner.size; ++i) o[i] = op(x[i], y[i]);
    else if (inner.a == 1)
      for (std::int64_t i = 0; i < inner.size; ++i) o[i] = op(x[i], *y);
    else if (inner.b == 1)
      for (std::int64_t i = 0; i < inner.size; ++i) o[i] = op(*x, y[i]);
    else
      for (std::int64_t i = 0; i < inner.size; ++i) o[i] = op(*x, *y);
    for (std::size_t d = 1; d < dims.size(); ++d) {  // the next run
      oa += dims[d].a;
      ob += dims[d].b;
      if (++index[d] < dims[d].size) break;
      oa -= dims[d].a * dims[d].size;
      ob -= dims[d].b * dims[d].size;
      index[d] = 0;
    }
  }
}

Shape binary_shape(KernelContext& c) {
  const Tensor& a = c.in(0);
  const Tensor& b = c.in(1);
  if (a.dtype() != b.dtype())
    c.fail("inputs have different dtypes " + dtype_name(a.dtype()) + " and " +
           dtype_name(b.dtype()));
  return broadcast_shapes(c, a.shape(), b.shape());
}

// Arithmetic op keeping the input dtype.
template <typename OpFactory>
void arithmetic(KernelContext& c, OpFactory factory) {
  Shape shape = binary_shape(c);
  DType dtype = c.in(0).dtype();
  Tensor& out = c.output(0, dtype, shape);
  if (c.shape_only) return;
  dispatch_numeric(c, dtype, [&](auto zero) {
    using T = decltype(zero);
    broadcast_apply<T, T>(c.in(0), c.in(1), out, factory(zero));
  });
}

template <typename Cmp>
void comparison(KernelContext& c, Cmp cmp) {
  Shape shape = binary_shape(c);
  Tensor& out = c.output(0, DType::boolean, shape);
  if (c.shape_only) return;
  dispatch_all(c, c.in(0).dtype(), [&](auto zero) {
    using T = decltype(zero);
    broadcast_apply<T, bool>(c.in(0), c.in(1), out, [&](T x, T y) { return cmp(x, y); });
  });
}

// Folds every input into the first with op, broadcasting as it goes (Max, Min, Sum, Mean).
template <typename OpFactory>
void variadic(KernelContext& c, OpFactory factory, bool mean = false) {
  if (c.input_count() < 1) c.fail("needs at least one input");
  const DType dtype = c.in(0).dtype();
  Shape shape = c.in(0).shape();
  for (int i = 1; i < c.input_count(); ++i) {
    if (c.in(i).dtype() != dtype) c.fail("inputs have different dtypes");
    shape = broadcast_shapes(c, shape, c.in(i).shape());
  }
  Tensor& out = c.output(0, dtype, shape);
  if (c.shape_only) return;
  dispatch_numeric(c, dtype, [&](auto zero) {
    using T = decltype(zero);
    Tensor acc = c.in(0);
    for (int i = 1; i < c.input_count(); ++i) {
      Tensor next(dtype, broadcast_shapes(c, acc.shape(), c.in(i).shape()));
      broadcast_apply<T, T>(acc, c.in(i), next, factory(zero));
      acc = next;
    }
    const Tensor one(dtype, {});
    Tensor result(dtype, shape);
    broadcast_apply<T, T>(acc, one, result, [](T x, T) { return x; });  // to the output shape
    T* po = out.data<T>();
    const T* pr = result.data<T>();
    const T n = static_cast<T>(c.input_count());
    for (std::int64_t k = 0; k < out.numel(); ++k) po[k] = mean ? static_cast<T>(pr[k] / n) : pr[k];
  });
}

template <typename T>
T nan_aware_max(T x, T y) {
  if constexpr (std::is_floating_point_v<T>)
    if (std::isnan(x) || std::isnan(y)) return std::numeric_limits<T>::quiet_NaN();
  return x > y ? x : y;
}
template <typename T>
T nan_aware_min(T x, T y) {
  if constexpr (std::is_floating_point_v<T>)
    if (std::isnan(x) || std::isnan(y)) return std::numeric_limits<T>::quiet_NaN();
  return x < y ? x : y;
}

template <typename Logic>
void logical(KernelContext& c, Logic logic) {
  require_dtype(c, 0, DType::boolean);
  require_dtype(c, 1, DType::boolean);
  Tensor& out = c.output(0, DType::boolean, binary_shape(c));
  if (c.shape_only) return;
  broadcast_apply<bool, bool>(c.in(0), c.in(1), out, logic);
}

}  // namespace

void max(KernelContext& c) {
  variadic(c,
           [](auto z) { return [](decltype(z) x, decltype(z) y) { return nan_aware_max(x, y); }; });
}
void min(KernelContext& c) {
  variadic(c,
           [](auto z) { return [](decltype(z) x, decltype(z) y) { return nan_aware_min(x, y); }; });
}
void sum(KernelContext& c) {
  variadic(
      c, [](auto z) { return [](decltype(z) x, decltype(z) y) -> decltype(z) { return x + y; }; });
}
void mean(KernelContext& c) {
  variadic(
      c, [](auto z) { return [](decltype(z) x, decltype(z) y) -> decltype(z) { return x + y; }; },
      true);
}

void mod(KernelContext& c) {
  // fmod=1: the sign of the dividend (C's fmod); fmod=0 (integers only): of the divisor.
  const bool c_fmod = c.node.attr_int("fmod", 0) != 0;
  if (!c_fmod && c.in(0).dtype() == DType::f32) c.fail("fmod=0 is not defined for floats");
  if (!c.shape_only && c.in(0).dtype() != DType::f32)
    for (std::int64_t v : c.in(1).to_i64())
      if (v == 0) c.fail("integer modulo by zero");
  arithmetic(c, [c_fmod](auto z) {
    return [c_fmod](decltype(z) x, decltype(z) y) -> decltype(z) {
      using T = decltype(z);
      if constexpr (std::is_floating_point_v<T>) {
        return std::fmod(x, y);
      } else {
        T r = static_cast<T>(x % y);
        if (!c_fmod && r != 0 && ((r < 0) != (y < 0))) r = static_cast<T>(r + y);
        return r;
      }
    };
  });
}

void less_or_equal(KernelContext& c) {
  comparison(c, [](auto x, auto y) { return x <= y; });
}
void greater_or_equal(KernelContext& c) {
  comparison(c, [](auto x, auto y) { return x >= y; });
}
void logical_and(KernelContext& c) {
  logical(c, [](bool x, bool y) { return x && y; });
}
void logical_or(KernelContext& c) {
  logical(c, [](bool x, bool y) { return x || y; });
}
void logical_xor(KernelContext& c) {
  logical(c, [](bool x, bool y) { return x != y; });
}

void bit_shift(KernelContext& c) {
  const std::string direction = c.node.attr_string("direction", "");
  if (direction != "LEFT" && direction != "RIGHT") c.fail("direction must be LEFT or RIGHT");
  const bool left = direction == "LEFT";
  Shape shape = binary_shape(c);
  const DType dtype = c.in(0).dtype();
  if (dtype != DType::u8) c.unsupported("dtype " + dtype_name(dtype));
  Tensor& out = c.output(0, dtype, shape);
  if (c.shape_only) return;
  broadcast_apply<std::uint8_t, std::uint8_t>(
      c.in(0), c.in(1), out, [left](std::uint8_t x, std::uint8_t y) -> std::uint8_t {
        if (y >= 8) return 0;
        return static_cast<std::uint8_t>(left ? x << y : x >> y);
      });
}

void add(KernelContext& c) {
  arithmetic(
      c, [](auto z) { return [](decltype(z) x, decltype(z) y) -> decltype(z) { return x + y; }; });
}

void sub(KernelContext& c) {
  arithmetic(
      c, [](auto z) { return [](decltype(z) x, decltype(z) y) -> decltype(z) { return x - y; }; });
}

void mul(KernelContext& c) {
  arithmetic(
      c, [](auto z) { return [](decltype(z) x, decltype(z) y) -> decltype(z) { return x * y; }; });
}

void div(KernelContext& c) {
  if (!c.shape_only && c.in(0).dtype() != DType::f32) {
    // Integer division by zero is undefined behaviour in C++; refuse it with a message.
    for (std::int64_t v : c.in(1).to_i64())
      if (v == 0) c.fail("integer division by zero");
  }
  arithmetic(c, [](auto z) {
    return
        [](decltype(z) x, decltype(z) y) -> decltype(z) { return static_cast<decltype(z)>(x / y); };
  });
}

void pow(KernelContext& c) {
  // The exponent may have another dtype than the base (opset 12+); compute in double.
  const Tensor& base = c.in(0);
  const Tensor& expo = c.in(1);
  Shape shape = broadcast_shapes(c, base.shape(), expo.shape());
  Tensor& out = c.output(0, base.dtype(), shape);
  if (c.shape_only) return;
  std::vector<float> e = expo.to_f32();
  auto ie = broadcast_index_map(expo.shape(), shape);
  auto ib = broadcast_index_map(base.shape(), shape);
  dispatch_numeric(c, base.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* pb = base.data<T>();
    T* po = out.data<T>();
    for (std::int64_t i = 0; i < out.numel(); ++i)
      po[i] =
          static_cast<T>(std::pow(static_cast<double>(pb[ib[i]]), static_cast<double>(e[ie[i]])));
  });
}

void equal(KernelContext& c) {
  comparison(c, [](auto x, auto y) { return x == y; });
}

void less(KernelContext& c) {
  comparison(c, [](auto x, auto y) { return x < y; });
}

void greater(KernelContext& c) {
  comparison(c, [](auto x, auto y) { return x > y; });
}

void prelu(KernelContext& c) {
  // slope broadcasts unidirectionally to x.
  Shape shape = binary_shape(c);
  if (shape != c.in(0).shape())
    c.fail("slope " + shape_to_string(c.in(1).shape()) + " does not broadcast to x " +
           shape_to_string(c.in(0).shape()));
  Tensor& out = c.output(0, c.in(0).dtype(), shape);
  if (c.shape_only) return;
  dispatch_numeric(c, c.in(0).dtype(), [&](auto zero) {
    using T = decltype(zero);
    broadcast_apply<T, T>(c.in(0), c.in(1), out,
                          [](T x, T s) -> T { return x < T(0) ? static_cast<T>(x * s) : x; });
  });
}

void where(KernelContext& c) {
  const Tensor& cond = c.in(0);
  const Tensor& x = c.in(1);
  const Tensor& y = c.in(2);
  if (cond.dtype() != DType::boolean) c.fail("condition must be bool");
  if (x.dtype() != y.dtype()) c.fail("X and Y have different dtypes");
  Shape shape = broadcast_shapes(c, broadcast_shapes(c, cond.shape(), x.shape()), y.shape());
  Tensor& out = c.output(0, x.dtype(), shape);
  if (c.shape_only) return;
  auto ic = broadcast_index_map(cond.shape(), shape);
  auto ix = broadcast_index_map(x.shape(), shape);
  auto iy = broadcast_index_map(y.shape(), shape);
  dispatch_all(c, x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const bool* pc = cond.data<bool>();
    const T* px = x.data<T>();
    const T* py = y.data<T>();
    T* po = out.data<T>();
    for (std::int64_t i = 0; i < out.numel(); ++i) po[i] = pc[ic[i]] ? px[ix[i]] : py[iy[i]];
  });
}

}  // namespace qs::kernels
