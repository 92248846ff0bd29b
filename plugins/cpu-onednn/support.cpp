// Which nodes the device runs itself: fp32 only, and only where oneDNN computes exactly what the
// reference kernel computes. Everything else falls back to the reference kernels.
#include <cmath>
#include <limits>

#include "onednn_common.h"

namespace qs::onednn {

using alg = dnnl::algorithm;

dims to_dims(const Shape& shape) {
  if (shape.empty()) return {1};
  return dims(shape.begin(), shape.end());
}

dnnl::memory::desc plain_md(const Shape& shape) {
  dims d = to_dims(shape), strides(d.size(), 1);
  for (int i = static_cast<int>(d.size()) - 2; i >= 0; --i) strides[i] = strides[i + 1] * d[i + 1];
  return dnnl::memory::desc(d, dnnl::memory::data_type::f32, strides);
}

dnnl::memory::desc padded_md(const Shape& shape, int rank) {
  Shape s(rank - std::min<int>(rank, static_cast<int>(shape.size())), 1);
  s.insert(s.end(), shape.begin(), shape.end());
  return plain_md(s);
}

dnnl::memory::desc any_md(const Shape& shape) {
  return dnnl::memory::desc(to_dims(shape), dnnl::memory::data_type::f32,
                            dnnl::memory::format_tag::any);
}

bool normalize_axis(std::int64_t& axis, int rank) {
  if (axis < -rank || axis >= rank) return false;
  if (axis < 0) axis += rank;
  return true;
}

const Tensor* constant_value(const Graph& graph, const std::string& name) {
  auto it = graph.initializers.find(name);
  if (it != graph.initializers.end()) return &it->second;
  for (const Node& n : graph.nodes)
    if (n.op_type == "Constant" && n.outputs.size() == 1 && n.outputs[0] == name)
      return n.attr_tensor("value");
  return nullptr;
}

ShapeOf constants_then(const Graph& graph, const std::map<std::string, Tensor>& shapes) {
  return [&graph, &shapes](const std::string& name) -> const Tensor* {
    auto init = graph.initializers.find(name);
    if (init != graph.initializers.end()) return &init->second;
    auto it = shapes.find(name);
    return it != shapes.end() ? &it->second : constant_value(graph, name);
  };
}

bool is_binary_op(const std::string& op) {
  return op == "Add" || op == "Sub" || op == "Mul" || op == "Div";
}

namespace {

// Whether any node (a subgraph's reads of outer values are its node's inputs) or the graph's
// outputs read `name`: exporters name outputs nobody uses (Dropout's mask).
bool is_read(const Graph& graph, const std::string& name) {
  for (const ValueInfo& out : graph.outputs)
    if (out.name == name) return true;
  for (const Node& n : graph.nodes)
    for (const std::string& in : n.inputs)
      if (in == name) return true;
  return false;
}

}  // namespace

bool is_view_op(const Graph& graph, const Node& node) {
  const std::string& op = node.op_type;
  if (op == "Flatten" || op == "Reshape" || op == "Squeeze" || op == "Unsqueeze" ||
      op == "Identity" || op == "Cast")  // Cast: f32 to f32 only (checked with the dtypes)
    return true;
  if (is_variadic_op(op)) return node.input_count() == 1;
  // Inference: training_mode absent or a constant false, or a constant ratio of 0 (torch
  // exports Swin's attention dropout so); the reference refuses real dropping. No mask read.
  if (op == "Dropout") {
    auto constant_zero = [&](int i) {
      const Tensor* t = node.has_input(i) ? constant_value(graph, node.inputs[i]) : nullptr;
      return t && t->has_data() && t->numel() == 1 && t->to_f32()[0] == 0.f;
    };
    const bool inference = !node.has_input(2) || constant_zero(2) || constant_zero(1);
    return inference &&
           (node.outputs.size() < 2 || node.outputs[1].empty() || !is_read(graph, node.outputs[1]));
  }
  return false;
}

bool is_variadic_op(const std::string& op) {
  return op == "Max" || op == "Min" || op == "Sum" || op == "Mean";
}

alg binary_alg(const std::string& op) {
  if (op == "Add") return alg::binary_add;
  if (op == "Sub") return alg::binary_sub;
  if (op == "Mul") return alg::binary_mul;
  return alg::binary_div;
}

bool reduce_axes(const Graph& graph, const Node& node, int rank, std::vector<bool>& reduced) {
  std::vector<std::int64_t> axes = node.attr_ints("axes");
  // ReduceSum took its axes as an input from opset 13, the others from 18.
  const int axes_input_from = node.op_type == "ReduceSum" ? 13 : 18;
  if (graph.opset >= axes_input_from && node.has_input(1)) {
    const Tensor* t = constant_value(graph, node.inputs[1]);
    if (!t || !t->has_data()) return false;
    axes = t->to_i64();
  }
  const bool noop = node.attr_int("noop_with_empty_axes", 0) != 0;
  if (rank < 1 || (axes.empty() && noop)) return false;
  reduced.assign(rank, axes.empty());
  for (std::int64_t a : axes) {
    if (!normalize_axis(a, rank)) return false;
    reduced[a] = true;
  }
  return true;
}

namespace {

// The single f32 value of a constant input, or false.
bool scalar_constant(const Graph& graph, const Node& node, int i, float& out) {
  const Tensor* t = node.has_input(i) ? constant_value(graph, node.inputs[i]) : nullptr;
  if (!t || t->dtype() != DType::f32 || t->numel() != 1 || !t->has_data()) return false;
  out = t->data<float>()[0];
  return true;
}

}  // namespace

std::string eltwise_ops(const Graph& graph, const Node& node, std::vector<EltwiseOp>& ops) {
  const std::string& op = node.op_type;
  ops.clear();
  if (op == "Relu")
    ops.push_back({alg::eltwise_relu, 0.f, 0.f});
  else if (op == "LeakyRelu")
    ops.push_back({alg::eltwise_relu, node.attr_float("alpha", 0.01f)});
  else if (op == "Sigmoid")
    ops.push_back({alg::eltwise_logistic});
  else if (op == "Tanh")
    ops.push_back({alg::eltwise_tanh});
  else if (op == "Exp")
    ops.push_back({alg::eltwise_exp});
  else if (op == "Log")
    ops.push_back({alg::eltwise_log});
  else if (op == "Sqrt")
    ops.push_back({alg::eltwise_sqrt});
  else if (op == "Abs")
    ops.push_back({alg::eltwise_abs});
  else if (op == "Neg")
    ops.push_back({alg::eltwise_linear, -1.f, 0.f});
  else if (op == "HardSwish")
    ops.push_back({alg::eltwise_hardswish});
  else if (op == "Elu")
    ops.push_back({alg::eltwise_elu, node.attr_float("alpha", 1.f)});
  else if (op == "Selu") {
    // gamma * elu_alpha(x), with ONNX's default constants.
    ops.push_back({alg::eltwise_elu, node.attr_float("alpha", 1.67326319f)});
    ops.push_back({alg::eltwise_linear, node.attr_float("gamma", 1.05070102f), 0.f});
  } else if (op == "Softplus")
    ops.push_back({alg::eltwise_soft_relu});  // log(1 + e^x); oneDNN 2.6 ignores alpha
  else if (op == "Mish")
    ops.push_back({alg::eltwise_mish});
  else if (op == "Round")
    ops.push_back({alg::eltwise_round});  // half to even, as ONNX rounds
  else if (op == "Reciprocal")
    ops.push_back({alg::eltwise_pow, 1.f, -1.f});
  else if (op == "HardSigmoid") {
    // clamp(alpha * x + beta, 0, 1) as two exact steps.
    ops.push_back(
        {alg::eltwise_linear, node.attr_float("alpha", 0.2f), node.attr_float("beta", 0.5f)});
    ops.push_back({alg::eltwise_clip, 0.f, 1.f});
  } else if (op == "Gelu") {
    const std::string approximate = node.attr_string("approximate", "none");
    if (approximate == "none")
      ops.push_back({alg::eltwise_gelu_erf});
    else if (approximate == "tanh")
      ops.push_back({alg::eltwise_gelu_tanh});
    else
      return "approximate=" + approximate;
  } else if (op == "Clip") {
    float lo = -std::numeric_limits<float>::infinity(), hi = -lo;
    if (graph.opset < 11) {
      lo = node.attr_float("min", lo);
      hi = node.attr_float("max", hi);
    } else {
      if (node.has_input(1) && !scalar_constant(graph, node, 1, lo)) return "Clip min not constant";
      if (node.has_input(2) && !scalar_constant(graph, node, 2, hi)) return "Clip max not constant";
    }
    if (std::isnan(lo) || std::isnan(hi) || lo > hi) return "Clip bounds";
    ops.push_back({alg::eltwise_clip, lo, hi});
  } else {
    return "op " + op;
  }
  return "";
}

std::string binary_unsupported(const Shape& a, const Shape& b, const Shape& y, bool commutative) {
  const bool a_full = shape_numel(a) == shape_numel(y) && a.size() <= y.size();
  const bool b_full = shape_numel(b) == shape_numel(y) && b.size() <= y.size();
  if (!a_full && !(b_full && commutative)) return "first operand broadcasts";
  // Broadcast over dimensions that do not merge into at most three groups ([N,2,3,25] +
  // [1,2,1,25]) runs in oneDNN's reference kernels, slower than Quantscope's own.
  const Shape& small = a_full ? b : a;
  if (shape_numel(small) > 1 && shape_numel(small) != shape_numel(y) &&
      merged_broadcast(y, small).first.size() > 3)
    return "broadcast over alternating dimensions";
  return "";
}

// What steps_attention.cpp runs: 4-D Q [B, Hq, S, d], K and V [B, Hkv, S, d] with Hkv dividing
// Hq, a float mask broadcast per head or over all of them, past and present in pairs.
std::string attention_unsupported(const Node& node, const std::vector<Shape>& in) {
  if (node.attr_int("is_causal", 0) != 0 || node.attr_float("softcap", 0.0f) != 0.0f)
    return "is_causal or softcap";
  if (node.outputs.size() > 3 && !node.outputs[3].empty()) return "qk_matmul_output";
  if (node.has_input(4) != node.has_input(5)) return "past keys without values";
  if ((node.outputs.size() > 1 && !node.outputs[1].empty()) !=
      (node.outputs.size() > 2 && !node.outputs[2].empty()))
    return "present keys without values";
  for (int i : {0, 1, 2, 4, 5})
    if (node.has_input(i) && in[static_cast<std::size_t>(i)].size() != 4) return "rank";
  const Shape &q = in[0], &k = in[1], &v = in[2];
  if (k[1] < 1 || q[1] % k[1] != 0 || k[0] != q[0] || v[0] != q[0] || v[1] != k[1] ||
      k[3] != q[3] || v[2] != k[2])
    return "shapes";
  if (node.has_input(4) && (in[4][0] != q[0] || in[4][1] != k[1] || in[4][3] != k[3] ||
                            in[5] != Shape{q[0], k[1], in[4][2], v[3]}))
    return "past shapes";
  if (node.has_input(3)) {
    const Shape& m = in[3];
    if (m.size() > 4) return "mask rank";
    Shape m4 = m;
    m4.insert(m4.begin(), 4 - m4.size(), 1);
    const std::int64_t total = k[2] + (node.has_input(4) ? in[4][2] : 0);
    if ((m4[0] != 1 && m4[0] != q[0]) || (m4[1] != 1 && m4[1] != q[1]) ||
        (m4[2] != 1 && m4[2] != q[2]) || (m4[3] != 1 && m4[3] != total))
      return "mask shape";
  }
  return "";
}

std::string unsupported(const Graph& graph, const Node& node, const ShapeOf& shape_of) {
  if (!node.domain.empty() && node.domain != "ai.onnx") return "domain " + node.domain;
  const std::string& op = node.op_type;
  std::vector<EltwiseOp> ops;
  const bool eltwise = eltwise_ops(graph, node, ops).empty();
  const bool known = eltwise || is_binary_op(op) || op == "Conv" || op == "Gemm" ||
                     op == "ConvTranspose" || op == "Transpose" || is_reduce_op(op) ||
                     op == "MatMul" || op == "MaxPool" || op == "AveragePool" ||
                     op == "GlobalAveragePool" || op == "GlobalMaxPool" || op == "Softmax" ||
                     op == "LogSoftmax" || op == "LayerNormalization" || op == "RMSNormalization" ||
                     op == "BatchNormalization" || op == "Concat" || is_variadic_op(op) ||
                     op == "DepthToSpace" || op == "SpaceToDepth" || op == "PRelu" || op == "LRN" ||
                     op == "Slice" || op == "Gather" || op == "Split" || op == "Pad" ||
                     op == "Resize" || op == "Expand" || op == "Attention";
  // Ops whose later inputs are parameters (indices, amounts), not data.
  const bool one_data_input = op == "Clip" || is_reduce_op(op) || op == "Slice" || op == "Gather" ||
                              op == "Split" || op == "Pad" || op == "Expand";
  // Row-major views of their input (no kernel): the output shape is known from shape inference.
  const bool view = is_view_op(graph, node);
  if (!known && !view) return eltwise_ops(graph, node, ops);
  // Every data input and the first output: f32 with a known shape.
  std::vector<Shape> in;
  const int data_inputs = (one_data_input || view) ? 1 : node.input_count();
  for (int i = 0; i < data_inputs; ++i) {
    if (!node.has_input(i)) {
      in.emplace_back();
      continue;
    }
    const Tensor* t = shape_of(node.inputs[i]);
    if (!t) return "shape of '" + node.inputs[i] + "' unknown";
    if (t->dtype() != DType::f32) return "dtype " + dtype_name(t->dtype());
    in.push_back(t->shape());
  }
  if (in.empty() || node.outputs.empty()) return "no inputs";
  const Tensor* out = shape_of(node.outputs[0]);
  if (!out) return "shape of '" + node.outputs[0] + "' unknown";
  if (out->dtype() != DType::f32) return "dtype " + dtype_name(out->dtype());
  const Shape& x = in[0];
  const Shape& y = out->shape();
  // LayerNormalization's Mean and InvStdDev come from the same primitive; Split checks its own.
  const std::size_t outputs = op == "LayerNormalization" || op == "Attention" ? 3
                              : op == "Split"                                 ? 0
                                                                              : 1;
  for (std::size_t k = 1; k < node.outputs.size() && outputs > 0; ++k) {
    if (node.outputs[k].empty() || !is_read(graph, node.outputs[k])) continue;
    const Tensor* extra = k < outputs ? shape_of(node.outputs[k]) : nullptr;
    if (!extra || extra->dtype() != DType::f32) return "extra outputs";
  }
  if (shape_numel(y) == 0) return "empty tensor";
  if (x.size() > DNNL_MAX_NDIMS || y.size() > DNNL_MAX_NDIMS) return "rank";

  if (eltwise) return "";
  if (view) return shape_numel(x) == shape_numel(y) ? "" : "element count";
  if (is_binary_op(op)) {
    if (in.size() != 2) return "inputs";
    return binary_unsupported(in[0], in[1], y, op == "Add" || op == "Mul");
  }
  Geometry g;
  if (op == "ConvTranspose") return deconv_unsupported(node, in);
  if (is_reduce_op(op)) {
    if (shape_numel(x) == 0) return "empty input";
    std::vector<bool> reduced;
    return reduce_axes(graph, node, static_cast<int>(x.size()), reduced) ? "" : "axes";
  }
  if (op == "Concat") return concat_unsupported(graph, node, in);
  if (op == "Attention") return attention_unsupported(node, in);
  if (is_variadic_op(op)) return variadic_unsupported(in, y);
  if (op == "DepthToSpace" || op == "SpaceToDepth") return space_depth_unsupported(node, x);
  if (op == "PRelu") return prelu_unsupported(in);
  if (op == "Slice") return window_unsupported(graph, node, shape_of);
  // A Gather that is no box of its input copies rows on the host (steps_host.cpp).
  if (op == "Gather" || op == "Expand") return "";
  if (op == "Split") return split_unsupported(node, x, shape_of);
  if (op == "Pad") {
    PadAmounts pads;
    return pad_amounts(graph, node, shape_of, static_cast<int>(x.size()), pads);
  }
  if (op == "LRN") {
    // oneDNN centres an even window differently from ONNX (one channel further down).
    if (node.attr_int("size", 0) % 2 == 0) return "even size";
    return x.size() == 4 ? "" : "rank";
  }
  if (op == "Transpose") {
    std::vector<std::int64_t> perm = node.attr_ints("perm");
    if (perm.empty()) return "";  // reversed
    std::vector<bool> seen(x.size(), false);
    if (perm.size() != x.size()) return "perm";
    for (std::int64_t d : perm) {
      if (d < 0 || d >= static_cast<std::int64_t>(x.size()) || seen[d]) return "perm";
      seen[d] = true;
    }
    return "";
  }
  if (op == "Conv") {
    if (in.size() < 2) return "inputs";
    const std::int64_t group = node.attr_int("group", 1);
    if (x.size() < 3 || group <= 0 || x[1] % group != 0 || in[1][0] % group != 0 ||
        in[1].size() != x.size() || in[1][1] * group != x[1])
      return "channels";
    if (in.size() > 2 && shape_numel(in[2]) != in[1][0]) return "bias";
    return conv_geometry(node, x, in[1], g);
  }
  if (op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool" ||
      op == "GlobalMaxPool") {
    std::string reason = pool_geometry(node, x, g);
    if (!reason.empty()) return reason;
    if (op == "AveragePool" && g.overhang && node.attr_int("count_include_pad", 0) != 0)
      return "count_include_pad with a ceil_mode overhang";
    return "";
  }
  if (op == "Gemm") {
    if (in.size() < 2 || x.size() != 2 || in[1].size() != 2) return "rank";
    if (in.size() > 2 && !in[2].empty()) {
      if (in[2].size() > 2) return "C rank";
      const float beta = node.attr_float("beta", 1.0f);
      if (beta != 1.0f && beta != 0.0f && !graph.initializers.count(node.inputs[2]))
        return "beta with a computed C";
    }
    return "";
  }
  if (op == "MatMul") {
    if (in.size() != 2 || x.empty() || in[1].empty()) return "rank";
    return "";
  }
  if (op == "Softmax" || op == "LogSoftmax") {
    std::int64_t axis = node.attr_int("axis", graph.opset < 13 ? 1 : -1);
    if (x.empty() || !normalize_axis(axis, static_cast<int>(x.size()))) return "axis";
    return "";
  }
  if (op == "LayerNormalization" || op == "RMSNormalization") {
    std::int64_t axis = node.attr_int("axis", -1);
    if (x.empty() || !normalize_axis(axis, static_cast<int>(x.size()))) return "axis";
    const Shape norm(x.begin() + axis, x.end());
    // oneDNN takes a scale and shift of the normalized size; broadcast ones fall back.
    for (std::size_t i = 1; i < in.size(); ++i) {
      if (in[i].empty() && !node.has_input(static_cast<int>(i))) continue;
      Shape s = in[i];
      while (!s.empty() && s.front() == 1 && s.size() > norm.size()) s.erase(s.begin());
      if (s != norm) return "scale or bias broadcasts";
    }
    if (in.size() < 2) return "no scale";
    return "";
  }
  if (op == "BatchNormalization") {
    if (node.attr_int("training_mode", 0) != 0) return "training_mode";
    if (graph.opset < 7 && node.attr_int("is_test", 1) == 0) return "is_test=0";
    if (in.size() != 5 || x.size() < 2) return "inputs";
    for (int i = 1; i < 5; ++i) {
      if (shape_numel(in[i]) != x[1]) return "statistics size";
      if (!constant_value(graph, node.inputs[i])) return "statistics not constant";
    }
    return "";
  }
  return "op " + op;
}

}  // namespace qs::onednn
