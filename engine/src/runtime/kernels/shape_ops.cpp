// Reference kernels for ops that only move, relabel or create data: Reshape, Flatten, Transpose,
// Squeeze, Unsqueeze, Shape, Identity, Dropout, Expand, Constant, ConstantOfShape, Cast.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/kernel_util.h"
#include "runtime/kernels/kernels.h"

namespace qs::kernels {

namespace {

// Normalizes a list of axes for a tensor of the given rank; fails on repeats.
std::vector<int> unique_axes(const KernelContext& c, const std::vector<std::int64_t>& axes,
                             int rank) {
  if (rank == 0 && !axes.empty()) c.fail("a scalar has no axes");
  std::vector<bool> seen(rank, false);
  std::vector<int> out;
  for (std::int64_t a : axes) {
    int n = normalize_axis(c, a, rank);
    if (seen[n]) c.fail("axis " + std::to_string(a) + " is listed twice");
    seen[n] = true;
    out.push_back(n);
  }
  return out;
}

// Axes of Squeeze/Unsqueeze: an attribute before opset 13, the optional input 1 from then on.
std::vector<std::int64_t> squeeze_axes(const KernelContext& c, bool* given) {
  if (c.opset >= 13) {
    *given = c.has(1);
    return *given ? c.in_ints(1) : std::vector<std::int64_t>{};
  }
  *given = c.node.has_attr("axes");
  return c.node.attr_ints("axes");
}

}  // namespace

void reshape(KernelContext& c) {
  const Tensor& x = c.in(0);
  const std::vector<std::int64_t> spec = c.in_ints(1);
  const bool allow_zero = c.node.attr_int("allowzero", 0) != 0;
  Shape out(spec.size());
  int infer_at = -1;
  bool has_zero = false;
  std::int64_t known = 1;
  for (std::size_t i = 0; i < spec.size(); ++i) {
    std::int64_t d = spec[i];
    if (d == -1) {
      if (infer_at >= 0) c.fail("shape " + shape_to_string(spec) + " has more than one -1");
      infer_at = static_cast<int>(i);
      continue;
    }
    if (d < -1) c.fail("shape " + shape_to_string(spec) + " has a negative dimension");
    if (d == 0 && !allow_zero) {
      // 0 copies the input's dimension at the same position.
      if (static_cast<int>(i) >= x.rank())
        c.fail("shape " + shape_to_string(spec) + " copies dimension " + std::to_string(i) +
               " (0) but the input " + shape_to_string(x.shape()) + " has no such dimension");
      d = x.dim(static_cast<int>(i));
    }
    if (d == 0) has_zero = true;
    out[i] = d;
    if (d != 0 && known > (std::int64_t{1} << 62) / d)
      c.fail("shape " + shape_to_string(spec) + " has too many elements");
    known *= d;
  }
  if (infer_at >= 0) {
    if (allow_zero && has_zero)
      c.fail("shape " + shape_to_string(spec) + " has both 0 and -1 with allowzero=1");
    if (known == 0 || x.numel() % known != 0)
      c.fail("cannot infer the -1 in shape " + shape_to_string(spec) + " for input " +
             shape_to_string(x.shape()));
    out[infer_at] = x.numel() / known;
  } else if (known != x.numel()) {
    c.fail("cannot reshape " + shape_to_string(x.shape()) + " to " + shape_to_string(spec));
  }
  c.set_output(0, x.reshaped(out));
}

void flatten(KernelContext& c) {
  const Tensor& x = c.in(0);
  std::int64_t axis = c.node.attr_int("axis", 1);
  // Unlike most ops, axis may equal the rank here (everything goes to the outer dimension).
  if (axis < -x.rank() || axis > x.rank())
    c.fail("axis " + std::to_string(axis) + " is out of range for rank " +
           std::to_string(x.rank()));
  if (axis < 0) axis += x.rank();
  const Shape& d = x.shape();
  const std::int64_t outer = shape_numel(Shape(d.begin(), d.begin() + axis));
  const std::int64_t inner = shape_numel(Shape(d.begin() + axis, d.end()));
  c.set_output(0, x.reshaped({outer, inner}));
}

void transpose(KernelContext& c) {
  const Tensor& x = c.in(0);
  const int rank = x.rank();
  std::vector<std::int64_t> perm = c.node.attr_ints("perm");
  if (!c.node.has_attr("perm")) {
    for (int i = rank - 1; i >= 0; --i) perm.push_back(i);
  }
  if (static_cast<int>(perm.size()) != rank)
    c.fail("perm " + shape_to_string(perm) + " does not match the input rank " +
           std::to_string(rank));
  std::vector<bool> seen(rank, false);
  for (std::int64_t& p : perm) {
    p = normalize_axis(c, p, rank);
    if (seen[p]) c.fail("perm " + shape_to_string(perm) + " is not a permutation");
    seen[p] = true;
  }
  Shape out_shape(rank);
  for (int i = 0; i < rank; ++i) out_shape[i] = x.dim(static_cast<int>(perm[i]));
  Tensor& y = c.output(0, x.dtype(), out_shape);
  if (c.shape_only) return;

  // Walk the output in order; in_stride[i] is the input stride of output dimension i.
  const std::vector<std::int64_t> x_strides = strides_of(x.shape());
  std::vector<std::int64_t> in_stride(rank);
  for (int i = 0; i < rank; ++i) in_stride[i] = x_strides[perm[i]];
  const std::size_t es = dtype_size(x.dtype());
  const auto* src = static_cast<const std::byte*>(x.raw());
  auto* dst = static_cast<std::byte*>(y.raw());
  const std::vector<std::int64_t> offsets = strided_offsets(out_shape, in_stride);
  for (std::size_t k = 0; k < offsets.size(); ++k)
    std::memcpy(dst + k * es, src + offsets[k] * es, es);
}

void squeeze(KernelContext& c) {
  const Tensor& x = c.in(0);
  bool given = false;
  const std::vector<std::int64_t> axes = squeeze_axes(c, &given);
  std::vector<bool> drop(x.rank(), false);
  if (axes.empty()) {
    // No axes: every dimension of size 1 goes.
    for (int i = 0; i < x.rank(); ++i) drop[i] = x.dim(i) == 1;
  } else {
    for (int a : unique_axes(c, axes, x.rank())) {
      if (x.dim(a) != 1)
        c.fail("cannot squeeze axis " + std::to_string(a) + " of size " + std::to_string(x.dim(a)) +
               " in " + shape_to_string(x.shape()));
      drop[a] = true;
    }
  }
  Shape out;
  for (int i = 0; i < x.rank(); ++i)
    if (!drop[i]) out.push_back(x.dim(i));
  c.set_output(0, x.reshaped(out));
}

void unsqueeze(KernelContext& c) {
  const Tensor& x = c.in(0);
  bool given = false;
  const std::vector<std::int64_t> axes = squeeze_axes(c, &given);
  if (!given || axes.empty()) c.fail("axes are required");
  // The axes index the output, whose rank is the input's plus the number of axes.
  const int out_rank = x.rank() + static_cast<int>(axes.size());
  std::vector<bool> inserted(out_rank, false);
  for (int a : unique_axes(c, axes, out_rank)) inserted[a] = true;
  Shape out(out_rank);
  int next = 0;
  for (int i = 0; i < out_rank; ++i) out[i] = inserted[i] ? 1 : x.dim(next++);
  c.set_output(0, x.reshaped(out));
}

void shape(KernelContext& c) {
  const Tensor& x = c.in(0);
  const std::int64_t rank = x.rank();
  std::int64_t start = 0, end = rank;
  if (c.opset >= 15) {
    // Negative bounds count from the back; both are clamped to [0, rank].
    auto clamp = [rank](std::int64_t v) {
      if (v < 0) v += rank;
      return std::clamp<std::int64_t>(v, 0, rank);
    };
    start = clamp(c.node.attr_int("start", 0));
    end = c.node.has_attr("end") ? clamp(c.node.attr_int("end", rank)) : rank;
  }
  std::vector<std::int64_t> dims;
  for (std::int64_t i = start; i < end; ++i) dims.push_back(x.dim(static_cast<int>(i)));
  // The values are known even while inferring shapes, so downstream shape inputs can use them.
  const std::int64_t n = static_cast<std::int64_t>(dims.size());
  c.set_output(0, Tensor::from_vector<std::int64_t>({n}, dims));
}

void identity(KernelContext& c) {
  c.set_output(0, c.in(0));
}

void dropout(KernelContext& c) {
  // Inference only: training_mode (input 2, opset 12+) must be absent or false, unless the
  // ratio (input 1) is 0, where training mode drops nothing either. Values unknown while
  // inferring shapes do not change the shapes.
  if (c.opset >= 12 && c.has(2) && c.in(2).has_data()) {
    const Tensor& t = c.in(2);
    if (t.numel() != 1) c.fail("training_mode must hold one value");
    const bool training = t.to_f32()[0] != 0.f;
    const bool zero_ratio =
        c.has(1) && c.in(1).has_data() && c.in(1).numel() == 1 && c.in(1).to_f32()[0] == 0.f;
    if (training && !zero_ratio) c.unsupported("Dropout in training mode (random)");
  }
  const Tensor& x = c.in(0);
  c.set_output(0, x);
  if (c.node.outputs.size() > 1 && !c.node.outputs[1].empty()) {
    Tensor& mask = c.output(1, DType::boolean, x.shape());
    if (c.shape_only) return;
    bool* m = mask.data<bool>();
    for (std::int64_t i = 0; i < mask.numel(); ++i) m[i] = true;  // nothing is dropped
  }
}

void expand(KernelContext& c) {
  const Tensor& x = c.in(0);
  const std::vector<std::int64_t> spec = c.in_ints(1);
  for (std::int64_t d : spec)
    if (d < 0) c.fail("shape " + shape_to_string(spec) + " has a negative dimension");
  // Bidirectional: a 1 in the requested shape keeps the input's dimension.
  const Shape out_shape = broadcast_shapes(c, x.shape(), spec);
  Tensor& y = c.output(0, x.dtype(), out_shape);
  if (c.shape_only) return;
  const std::vector<std::int64_t> map = broadcast_index_map(x.shape(), out_shape);
  const std::size_t es = dtype_size(x.dtype());
  const auto* src = static_cast<const std::byte*>(x.raw());
  auto* dst = static_cast<std::byte*>(y.raw());
  for (std::size_t k = 0; k < map.size(); ++k) std::memcpy(dst + k * es, src + map[k] * es, es);
}

void constant(KernelContext& c) {
  const Node& n = c.node;
  Tensor t;
  if (n.has_attr("value")) {
    const Tensor* v = n.attr_tensor("value");
    if (!v) c.fail("attribute 'value' is not a tensor");
    t = *v;
  } else if (n.has_attr("value_float")) {
    t = Tensor::scalar_f32(n.attr_float("value_float", 0.f));
  } else if (n.has_attr("value_floats")) {
    std::vector<float> v = n.attr_floats("value_floats");
    t = Tensor::from_vector<float>({static_cast<std::int64_t>(v.size())}, v);
  } else if (n.has_attr("value_int")) {
    t = Tensor::from_vector<std::int64_t>({}, {n.attr_int("value_int", 0)});
  } else if (n.has_attr("value_ints")) {
    std::vector<std::int64_t> v = n.attr_ints("value_ints");
    t = Tensor::from_vector<std::int64_t>({static_cast<std::int64_t>(v.size())}, v);
  } else if (n.has_attr("value_string") || n.has_attr("value_strings")) {
    c.unsupported("a string Constant");
  } else if (n.has_attr("sparse_value")) {
    c.unsupported("a sparse Constant");
  } else {
    c.fail("no value attribute");
  }
  if (!t.has_data()) c.fail("the value attribute holds no data");
  // Constants are known while inferring shapes too.
  c.set_output(0, t);
}

void constant_of_shape(KernelContext& c) {
  const std::vector<std::int64_t> spec = c.in_ints(0);
  for (std::int64_t d : spec)
    if (d < 0) c.fail("shape " + shape_to_string(spec) + " has a negative dimension");
  Tensor value = Tensor::scalar_f32(0.f);
  if (c.node.has_attr("value")) {
    const Tensor* v = c.node.attr_tensor("value");
    if (!v || !v->has_data() || v->numel() != 1)
      c.fail("attribute 'value' must be a tensor holding one element");
    value = *v;
  }
  // Small results get their values even while inferring shapes (they often feed shapes); the
  // rest is allocated through output(), which refuses large tensors while inferring.
  const std::int64_t n = shape_numel(spec);
  if (c.shape_only && n > kSmallTensorElements) {
    c.output(0, value.dtype(), spec);
    return;
  }
  Tensor y = c.shape_only ? Tensor(value.dtype(), spec) : c.output(0, value.dtype(), spec);
  const std::size_t es = dtype_size(value.dtype());
  auto* dst = static_cast<std::byte*>(y.raw());
  for (std::int64_t i = 0; i < n; ++i) std::memcpy(dst + i * es, value.raw(), es);
  c.set_output(0, y);
}

namespace {

// Element conversion of Cast. Floats go to integers by truncation toward zero (as C does); NaN
// becomes 0 and values beyond int64 saturate, so the conversion is always defined; narrower
// integers then wrap like numpy's astype. Anything to bool is x != 0.
template <typename To, typename From>
To convert(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return v != From{0};
  } else if constexpr (std::is_floating_point_v<From> && !std::is_floating_point_v<To>) {
    if (std::isnan(v)) return To{0};
    constexpr double lim = 9223372036854775808.0;  // 2^63
    const double t = std::trunc(static_cast<double>(v));
    std::int64_t i = t >= lim   ? std::numeric_limits<std::int64_t>::max()
                     : t < -lim ? std::numeric_limits<std::int64_t>::min()
                                : static_cast<std::int64_t>(t);
    return static_cast<To>(i);
  } else {
    return static_cast<To>(v);
  }
}

}  // namespace

void cast(KernelContext& c) {
  const Tensor& x = c.in(0);
  if (!c.node.has_attr("to")) c.fail("attribute 'to' is required");
  const std::int64_t to_onnx = c.node.attr_int("to", 0);
  DType to = DType::undefined;
  try {
    to = dtype_from_onnx(static_cast<int>(to_onnx));
  } catch (const Unsupported&) {
    c.unsupported("Cast to " + onnx_type_name(static_cast<int>(to_onnx)));
  }
  Tensor& y = c.output(0, to, x.shape());
  if (c.shape_only) return;
  const std::int64_t n = x.numel();
  dispatch_all(c, x.dtype(), [&](auto from_tag) {
    using From = decltype(from_tag);
    dispatch_all(c, to, [&](auto to_tag) {
      using To = decltype(to_tag);
      const From* src = x.data<From>();
      To* dst = y.data<To>();
      for (std::int64_t i = 0; i < n; ++i) dst[i] = convert<To>(src[i]);
    });
  });
}

}  // namespace qs::kernels
