// Helpers shared by the reference kernels: axis handling, broadcasting, dtype dispatch.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/kernel.h"

namespace qs::kernels {

// Normalizes a possibly negative axis for a tensor of the given rank; fails naming the node.
int normalize_axis(const KernelContext& c, std::int64_t axis, int rank);
// Numpy-style broadcast of two shapes; fails naming the node when they do not broadcast.
Shape broadcast_shapes(const KernelContext& c, const Shape& a, const Shape& b);
// Row-major strides of a shape.
std::vector<std::int64_t> strides_of(const Shape& shape);
// Walks `shape` in row-major order and returns, for each element, base + sum(index[d] *
// strides[d]): the offsets of a strided view (broadcast, transpose, slice, reduction).
std::vector<std::int64_t> strided_offsets(const Shape& shape,
                                          const std::vector<std::int64_t>& strides,
                                          std::int64_t base = 0);
// For each element of out_shape, the flat index into a tensor of in_shape broadcast to it.
std::vector<std::int64_t> broadcast_index_map(const Shape& in_shape, const Shape& out_shape);

// Calls fn(T{}) with T the C++ type of dtype, for the dtypes the kernels compute in.
template <typename Fn>
void dispatch_numeric(const KernelContext& c, DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::f32:
      fn(float{});
      return;
    case DType::i64:
      fn(std::int64_t{});
      return;
    case DType::i32:
      fn(std::int32_t{});
      return;
    case DType::i8:
      fn(std::int8_t{});
      return;
    case DType::u8:
      fn(std::uint8_t{});
      return;
    default:
      c.unsupported("dtype " + dtype_name(dtype));
  }
}
template <typename Fn>
void dispatch_all(const KernelContext& c, DType dtype, Fn&& fn) {
  if (dtype == DType::boolean) {
    fn(bool{});
    return;
  }
  dispatch_numeric(c, dtype, fn);
}

// Fails unless the input has the given dtype.
void require_dtype(const KernelContext& c, int input, DType dtype);
void require_float(const KernelContext& c, int input);

}  // namespace qs::kernels
