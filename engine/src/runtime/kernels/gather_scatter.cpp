// Reference kernels that read or write elements at computed positions: GatherElements,
// GatherND, ScatterElements (and its older name Scatter), ScatterND, DepthToSpace, SpaceToDepth.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/kernel_util.h"
#include "runtime/kernels/kernels.h"

namespace qs::kernels {

namespace {

// Indices of input `i` with negatives wrapped by `dim`; fails naming the one out of range.
std::vector<std::int64_t> checked_indices(const KernelContext& c, int i, std::int64_t dim,
                                          const std::string& what) {
  const Tensor& t = c.in(i);
  if (t.dtype() != DType::i64 && t.dtype() != DType::i32)
    c.fail("indices must be int32 or int64, got " + dtype_name(t.dtype()));
  std::vector<std::int64_t> idx = t.to_i64();
  for (std::int64_t& v : idx) {
    if (v < -dim || v >= dim)
      c.fail("index " + std::to_string(v) + " is out of range for " + what + " of size " +
             std::to_string(dim));
    if (v < 0) v += dim;
  }
  return idx;
}

// Combines an update into the value it lands on (ScatterElements and ScatterND's reduction).
template <typename T>
T combine(const std::string& reduction, T old, T update) {
  if (reduction == "add") return static_cast<T>(old + update);
  if (reduction == "mul") return static_cast<T>(old * update);
  if (reduction == "max") return old > update ? old : update;
  if (reduction == "min") return old < update ? old : update;
  return update;
}

void check_reduction(const KernelContext& c, const std::string& reduction) {
  if (reduction != "none" && reduction != "add" && reduction != "mul" && reduction != "max" &&
      reduction != "min")
    c.fail("reduction '" + reduction + "' is not none, add, mul, max or min");
}

// Element offsets of a [.., axis, ..] tensor of `shape` for every element of `index_shape`,
// with the axis coordinate left out (added by the caller from the index values).
std::vector<std::int64_t> offsets_without_axis(const Shape& shape, const Shape& index_shape,
                                               int axis) {
  std::vector<std::int64_t> strides = strides_of(shape);
  strides[axis] = 0;
  return strided_offsets(index_shape, strides);
}

}  // namespace

void gather_elements(KernelContext& c) {
  const Tensor& data = c.in(0);
  const Tensor& indices = c.in(1);
  if (indices.rank() != data.rank()) c.fail("indices must have the rank of data");
  const int axis = normalize_axis(c, c.node.attr_int("axis", 0), data.rank());
  Tensor& y = c.output(0, data.dtype(), indices.shape());
  if (c.shape_only) return;
  const std::vector<std::int64_t> idx = checked_indices(c, 1, data.dim(axis), "the axis");
  const std::vector<std::int64_t> base = offsets_without_axis(data.shape(), indices.shape(), axis);
  const std::int64_t stride = strides_of(data.shape())[axis];
  const std::size_t es = dtype_size(data.dtype());
  const auto* src = static_cast<const std::byte*>(data.raw());
  auto* dst = static_cast<std::byte*>(y.raw());
  for (std::size_t k = 0; k < idx.size(); ++k)
    std::memcpy(dst + k * es, src + (base[k] + idx[k] * stride) * es, es);
}

void scatter_elements(KernelContext& c) {
  const Tensor& data = c.in(0);
  const Tensor& indices = c.in(1);
  const Tensor& updates = c.in(2);
  if (indices.shape() != updates.shape()) c.fail("indices and updates must have one shape");
  if (indices.rank() != data.rank()) c.fail("indices must have the rank of data");
  const int axis = normalize_axis(c, c.node.attr_int("axis", 0), data.rank());
  const std::string reduction = c.node.attr_string("reduction", "none");
  check_reduction(c, reduction);
  Tensor& y = c.output(0, data.dtype(), data.shape());
  if (c.shape_only) return;
  std::memcpy(y.raw(), data.raw(), data.size_bytes());
  const std::vector<std::int64_t> idx = checked_indices(c, 1, data.dim(axis), "the axis");
  const std::vector<std::int64_t> base = offsets_without_axis(data.shape(), indices.shape(), axis);
  const std::int64_t stride = strides_of(data.shape())[axis];
  dispatch_all(c, data.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* py = y.data<T>();
    const T* pu = updates.data<T>();
    for (std::size_t k = 0; k < idx.size(); ++k) {
      T& slot = py[base[k] + idx[k] * stride];
      slot = combine(reduction, slot, pu[k]);
    }
  });
}

void gather_nd(KernelContext& c) {
  const Tensor& data = c.in(0);
  const Tensor& indices = c.in(1);
  const std::int64_t batch_dims = c.node.attr_int("batch_dims", 0);
  if (indices.rank() < 1) c.fail("indices must have rank >= 1");
  const std::int64_t depth = indices.dim(indices.rank() - 1);
  if (batch_dims < 0 || batch_dims + depth > data.rank() || batch_dims >= indices.rank())
    c.fail("indices' last dimension " + std::to_string(depth) + " and batch_dims " +
           std::to_string(batch_dims) + " do not fit data of rank " + std::to_string(data.rank()));
  Shape shape(indices.shape().begin(), indices.shape().end() - 1);
  shape.insert(shape.end(), data.shape().begin() + batch_dims + depth, data.shape().end());
  Tensor& y = c.output(0, data.dtype(), shape);
  if (c.shape_only) return;
  std::int64_t batches = 1, slice = 1;
  for (int d = 0; d < batch_dims; ++d) batches *= data.dim(d);
  for (int d = static_cast<int>(batch_dims + depth); d < data.rank(); ++d) slice *= data.dim(d);
  const std::int64_t per_batch_data = data.numel() / std::max<std::int64_t>(batches, 1);
  const std::int64_t tuples = depth == 0 ? 0 : indices.numel() / depth;
  const std::int64_t tuples_per_batch = tuples / std::max<std::int64_t>(batches, 1);
  const std::vector<std::int64_t> idx = indices.to_i64();
  const std::vector<std::int64_t> strides = strides_of(data.shape());
  const std::size_t es = dtype_size(data.dtype());
  const auto* src = static_cast<const std::byte*>(data.raw());
  auto* dst = static_cast<std::byte*>(y.raw());
  for (std::int64_t t = 0; t < tuples; ++t) {
    std::int64_t from = (t / std::max<std::int64_t>(tuples_per_batch, 1)) * per_batch_data;
    for (std::int64_t j = 0; j < depth; ++j) {
      const std::int64_t dim = data.dim(static_cast<int>(batch_dims + j));
      std::int64_t v = idx[t * depth + j];
      if (v < -dim || v >= dim) c.fail("index " + std::to_string(v) + " is out of range");
      if (v < 0) v += dim;
      from += v * strides[batch_dims + j];
    }
    std::memcpy(dst + t * slice * es, src + from * es, slice * es);
  }
}

void scatter_nd(KernelContext& c) {
  const Tensor& data = c.in(0);
  const Tensor& indices = c.in(1);
  const Tensor& updates = c.in(2);
  const std::string reduction = c.node.attr_string("reduction", "none");
  check_reduction(c, reduction);
  if (indices.rank() < 1) c.fail("indices must have rank >= 1");
  const std::int64_t depth = indices.dim(indices.rank() - 1);
  if (depth > data.rank()) c.fail("indices' last dimension exceeds the rank of data");
  Tensor& y = c.output(0, data.dtype(), data.shape());
  if (c.shape_only) return;
  std::memcpy(y.raw(), data.raw(), data.size_bytes());
  std::int64_t slice = 1;
  for (int d = static_cast<int>(depth); d < data.rank(); ++d) slice *= data.dim(d);
  const std::int64_t tuples = depth == 0 ? 1 : indices.numel() / depth;
  if (updates.numel() != tuples * slice) c.fail("updates do not match indices and data");
  const std::vector<std::int64_t> idx = indices.to_i64();
  const std::vector<std::int64_t> strides = strides_of(data.shape());
  dispatch_all(c, data.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* py = y.data<T>();
    const T* pu = updates.data<T>();
    for (std::int64_t t = 0; t < tuples; ++t) {
      std::int64_t to = 0;
      for (std::int64_t j = 0; j < depth; ++j) {
        const std::int64_t dim = data.dim(static_cast<int>(j));
        std::int64_t v = idx[t * depth + j];
        if (v < -dim || v >= dim) c.fail("index " + std::to_string(v) + " is out of range");
        if (v < 0) v += dim;
        to += v * strides[j];
      }
      for (std::int64_t s = 0; s < slice; ++s)
        py[to + s] = combine(reduction, py[to + s], pu[t * slice + s]);
    }
  });
}

namespace {

// DepthToSpace and SpaceToDepth: y is a permutation of x viewed as a 6D tensor.
void rearrange(KernelContext& c, bool to_space) {
  const Tensor& x = c.in(0);
  if (x.rank() != 4) c.fail("input must be 4D (NCHW)");
  const std::int64_t b = c.node.attr_int("blocksize", 0);
  if (b < 1) c.fail("blocksize must be positive");
  const std::int64_t n = x.dim(0), ch = x.dim(1), h = x.dim(2), w = x.dim(3);
  const bool crd = c.node.attr_string("mode", "DCR") == "CRD";
  Shape shape;
  if (to_space) {
    if (ch % (b * b) != 0) c.fail("channels must be a multiple of blocksize^2");
    shape = {n, ch / (b * b), h * b, w * b};
  } else {
    if (h % b != 0 || w % b != 0) c.fail("height and width must be multiples of blocksize");
    shape = {n, ch * b * b, h / b, w / b};
  }
  Tensor& y = c.output(0, x.dtype(), shape);
  if (c.shape_only) return;
  const std::size_t es = dtype_size(x.dtype());
  const auto* src = static_cast<const std::byte*>(x.raw());
  auto* dst = static_cast<std::byte*>(y.raw());
  // Walk the space-side tensor [n, c', H, W]; its depth-side channel for block (i, j).
  const Shape& space = to_space ? shape : x.shape();
  const std::int64_t c_small = space[1], hs = space[2], ws = space[3];
  const std::int64_t c_big = c_small * b * b, hd = hs / b, wd = ws / b;
  for (std::int64_t in = 0; in < n; ++in)
    for (std::int64_t k = 0; k < c_small; ++k)
      for (std::int64_t yy = 0; yy < hs; ++yy)
        for (std::int64_t xx = 0; xx < ws; ++xx) {
          const std::int64_t i = yy % b, j = xx % b;
          const std::int64_t depth_c = crd ? k * b * b + i * b + j : (i * b + j) * c_small + k;
          const std::int64_t space_at = ((in * c_small + k) * hs + yy) * ws + xx;
          const std::int64_t depth_at = ((in * c_big + depth_c) * hd + yy / b) * wd + xx / b;
          if (to_space)
            std::memcpy(dst + space_at * es, src + depth_at * es, es);
          else
            std::memcpy(dst + depth_at * es, src + space_at * es, es);
        }
}

}  // namespace

void depth_to_space(KernelContext& c) {
  rearrange(c, true);
}
void space_to_depth(KernelContext& c) {
  rearrange(c, false);
}

}  // namespace qs::kernels
