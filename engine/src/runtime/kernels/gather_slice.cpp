// Reference kernels that select or assemble parts of tensors: Concat, Split, Slice, Gather, Pad.
// All are dtype-generic and move whole elements as bytes.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/kernel_util.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/slice_window.h"

namespace qs::kernels {

namespace {

const std::byte* bytes_of(const Tensor& t) {
  return static_cast<const std::byte*>(t.raw());
}
std::byte* bytes_of(Tensor& t) {
  return static_cast<std::byte*>(t.raw());
}

std::int64_t product(const Shape& s, int from, int to) {
  return shape_numel(Shape(s.begin() + from, s.begin() + to));
}

// Copies a block of `rows` rows of `row_elems` elements each from src (row stride src_stride) to
// dst (row stride dst_stride); strides and sizes are in elements.
void copy_rows(std::byte* dst, std::int64_t dst_stride, const std::byte* src,
               std::int64_t src_stride, std::int64_t rows, std::int64_t row_elems, std::size_t es) {
  if (row_elems == 0) return;
  for (std::int64_t r = 0; r < rows; ++r)
    std::memcpy(dst + r * dst_stride * es, src + r * src_stride * es, row_elems * es);
}

}  // namespace

void concat(KernelContext& c) {
  if (!c.node.has_attr("axis")) c.fail("attribute 'axis' is required");
  if (c.input_count() == 0) c.fail("needs at least one input");
  for (int i = 0; i < c.input_count(); ++i)
    if (!c.has(i)) c.fail("input " + std::to_string(i) + " is missing");
  const Tensor& first = c.in(0);
  const int rank = first.rank();
  if (rank == 0) c.fail("cannot concatenate scalars");
  const int axis = normalize_axis(c, c.node.attr_int("axis", 0), rank);
  Shape out_shape = first.shape();
  out_shape[axis] = 0;
  for (int i = 0; i < c.input_count(); ++i) {
    const Tensor& t = c.in(i);
    if (t.dtype() != first.dtype())
      c.fail("input " + std::to_string(i) + " has dtype " + dtype_name(t.dtype()) + ", expected " +
             dtype_name(first.dtype()));
    bool same = t.rank() == rank;
    for (int d = 0; same && d < rank; ++d) same = d == axis || t.dim(d) == first.dim(d);
    if (!same)
      c.fail("input shapes " + shape_to_string(first.shape()) + " and " +
             shape_to_string(t.shape()) + " differ outside axis " + std::to_string(axis));
    out_shape[axis] += t.dim(axis);
  }
  Tensor& y = c.output(0, first.dtype(), out_shape);
  if (c.shape_only) return;

  // Viewed as [outer, axis * inner], each input fills a column band of every output row.
  const std::size_t es = dtype_size(first.dtype());
  const std::int64_t outer = product(out_shape, 0, axis);
  const std::int64_t inner = product(out_shape, axis + 1, rank);
  const std::int64_t out_row = out_shape[axis] * inner;
  std::int64_t col = 0;
  for (int i = 0; i < c.input_count(); ++i) {
    const Tensor& t = c.in(i);
    const std::int64_t row = t.dim(axis) * inner;
    copy_rows(bytes_of(y) + col * es, out_row, bytes_of(t), row, outer, row, es);
    col += row;
  }
}

void split(KernelContext& c) {
  const Tensor& x = c.in(0);
  if (x.rank() == 0) c.fail("cannot split a scalar");
  const int axis = normalize_axis(c, c.node.attr_int("axis", 0), x.rank());
  const std::int64_t dim = x.dim(axis);
  const int n_out = static_cast<int>(c.node.outputs.size());
  if (n_out == 0) c.fail("has no outputs");

  std::vector<std::int64_t> sizes;
  if (c.opset >= 13) {
    if (c.has(1)) sizes = c.in_ints(1);
  } else {
    sizes = c.node.attr_ints("split");
  }
  if (sizes.empty()) {
    if (c.opset >= 18 && c.node.has_attr("num_outputs")) {
      // num_outputs: chunks of ceil(dim / n), the last one possibly smaller.
      const std::int64_t n = c.node.attr_int("num_outputs", 0);
      if (n != n_out)
        c.fail("num_outputs " + std::to_string(n) + " does not match the " + std::to_string(n_out) +
               " outputs");
      const std::int64_t chunk = (dim + n - 1) / n;
      std::int64_t left = dim;
      for (int i = 0; i < n_out; ++i) {
        sizes.push_back(std::min(chunk, left));
        left -= sizes.back();
      }
    } else {
      if (dim % n_out != 0)
        c.fail("dimension " + std::to_string(dim) + " of axis " + std::to_string(axis) +
               " does not split evenly into " + std::to_string(n_out) + " outputs");
      sizes.assign(n_out, dim / n_out);
    }
  }
  if (static_cast<int>(sizes.size()) != n_out)
    c.fail("split " + shape_to_string(sizes) + " does not match the " + std::to_string(n_out) +
           " outputs");
  std::int64_t total = 0;
  for (std::int64_t s : sizes) {
    if (s < 0 || s > dim) c.fail("split " + shape_to_string(sizes) + " has an invalid size");
    total += s;
  }
  if (total != dim)
    c.fail("split " + shape_to_string(sizes) + " does not add up to dimension " +
           std::to_string(dim));

  for (int i = 0; i < n_out; ++i) {
    Shape s = x.shape();
    s[axis] = sizes[i];
    c.output(i, x.dtype(), s);
  }
  if (c.shape_only) return;
  const std::size_t es = dtype_size(x.dtype());
  const std::int64_t outer = product(x.shape(), 0, axis);
  const std::int64_t inner = product(x.shape(), axis + 1, x.rank());
  const std::int64_t in_row = dim * inner;
  std::int64_t col = 0;
  for (int i = 0; i < n_out; ++i) {
    const std::int64_t row = sizes[i] * inner;
    copy_rows(bytes_of(c.outputs[i]), row, bytes_of(x) + col * es, in_row, outer, row, es);
    col += row;
  }
}

void slice(KernelContext& c) {
  const Tensor& x = c.in(0);
  const int rank = x.rank();
  std::vector<std::int64_t> starts, ends, axes, steps;
  if (c.opset < 10) {
    starts = c.node.attr_ints("starts");
    ends = c.node.attr_ints("ends");
    axes = c.node.attr_ints("axes");
  } else {
    starts = c.in_ints(1);
    ends = c.in_ints(2);
    if (c.has(3)) axes = c.in_ints(3);
    if (c.has(4)) steps = c.in_ints(4);
  }
  const std::size_t n = starts.size();
  if (ends.size() != n)
    c.fail("starts and ends have different lengths (" + std::to_string(n) + " and " +
           std::to_string(ends.size()) + ")");
  if (axes.empty())
    for (std::size_t i = 0; i < n; ++i) axes.push_back(static_cast<std::int64_t>(i));
  if (steps.empty()) steps.assign(n, 1);
  if (axes.size() != n || steps.size() != n)
    c.fail("starts, ends, axes and steps must have the same length");

  std::vector<SliceAxis> plan(rank);
  for (int d = 0; d < rank; ++d) plan[d] = {0, 1, x.dim(d)};
  std::vector<bool> seen(rank, false);
  for (std::size_t i = 0; i < n; ++i) {
    const int a = normalize_axis(c, axes[i], rank);
    if (rank == 0) c.fail("cannot slice a scalar");
    if (seen[a]) c.fail("axis " + std::to_string(axes[i]) + " is listed twice");
    seen[a] = true;
    if (steps[i] == 0) c.fail("steps must not be 0");
    plan[a] = resolve_slice_axis(starts[i], ends[i], steps[i], x.dim(a));
  }
  Shape out_shape(rank);
  for (int d = 0; d < rank; ++d) out_shape[d] = plan[d].count;
  Tensor& y = c.output(0, x.dtype(), out_shape);
  if (c.shape_only) return;

  // Walk the output; the input offset moves by step * stride along each axis.
  const std::vector<std::int64_t> xs = strides_of(x.shape());
  std::int64_t off = 0;
  std::vector<std::int64_t> delta(rank);
  for (int d = 0; d < rank; ++d) {
    off += plan[d].start * xs[d];
    // A huge step with a single element is never taken (and would overflow if multiplied).
    delta[d] = plan[d].count > 1 ? plan[d].step * xs[d] : 0;
  }
  const std::size_t es = dtype_size(x.dtype());
  const std::byte* src = bytes_of(x);
  std::byte* dst = bytes_of(y);
  // The innermost dimensions taken whole, and the one outside them read with step 1, are one
  // contiguous run per outer index: copied with one memcpy (Swin's window shifts slice the
  // height and width of [1,56,56,96], ViT's q/k/v split the last axis).
  int inner = rank;
  std::int64_t run = 1;
  while (inner > 0) {
    const int d = inner - 1;
    if (plan[d].step != 1 && plan[d].count > 1) break;
    run *= plan[d].count;
    --inner;
    if (plan[d].count != x.dim(d)) break;  // a partial axis ends the run
  }
  const Shape outer(out_shape.begin(), out_shape.begin() + inner);
  const std::vector<std::int64_t> outer_delta(delta.begin(), delta.begin() + inner);
  const std::vector<std::int64_t> offsets = strided_offsets(outer, outer_delta, off);
  const std::size_t run_bytes = static_cast<std::size_t>(run) * es;
  if (run_bytes == 0) return;
  for (std::size_t k = 0; k < offsets.size(); ++k)
    std::memcpy(dst + k * run_bytes, src + offsets[k] * es, run_bytes);
}

void gather(KernelContext& c) {
  const Tensor& data = c.in(0);
  const Tensor& indices = c.in(1);
  if (data.rank() == 0) c.fail("data must have rank >= 1");
  if (indices.dtype() != DType::i64 && indices.dtype() != DType::i32)
    c.fail("indices must be int32 or int64, got " + dtype_name(indices.dtype()));
  const int axis = normalize_axis(c, c.node.attr_int("axis", 0), data.rank());
  Shape out_shape(data.shape().begin(), data.shape().begin() + axis);
  out_shape.insert(out_shape.end(), indices.shape().begin(), indices.shape().end());
  out_shape.insert(out_shape.end(), data.shape().begin() + axis + 1, data.shape().end());
  Tensor& y = c.output(0, data.dtype(), out_shape);
  if (c.shape_only) return;

  const std::int64_t dim = data.dim(axis);
  std::vector<std::int64_t> idx = indices.to_i64();
  for (std::int64_t& i : idx) {
    if (i < -dim || i >= dim)
      c.fail("index " + std::to_string(i) + " is out of range for axis " + std::to_string(axis) +
             " of size " + std::to_string(dim));
    if (i < 0) i += dim;
  }
  const std::size_t es = dtype_size(data.dtype());
  const std::int64_t outer = product(data.shape(), 0, axis);
  const std::int64_t inner = product(data.shape(), axis + 1, data.rank());
  const std::int64_t m = static_cast<std::int64_t>(idx.size());
  const std::byte* src = bytes_of(data);
  std::byte* dst = bytes_of(y);
  if (inner == 0) return;
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::int64_t j = 0; j < m; ++j)
      std::memcpy(dst + ((o * m + j) * inner) * es, src + ((o * dim + idx[j]) * inner) * es,
                  inner * es);
}

namespace {

enum class PadMode { constant, reflect, edge, wrap };

// The input index that output index `o` reads along one axis, or -1 for the constant value.
// `i` is o minus the leading pad; the modes differ only outside [0, dim).
std::int64_t pad_source(std::int64_t i, std::int64_t dim, PadMode mode) {
  if (i >= 0 && i < dim) return i;
  switch (mode) {
    case PadMode::constant:
      return -1;
    case PadMode::edge:
      return i < 0 ? 0 : dim - 1;
    case PadMode::wrap:
      return ((i % dim) + dim) % dim;
    case PadMode::reflect: {
      if (dim == 1) return 0;
      // Reflection without repeating the edge has period 2 * (dim - 1).
      const std::int64_t period = 2 * (dim - 1);
      std::int64_t r = ((i % period) + period) % period;
      return r < dim ? r : period - r;
    }
  }
  return -1;
}

// The constant pad value as one element of the data's dtype.
std::vector<std::byte> pad_value_bytes(const KernelContext& c, DType dtype) {
  double fv = 0;
  std::int64_t iv = 0;
  if (c.opset < 11) {
    fv = c.node.attr_float("value", 0.f);
  } else if (c.has(2)) {
    const Tensor& t = c.in(2);
    if (!t.has_data()) c.fail("constant_value is only known at run time");
    if (t.numel() > 1) c.fail("constant_value must hold one value");
    if (t.numel() == 1 && t.dtype() == DType::f32) {
      fv = t.to_f32()[0];
    } else if (t.numel() == 1) {
      iv = t.to_i64()[0];
      fv = static_cast<double>(iv);
    }
  }
  if (fv != static_cast<double>(iv) && std::isfinite(fv) && std::abs(fv) < 9.2e18)
    iv = static_cast<std::int64_t>(fv);
  std::vector<std::byte> out(dtype_size(dtype));
  dispatch_all(c, dtype, [&](auto tag) {
    using T = decltype(tag);
    // Integers go through int64 so that an out-of-range value wraps instead of being undefined.
    T value = std::is_floating_point_v<T> ? static_cast<T>(fv) : static_cast<T>(iv);
    std::memcpy(out.data(), &value, sizeof(T));
  });
  return out;
}

}  // namespace

void pad(KernelContext& c) {
  const Tensor& x = c.in(0);
  const int rank = x.rank();
  const std::string mode_name = c.node.attr_string("mode", "constant");
  PadMode mode;
  if (mode_name == "constant")
    mode = PadMode::constant;
  else if (mode_name == "reflect")
    mode = PadMode::reflect;
  else if (mode_name == "edge")
    mode = PadMode::edge;
  else if (mode_name == "wrap" && c.opset >= 19)
    mode = PadMode::wrap;
  else
    c.fail("unknown mode '" + mode_name + "'");

  std::vector<std::int64_t> pads;
  std::vector<std::int64_t> axes;
  if (c.opset < 11) {
    pads = c.node.attr_ints("pads");
  } else {
    pads = c.in_ints(1);
    if (c.opset >= 18 && c.has(3)) axes = c.in_ints(3);
  }
  if (axes.empty())
    for (int d = 0; d < rank; ++d) axes.push_back(d);
  if (pads.size() != 2 * axes.size())
    c.fail("pads has " + std::to_string(pads.size()) + " values, expected " +
           std::to_string(2 * axes.size()));
  // Per dimension: leading and trailing pads (negative pads crop).
  std::vector<std::int64_t> before(rank, 0), after(rank, 0);
  std::vector<bool> seen(rank, false);
  const std::size_t na = axes.size();
  for (std::size_t i = 0; i < na; ++i) {
    const int a = normalize_axis(c, axes[i], rank);
    if (rank == 0) c.fail("cannot pad a scalar");
    if (seen[a]) c.fail("axis " + std::to_string(axes[i]) + " is listed twice");
    seen[a] = true;
    before[a] = pads[i];
    after[a] = pads[i + na];
  }
  Shape out_shape(rank);
  constexpr std::int64_t kLimit = std::int64_t{1} << 48;
  for (int d = 0; d < rank; ++d) {
    if (std::abs(before[d]) > kLimit || std::abs(after[d]) > kLimit)
      c.fail("pads " + shape_to_string(pads) + " are implausibly large");
    out_shape[d] = x.dim(d) + before[d] + after[d];
    if (out_shape[d] < 0)
      c.fail("pads " + shape_to_string(pads) + " crop more than the input " +
             shape_to_string(x.shape()) + " has");
    const bool pads_outside = before[d] > 0 || after[d] > 0;
    if (mode != PadMode::constant && pads_outside && x.dim(d) == 0)
      c.fail("mode '" + mode_name + "' cannot pad an empty dimension");
  }
  Tensor& y = c.output(0, x.dtype(), out_shape);
  if (c.shape_only) return;

  const std::vector<std::byte> fill = pad_value_bytes(c, x.dtype());
  const std::size_t es = dtype_size(x.dtype());
  const std::vector<std::int64_t> xs = strides_of(x.shape());
  // Per axis, the input offset contribution of each output coordinate (-1: constant pad).
  std::vector<std::vector<std::int64_t>> src_off(rank);
  for (int d = 0; d < rank; ++d) {
    src_off[d].resize(out_shape[d]);
    for (std::int64_t o = 0; o < out_shape[d]; ++o) {
      std::int64_t s = pad_source(o - before[d], x.dim(d), mode);
      src_off[d][o] = s < 0 ? -1 : s * xs[d];
    }
  }
  const std::byte* src = bytes_of(x);
  std::byte* dst = bytes_of(y);
  // Trailing dimensions without pads are copied as one run per outer index (Swin pads height
  // and width of [1,H,W,C]: runs of C values).
  int outer = rank;
  std::int64_t run = 1;
  while (outer > 0 && before[outer - 1] == 0 && after[outer - 1] == 0) run *= x.dim(--outer);
  const std::int64_t runs = run == 0 ? 0 : y.numel() / run;
  std::vector<std::int64_t> idx(outer, 0);
  for (std::int64_t k = 0; k < runs; ++k) {
    std::int64_t off = 0;
    for (int d = 0; d < outer && off >= 0; ++d) {
      const std::int64_t s = src_off[d][idx[d]];
      off = s < 0 ? -1 : off + s;
    }
    std::byte* out = dst + k * run * es;
    if (off >= 0)
      std::memcpy(out, src + off * es, run * es);
    else
      for (std::int64_t r = 0; r < run; ++r) std::memcpy(out + r * es, fill.data(), es);
    for (int d = outer - 1; d >= 0; --d) {
      if (++idx[d] < out_shape[d]) break;
      idx[d] = 0;
    }
  }
}

}  // namespace qs::kernels
