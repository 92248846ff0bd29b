// Reference pooling kernels: MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool.
//
// Tensors are [N, C, D1, ..., Dk]; the windowed pools work for any k >= 1 with generic N-d loops.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "runtime/kernel_util.h"
#include "runtime/kernels/kernels.h"

namespace qs::kernels {

namespace {

using Dims = std::vector<std::int64_t>;

std::string dims_to_string(const Dims& d) {
  return shape_to_string(d);
}

// The geometry of one windowed pool, resolved from the attributes and the input shape.
struct PoolGeometry {
  int k = 0;       // number of spatial dimensions
  Dims in;         // spatial input sizes
  Dims out;        // spatial output sizes
  Dims kernel;     // kernel_shape
  Dims strides;    // per spatial dimension
  Dims dilations;  // per spatial dimension
  Dims pad_begin;  // leading padding per spatial dimension
  Dims pad_end;    // trailing padding per spatial dimension
};

// floor(a / b) for b > 0 and any sign of a.
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
  return -floor_div(-a, b);
}

Dims pool_attr(const KernelContext& c, const char* name, int count, std::int64_t fallback) {
  Dims v = c.node.attr_ints(name, Dims(count, fallback));
  if (static_cast<int>(v.size()) != count)
    c.fail(std::string("attribute '") + name + "' has " + std::to_string(v.size()) +
           " values, expected " + std::to_string(count));
  return v;
}

// Resolves kernel_shape, strides, dilations, pads, auto_pad and ceil_mode (ONNX Pool semantics).
PoolGeometry pool_geometry(const KernelContext& c, bool allow_dilations) {
  const Tensor& x = c.in(0);
  if (x.rank() < 3)
    c.fail("input must have rank >= 3 ([N, C, D1, ...]), got " + shape_to_string(x.shape()));
  PoolGeometry g;
  g.k = x.rank() - 2;
  g.in.assign(x.shape().begin() + 2, x.shape().end());

  if (!c.node.has_attr("kernel_shape")) c.fail("attribute 'kernel_shape' is required");
  g.kernel = pool_attr(c, "kernel_shape", g.k, 1);
  g.strides = pool_attr(c, "strides", g.k, 1);
  g.dilations = allow_dilations ? pool_attr(c, "dilations", g.k, 1) : Dims(g.k, 1);
  Dims pads = pool_attr(c, "pads", 2 * g.k, 0);
  for (int i = 0; i < g.k; ++i) {
    if (g.kernel[i] <= 0) c.fail("kernel_shape " + dims_to_string(g.kernel) + " must be positive");
    if (g.strides[i] <= 0) c.fail("strides " + dims_to_string(g.strides) + " must be positive");
    if (g.dilations[i] <= 0)
      c.fail("dilations " + dims_to_string(g.dilations) + " must be positive");
    if (pads[i] < 0 || pads[i + g.k] < 0)
      c.fail("pads " + dims_to_string(pads) + " must not be negative");
    if (g.kernel[i] > (std::int64_t{1} << 31) || g.dilations[i] > (std::int64_t{1} << 31) ||
        pads[i] > (std::int64_t{1} << 40) || pads[i + g.k] > (std::int64_t{1} << 40))
      c.fail("kernel_shape, dilations or pads are implausibly large");
  }

  const std::string auto_pad = c.node.attr_string("auto_pad", "NOTSET");
  const bool ceil_mode = c.node.attr_int("ceil_mode", 0) != 0;
  g.out.resize(g.k);
  g.pad_begin.resize(g.k);
  g.pad_end.resize(g.k);
  for (int i = 0; i < g.k; ++i) {
    const std::int64_t extent = (g.kernel[i] - 1) * g.dilations[i] + 1;  // dilated kernel
    const std::int64_t in = g.in[i], s = g.strides[i];
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      g.out[i] = ceil_div(in, s);
      std::int64_t total = std::max<std::int64_t>(0, (g.out[i] - 1) * s + extent - in);
      // SAME_UPPER puts the odd extra pad at the end, SAME_LOWER at the beginning.
      g.pad_begin[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      g.pad_end[i] = total - g.pad_begin[i];
    } else if (auto_pad == "VALID") {
      if (in < extent)
        c.fail("kernel extent " + std::to_string(extent) + " exceeds input size " +
               std::to_string(in) + " with auto_pad VALID");
      g.out[i] = (in - extent) / s + 1;
      g.pad_begin[i] = g.pad_end[i] = 0;
    } else if (auto_pad == "NOTSET") {
      g.pad_begin[i] = pads[i];
      g.pad_end[i] = pads[i + g.k];
      const std::int64_t span = in + g.pad_begin[i] + g.pad_end[i] - extent;
      if (span < 0)
        c.fail("kernel extent " + std::to_string(extent) + " exceeds padded input size " +
               std::to_string(in + g.pad_begin[i] + g.pad_end[i]));
      g.out[i] = (ceil_mode ? ceil_div(span, s) : span / s) + 1;
      // With ceil_mode the last window must start inside the input or the leading padding;
      // one that would start in the trailing padding is dropped (PyTorch/ONNX rule).
      if (ceil_mode && (g.out[i] - 1) * s >= in + g.pad_begin[i]) --g.out[i];
    } else {
      c.fail("unknown auto_pad '" + auto_pad + "'");
    }
  }
  return g;
}

Shape pool_output_shape(const Tensor& x, const PoolGeometry& g) {
  Shape s = {x.dim(0), x.dim(1)};
  s.insert(s.end(), g.out.begin(), g.out.end());
  return s;
}

// Calls fn(out_flat, window_origin) for every spatial output position of one channel plane, in
// row-major order; window_origin[i] is the (possibly negative) first input coordinate.
template <typename Fn>
void for_each_window(const PoolGeometry& g, Fn&& fn) {
  const std::int64_t count = shape_numel(g.out);
  Dims pos(g.k, 0);
  Dims origin(g.k);
  for (std::int64_t o = 0; o < count; ++o) {
    for (int i = 0; i < g.k; ++i) origin[i] = pos[i] * g.strides[i] - g.pad_begin[i];
    fn(o, origin);
    for (int i = g.k - 1; i >= 0; --i) {
      if (++pos[i] < g.out[i]) break;
      pos[i] = 0;
    }
  }
}

// Number of taps t in [0, kernel) of one dimension whose coordinate origin + t * dilation lies
// in [lo, hi); first_tap receives the first such t. Arithmetic, so that a hostile kernel or
// padding of 2^31 costs nothing.
std::int64_t taps_between(std::int64_t origin, std::int64_t dilation, std::int64_t kernel,
                          std::int64_t lo, std::int64_t hi, std::int64_t* first_tap = nullptr) {
  const std::int64_t first = origin >= lo ? 0 : (lo - origin + dilation - 1) / dilation;
  const std::int64_t last =
      hi - 1 - origin < 0 ? -1 : std::min(kernel - 1, (hi - 1 - origin) / dilation);
  if (first_tap) *first_tap = first;
  return last >= first ? last - first + 1 : 0;
}

// Calls fn(tap) for every kernel tap of a window that falls inside the input, where tap[i] is
// the input coordinate along spatial dimension i. Taps in the padding are skipped without
// being visited.
template <typename Fn>
void for_each_tap(const PoolGeometry& g, const Dims& origin, Fn&& fn) {
  // Scratch reused across calls: this runs once per output element.
  thread_local Dims first, count, step, coord;
  first.assign(g.k, 0);
  count.assign(g.k, 0);
  step.assign(g.k, 0);
  coord.assign(g.k, 0);
  for (int i = 0; i < g.k; ++i) {
    count[i] = taps_between(origin[i], g.dilations[i], g.kernel[i], 0, g.in[i], &first[i]);
    if (count[i] == 0) return;
  }
  for (;;) {
    for (int i = 0; i < g.k; ++i) coord[i] = origin[i] + (first[i] + step[i]) * g.dilations[i];
    fn(coord);
    int i = g.k - 1;
    for (; i >= 0; --i) {
      if (++step[i] < count[i]) break;
      step[i] = 0;
    }
    if (i < 0) return;
  }
}

// Flat offset of a spatial coordinate within one channel plane, row- or column-major.
std::int64_t plane_offset(const PoolGeometry& g, const Dims& coord, bool column_major) {
  std::int64_t off = 0;
  if (column_major) {
    for (int i = g.k - 1; i >= 0; --i) off = off * g.in[i] + coord[i];
  } else {
    for (int i = 0; i < g.k; ++i) off = off * g.in[i] + coord[i];
  }
  return off;
}

template <typename T>
void max_pool_typed(KernelContext& c, const PoolGeometry& g, bool want_indices) {
  const Tensor& x = c.in(0);
  Tensor& y = c.outputs[0];
  const T* xd = x.data<T>();
  T* yd = y.data<T>();
  std::int64_t* id = want_indices ? c.outputs[1].data<std::int64_t>() : nullptr;
  const bool column_major = c.node.attr_int("storage_order", 0) != 0;
  const std::int64_t planes = x.dim(0) * x.dim(1);
  const std::int64_t in_plane = shape_numel(g.in);
  const std::int64_t out_plane = shape_numel(g.out);
  const T lowest = std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                        : std::numeric_limits<T>::lowest();
  for (std::int64_t p = 0; p < planes; ++p) {
    const T* src = xd + p * in_plane;
    for_each_window(g, [&](std::int64_t o, const Dims& origin) {
      T best = lowest;
      std::int64_t best_index = -1;
      for_each_tap(g, origin, [&](const Dims& coord) {
        T v = src[plane_offset(g, coord, false)];
        if (best_index < 0 || v > best) {  // first maximum wins on ties
          best = v;
          best_index = plane_offset(g, coord, column_major);
        }
      });
      yd[p * out_plane + o] = best;
      // Indices address the whole input tensor, batch and channel included.
      if (id) id[p * out_plane + o] = best_index < 0 ? -1 : p * in_plane + best_index;
    });
  }
}

}  // namespace

void max_pool(KernelContext& c) {
  const Tensor& x = c.in(0);
  if (c.node.attr_int("storage_order", 0) < 0 || c.node.attr_int("storage_order", 0) > 1)
    c.fail("storage_order must be 0 or 1");
  PoolGeometry g = pool_geometry(c, /*allow_dilations=*/true);
  const bool want_indices = c.node.outputs.size() > 1 && !c.node.outputs[1].empty();
  Shape out_shape = pool_output_shape(x, g);
  c.output(0, x.dtype(), out_shape);
  if (want_indices) c.output(1, DType::i64, out_shape);
  if (x.dtype() == DType::boolean || x.dtype() == DType::i32 || x.dtype() == DType::i64)
    c.unsupported("MaxPool on dtype " + dtype_name(x.dtype()));
  if (c.shape_only) return;
  dispatch_numeric(c, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    max_pool_typed<T>(c, g, want_indices);
  });
}

void average_pool(KernelContext& c) {
  require_float(c, 0);
  const Tensor& x = c.in(0);
  // Dilations arrived in AveragePool-19; older models never set the attribute.
  PoolGeometry g = pool_geometry(c, /*allow_dilations=*/true);
  const bool include_pad = c.node.attr_int("count_include_pad", 0) != 0;
  Tensor& y = c.output(0, DType::f32, pool_output_shape(x, g));
  if (c.shape_only) return;

  const float* xd = x.data<float>();
  float* yd = y.data<float>();
  const std::int64_t planes = x.dim(0) * x.dim(1);
  const std::int64_t in_plane = shape_numel(g.in);
  const std::int64_t out_plane = shape_numel(g.out);
  for (std::int64_t p = 0; p < planes; ++p) {
    const float* src = xd + p * in_plane;
    for_each_window(g, [&](std::int64_t o, const Dims& origin) {
      double sum = 0;
      std::int64_t count = 0;
      for_each_tap(g, origin, [&](const Dims& coord) {
        sum += src[plane_offset(g, coord, false)];
        ++count;
      });
      if (include_pad) {
        // count_include_pad counts the explicit pads, but not the ceil_mode overhang that
        // reaches beyond them.
        count = 1;
        for (int i = 0; i < g.k; ++i)
          count *= taps_between(origin[i], g.dilations[i], g.kernel[i], -g.pad_begin[i],
                                g.in[i] + g.pad_end[i]);
      }
      yd[p * out_plane + o] =
          count > 0 ? static_cast<float>(sum / static_cast<double>(count)) : 0.f;
    });
  }
}

namespace {

// Output shape [N, C, 1, ..., 1] of the global pools.
Shape global_pool_shape(const KernelContext& c) {
  const Tensor& x = c.in(0);
  if (x.rank() < 2)
    c.fail("input must have rank >= 2 ([N, C, ...]), got " + shape_to_string(x.shape()));
  Shape s = x.shape();
  for (int i = 2; i < x.rank(); ++i) s[i] = 1;
  return s;
}

}  // namespace

void global_average_pool(KernelContext& c) {
  require_float(c, 0);
  const Tensor& x = c.in(0);
  Tensor& y = c.output(0, DType::f32, global_pool_shape(c));
  if (c.shape_only) return;
  const std::int64_t planes = x.dim(0) * x.dim(1);
  const std::int64_t plane = planes == 0 ? 0 : x.numel() / planes;
  const float* xd = x.data<float>();
  float* yd = y.data<float>();
  for (std::int64_t p = 0; p < planes; ++p) {
    double sum = 0;
    for (std::int64_t i = 0; i < plane; ++i) sum += xd[p * plane + i];
    yd[p] = plane > 0 ? static_cast<float>(sum / static_cast<double>(plane)) : 0.f;
  }
}

void global_max_pool(KernelContext& c) {
  const Tensor& x = c.in(0);
  Tensor& y = c.output(0, x.dtype(), global_pool_shape(c));
  if (x.dtype() == DType::boolean) c.unsupported("GlobalMaxPool on dtype bool");
  if (c.shape_only) return;
  const std::int64_t planes = x.dim(0) * x.dim(1);
  const std::int64_t plane = planes == 0 ? 0 : x.numel() / planes;
  dispatch_numeric(c, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xd = x.data<T>();
    T* yd = y.data<T>();
    for (std::int64_t p = 0; p < planes; ++p) {
      T best = std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                    : std::numeric_limits<T>::lowest();
      for (std::int64_t i = 0; i < plane; ++i) best = std::max(best, xd[p * plane + i]);
      yd[p] = best;
    }
  });
}

}  // namespace qs::kernels
