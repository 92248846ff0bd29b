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
#include "runtime/kernels/conv_geometry.h"
#include "runtime/kernels/kernels.h"

namespace qs::kernels {

namespace {

using Dims = std::vector<std::int64_t>;

using PoolGeometry = WindowGeometry;

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
  Dims pos(g.spatial_rank(), 0);
  Dims origin(g.spatial_rank());
  for (std::int64_t o = 0; o < count; ++o) {
    for (int i = 0; i < g.spatial_rank(); ++i) origin[i] = pos[i] * g.strides[i] - g.pad_begin[i];
    fn(o, origin);
    for (int i = g.spatial_rank() - 1; i >= 0; --i) {
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
  first.assign(g.spatial_rank(), 0);
  count.assign(g.spatial_rank(), 0);
  step.assign(g.spatial_rank(), 0);
  coord.assign(g.spatial_rank(), 0);
  for (int i = 0; i < g.spatial_rank(); ++i) {
    count[i] = taps_between(origin[i], g.dilations[i], g.kernel[i], 0, g.in[i], &first[i]);
    if (count[i] == 0) return;
  }
  for (;;) {
    for (int i = 0; i < g.spatial_rank(); ++i)
      coord[i] = origin[i] + (first[i] + step[i]) * g.dilations[i];
    fn(coord);
    int i = g.spatial_rank() - 1;
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
    for (int i = g.spatial_rank() - 1; i >= 0; --i) off = off * g.in[i] + coord[i];
  } else {
    for (int i = 0; i < g.spatial_rank(); ++i) off = off * g.in[i] + coord[i];
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
  PoolGeometry g = pool_geometry(c, c.in(0).shape());
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
  PoolGeometry g = pool_geometry(c, c.in(0).shape());
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
        for (int i = 0; i < g.spatial_rank(); ++i)
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
