// Shared helpers of the cpu-onednn device: memory descriptors, op support and geometry.
#pragma once

#include <dnnl.hpp>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "quantscope/graph.h"

namespace qs::onednn {

using dims = dnnl::memory::dims;

// Dtype and shape (a meta tensor) of a named value, or nullptr when unknown.
using ShapeOf = std::function<const Tensor*(const std::string&)>;

// Row-major f32 descriptor; a scalar becomes {1} (oneDNN has no rank 0).
dnnl::memory::desc plain_md(const Shape& shape);
// Row-major f32 descriptor of `shape` left-padded with 1s to `rank`.
dnnl::memory::desc padded_md(const Shape& shape, int rank);
dnnl::memory::desc any_md(const Shape& shape);

// Whether a binary post-op with this operand runs in oneDNN's JIT kernels after `anchor` (an op
// type): a scalar, the full shape, or one value per channel (fusion.cpp).
bool post_op_operand_is_fast(const Shape& dst, const Shape& operand, const std::string& anchor);
// `full` and an operand that broadcasts to it, with adjacent dimensions merged where the operand
// is broadcast in all or in none of them: [64,3,49,49] and [3,49,49] give [64,7203], [1,7203].
std::pair<Shape, Shape> merged_broadcast(const Shape& full, const Shape& operand);
dims to_dims(const Shape& shape);

// An initializer, or the value of a Constant node; nullptr otherwise.
const Tensor* constant_value(const Graph& graph, const std::string& name);
// Constants first, with their values (Slice's starts, Pad's amounts), then `shapes` (inferred
// shapes, and values computed from the input shapes); both must outlive the result.
ShapeOf constants_then(const Graph& graph, const std::map<std::string, Tensor>& shapes);

struct EltwiseOp {
  dnnl::algorithm alg;
  float alpha = 0, beta = 0;
};
// Fills `ops` with the oneDNN eltwise ops computing `node` (HardSigmoid needs two); returns
// why not when the node is no such op.
std::string eltwise_ops(const Graph& graph, const Node& node, std::vector<EltwiseOp>& ops);
bool is_binary_op(const std::string& op);
// Flatten, Reshape, Squeeze, Unsqueeze, Identity, Cast (f32 to f32), inference Dropout, and
// Max/Min/Sum/Mean of one input: the same row-major elements, under other dims or not.
bool is_view_op(const Graph& graph, const Node& node);
// Max, Min, Sum, Mean: elementwise over any number of inputs.
bool is_variadic_op(const std::string& op);
// ReduceMean, ReduceSum, ReduceMax, ... (steps_reduce.cpp).
bool is_reduce_op(const std::string& op);
dnnl::algorithm binary_alg(const std::string& op);

// Spatial geometry of a Conv or a pool, in oneDNN terms (dilation counts the gaps: d - 1).
struct Geometry {
  dims kernel, strides, dilations, pad_begin, pad_end, out;
  bool overhang = false;  // ceil_mode needed more trailing padding than `pads` gave
};
// The engine's windows (quantscope/window_geometry.h) in oneDNN's terms (geometry.cpp);
// "" or why not.
std::string conv_geometry(const Node& node, const Shape& x, const Shape& w, Geometry& g);
std::string pool_geometry(const Node& node, const Shape& x, Geometry& g);
std::string deconv_geometry(const Node& node, const Shape& x, const Shape& w, Geometry& g);
// Why a ConvTranspose with input shapes `in` does not run (steps_deconv.cpp).
std::string deconv_unsupported(const Node& node, const std::vector<Shape>& in);

// Why the device does not run `node` with the shapes given by shape_of; "" when it does.
std::string unsupported(const Graph& graph, const Node& node, const ShapeOf& shape_of);

// Why a node with input shapes `in` (and output shape `y`) does not run; "" when it does.
std::string concat_unsupported(const Graph& graph, const Node& node,
                               const std::vector<Shape>& in);                    // steps_layout
std::string space_depth_unsupported(const Node& node, const Shape& x);           // steps_layout
std::string variadic_unsupported(const std::vector<Shape>& in, const Shape& y);  // steps_simple
std::string prelu_unsupported(const std::vector<Shape>& in);                     // steps_simple
// Slice and one-index Gather with constant parameters (strided_window in reference.h).
inline constexpr const char* kParametersUnknown = "indices not constant, or not a box";
std::string window_unsupported(const Graph& graph, const Node& node, const ShapeOf& values);
std::string split_unsupported(const Node& node, const Shape& x, const ShapeOf& shape_of);
// A constant-mode Pad's amounts per dimension and its value; "" or why it does not run.
struct PadAmounts {
  std::vector<std::int64_t> before, after;
  float value = 0.f;
};
std::string pad_amounts(const Graph& graph, const Node& node, const ShapeOf& values, int rank,
                        PadAmounts& pads);
// Why oneDNN's binary primitive does not run a op b -> y (it broadcasts only its second
// operand; `commutative` ops may swap theirs); "" when it does (support.cpp).
std::string binary_unsupported(const Shape& a, const Shape& b, const Shape& y, bool commutative);

// A reduction's reduced axes (normalized, sorted flags per dim); false when not constant/valid.
bool reduce_axes(const Graph& graph, const Node& node, int rank, std::vector<bool>& reduced);

// Normalizes an axis attribute for `rank`; false when out of range.
bool normalize_axis(std::int64_t& axis, int rank);

}  // namespace qs::onednn
