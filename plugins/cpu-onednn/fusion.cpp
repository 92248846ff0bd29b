// Fusion: a Conv, Gemm, MatMul, binary op or BatchNormalization takes the eltwise, binary and
// BatchNormalization nodes after it as oneDNN post-ops, when the intermediate value is used by
// nothing else and is not a graph output (so nobody can observe that it was never written).
#include <cmath>

#include "plan.h"

namespace qs::onednn {

FusionContext make_fusion_context(const Graph& graph, const ShapeOf& shape_of) {
  FusionContext ctx{graph, shape_of, {}, {}, std::vector<bool>(graph.nodes.size(), false)};
  for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
    for (const std::string& name : graph.nodes[i].inputs)
      if (!name.empty()) ++ctx.consumers[name];
    for (const std::string& name : graph.nodes[i].outputs)
      if (!name.empty()) ctx.producer[name] = static_cast<int>(i);
  }
  for (const ValueInfo& out : graph.outputs) ++ctx.consumers[out.name];
  return ctx;
}

std::pair<Tensor, Tensor> batch_norm_affine(const Graph& graph, const Node& node, int rank) {
  const std::vector<float> scale = constant_value(graph, node.inputs[1])->to_f32();
  const std::vector<float> bias = constant_value(graph, node.inputs[2])->to_f32();
  const std::vector<float> mean = constant_value(graph, node.inputs[3])->to_f32();
  const std::vector<float> var = constant_value(graph, node.inputs[4])->to_f32();
  const float epsilon = node.attr_float("epsilon", 1e-5f);
  Shape shape(rank, 1);
  shape[1] = static_cast<std::int64_t>(scale.size());
  Tensor a(DType::f32, shape), b(DType::f32, shape);
  for (std::size_t ch = 0; ch < scale.size(); ++ch) {
    a.data<float>()[ch] = scale[ch] / std::sqrt(var[ch] + epsilon);
    b.data<float>()[ch] = bias[ch] - mean[ch] * a.data<float>()[ch];
  }
  return {a, b};
}

namespace {

constexpr std::size_t kMaxPostOps = 8;

// The node that alone consumes `value`, or -1.
int sole_consumer(const FusionContext& ctx, const std::string& value, int after) {
  auto it = ctx.consumers.find(value);
  if (it == ctx.consumers.end() || it->second != 1) return -1;
  for (std::size_t j = after + 1; j < ctx.graph.nodes.size(); ++j)
    for (const std::string& name : ctx.graph.nodes[j].inputs)
      if (name == value) return static_cast<int>(j);
  return -1;  // a graph output
}

// Whether `name` exists before the anchor runs.
bool available(const FusionContext& ctx, const std::string& name, int anchor) {
  auto it = ctx.producer.find(name);
  return it == ctx.producer.end() || it->second < anchor;
}

// Adds node j as a post-op of a value of `shape`; false when it cannot be one.
bool add_post_op(FusionContext& ctx, Group& g, int anchor, int j, const std::string& value,
                 const Shape& shape) {
  const Node& n = ctx.graph.nodes[j];
  if (ctx.claimed[j] || !unsupported(ctx.graph, n, ctx.shape_of).empty()) return false;
  const Tensor* out = ctx.shape_of(n.outputs[0]);
  if (!out || out->shape() != shape) return false;
  PostOp post;
  if (eltwise_ops(ctx.graph, n, post.eltwise).empty()) {
    if (n.inputs[0] != value) return false;
  } else if (is_binary_op(n.op_type)) {
    const bool first = n.inputs[0] == value;
    if (n.inputs[0] == n.inputs[1]) return false;
    if (!first && (n.op_type == "Sub" || n.op_type == "Div")) return false;
    post.other = first ? n.inputs[1] : n.inputs[0];
    if (!available(ctx, post.other, anchor)) return false;
    post.binary = binary_alg(n.op_type);
  } else if (n.op_type == "BatchNormalization") {
    if (n.inputs[0] != value) return false;
    auto [a, b] = batch_norm_affine(ctx.graph, n, static_cast<int>(shape.size()));
    post.binary = dnnl::algorithm::binary_mul;
    post.other_constant = a;
    g.post.push_back(post);
    post.binary = dnnl::algorithm::binary_add;
    post.other_constant = b;
  } else {
    return false;
  }
  g.post.push_back(post);
  g.nodes.push_back(&n);
  g.output = n.outputs[0];
  ctx.claimed[j] = true;
  return true;
}

}  // namespace

Group make_group(FusionContext& ctx, int anchor, bool fuse) {
  const Node& a = ctx.graph.nodes[anchor];
  Group g;
  g.nodes.push_back(&a);
  g.output = a.outputs[0];
  ctx.claimed[anchor] = true;
  if (a.op_type == "BatchNormalization") {
    // x * scale + shift: a binary Mul whose Add is the first post-op.
    auto [scale, shift] = batch_norm_affine(ctx.graph, a, ctx.shape_of(a.inputs[0])->rank());
    PostOp add;
    add.binary = dnnl::algorithm::binary_add;
    add.other_constant = shift;
    g.post.push_back(add);
  }
  const std::string& op = a.op_type;
  bool anchor_ok = op == "Conv" || op == "Gemm" || is_binary_op(op) || op == "BatchNormalization";
  if (op == "MatMul")  // 1-D operands change the output rank; keep those plain
    anchor_ok = ctx.shape_of(a.inputs[0])->rank() >= 2 && ctx.shape_of(a.inputs[1])->rank() >= 2;
  if (!fuse || !anchor_ok) return g;
  const Shape shape = ctx.shape_of(a.outputs[0])->shape();
  int last = anchor;
  while (g.post.size() < kMaxPostOps) {
    const int j = sole_consumer(ctx, g.output, last);
    if (j < 0 || !add_post_op(ctx, g, anchor, j, g.output, shape)) break;
    last = j;
  }
  return g;
}

}  // namespace qs::onednn
