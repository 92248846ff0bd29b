#include <algorithm>

#include "runtime/kernel.h"
#include "runtime/kernel_util.h"

namespace qs::kernels {

[[noreturn]] void KernelContext::fail(const std::string& what) const {
  throw Error("node '" + node.name + "' (" + node.op_type + "): " + what);
}

[[noreturn]] void KernelContext::unsupported(const std::string& what) const {
  throw Unsupported("node '" + node.name + "' (" + node.op_type + "): " + what +
                    " is not supported");
}

const Tensor& KernelContext::in(int i) const {
  if (!has(i)) fail("input " + std::to_string(i) + " is missing");
  return *inputs[i];
}

Tensor& KernelContext::output(int i, DType dtype, Shape shape) {
  if (static_cast<int>(outputs.size()) <= i) outputs.resize(i + 1);
  for (std::int64_t d : shape)
    if (d < 0) fail("computed a negative output dimension " + shape_to_string(shape));
  if (small_outputs_only && !shape_only && shape_numel(shape) > kSmallTensorElements)
    throw OutputTooLargeToPrecompute{};
  try {
    outputs[i] =
        shape_only ? Tensor::meta(dtype, std::move(shape)) : Tensor(dtype, std::move(shape));
  } catch (const std::bad_alloc&) {
    fail("out of memory allocating an output of " + shape_to_string(shape));
  } catch (const Error& e) {
    fail(e.what());
  }
  return outputs[i];
}

void KernelContext::set_output(int i, Tensor t) {
  if (static_cast<int>(outputs.size()) <= i) outputs.resize(i + 1);
  if (shape_only && t.has_data() && t.numel() > kSmallTensorElements)
    t = Tensor::meta(t.dtype(), t.shape());
  outputs[i] = std::move(t);
}

std::vector<std::int64_t> KernelContext::in_ints(int i) const {
  const Tensor& t = in(i);
  if (!t.has_data())
    throw DataDependentShape("node '" + node.name + "' (" + node.op_type + "): input '" +
                             node.inputs[i] +
                             "' determines an output shape but is only known at run time");
  if (t.dtype() == DType::f32) fail("input '" + node.inputs[i] + "' must be an integer tensor");
  return t.to_i64();
}

std::vector<float> KernelContext::in_floats(int i) const {
  const Tensor& t = in(i);
  if (!t.has_data())
    throw DataDependentShape("node '" + node.name + "' (" + node.op_type + "): input '" +
                             node.inputs[i] +
                             "' determines an output shape but is only known at run time");
  return t.to_f32();
}

float KernelContext::in_scalar_f32(int i) const {
  const Tensor& t = in(i);
  if (t.numel() != 1) fail("input '" + node.inputs[i] + "' must hold one value");
  return t.to_f32()[0];
}

int normalize_axis(const KernelContext& c, std::int64_t axis, int rank) {
  if (axis < -rank || axis >= std::max(rank, 1))
    c.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

Shape broadcast_shapes(const KernelContext& c, const Shape& a, const Shape& b) {
  std::size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    std::int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    std::int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      c.fail("shapes " + shape_to_string(a) + " and " + shape_to_string(b) + " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<std::int64_t> strides_of(const Shape& shape) {
  std::vector<std::int64_t> s(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

std::vector<std::int64_t> strided_offsets(const Shape& shape,
                                          const std::vector<std::int64_t>& strides,
                                          std::int64_t base) {
  const int rank = static_cast<int>(shape.size());
  std::vector<std::int64_t> offsets(static_cast<std::size_t>(shape_numel(shape)));
  std::vector<std::int64_t> idx(rank, 0);
  std::int64_t flat = base;
  for (std::int64_t& out : offsets) {
    out = flat;
    for (int d = rank - 1; d >= 0; --d) {
      if (++idx[d] < shape[d]) {
        flat += strides[d];
        break;
      }
      flat -= strides[d] * (shape[d] - 1);
      idx[d] = 0;
    }
  }
  return offsets;
}

std::vector<std::int64_t> broadcast_index_map(const Shape& in_shape, const Shape& out_shape) {
  const std::size_t offset = out_shape.size() - in_shape.size();
  const std::vector<std::int64_t> in_strides = strides_of(in_shape);
  // Stride 0 along broadcast dimensions.
  std::vector<std::int64_t> strides(out_shape.size(), 0);
  for (std::size_t i = 0; i < in_shape.size(); ++i)
    strides[i + offset] = in_shape[i] == 1 ? 0 : in_strides[i];
  return strided_offsets(out_shape, strides);
}

void require_dtype(const KernelContext& c, int input, DType dtype) {
  if (c.in(input).dtype() != dtype)
    c.unsupported("input '" + c.node.inputs[input] + "' of dtype " +
                  dtype_name(c.in(input).dtype()) + " (expected " + dtype_name(dtype) + ")");
}

void require_float(const KernelContext& c, int input) {
  require_dtype(c, input, DType::f32);
}

}  // namespace qs::kernels
