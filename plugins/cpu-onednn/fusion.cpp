// Fusion: a Conv, Gemm, MatMul, binary op or BatchNormalization takes the eltwise, binary and
// BatchNormalization nodes after it as oneDNN post-ops, when the intermediate value is used by
// nothing else and is not a graph output (so nobody can observe that it was never written).
#include <algorithm>
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

// Whether `name` is an f32 scalar constant within `tolerance` of `want`.
bool scalar_near(const FusionContext& ctx, const std::string& name, float want, float tolerance) {
  const Tensor* t = constant_value(ctx.graph, name);
  if (!t || t->dtype() != DType::f32 || t->numel() != 1 || !t->has_data()) return false;
  return std::abs(t->data<float>()[0] - want) <= tolerance;
}

// The other input of binary node `n` when one of its inputs is `value`; "" otherwise.
std::string other_input(const Node& n, const std::string& op, const std::string& value) {
  if (n.op_type != op || !(n.domain.empty() || n.domain == "ai.onnx") || n.inputs.size() != 2 ||
      n.outputs.size() != 1 || n.inputs[0] == n.inputs[1])
    return "";
  if (n.inputs[0] == value) return n.inputs[1];
  return n.inputs[1] == value && op != "Div" ? n.inputs[0] : "";
}

// Adds the GELU (exact or tanh form) that reads `value` as one eltwise post-op; false when
// there is none.
bool add_gelu(FusionContext& ctx, Group& g, int& last) {
  auto it = ctx.consumers.find(g.output);
  if (it == ctx.consumers.end()) return false;
  std::vector<int> nodes;
  dnnl::algorithm alg = dnnl::algorithm::eltwise_gelu_erf;
  if (it->second == 2) {  // the exact form: the Div and the Mul only
    for (std::size_t j = last + 1; j < ctx.graph.nodes.size() && nodes.empty(); ++j) {
      if (other_input(ctx.graph.nodes[j], "Div", g.output).empty()) continue;
      if (ctx.claimed[j]) return false;
      nodes = gelu_pattern(ctx, static_cast<int>(j));
      if (nodes.empty()) return false;
    }
  }
  if (nodes.empty() && it->second == 5) {  // the tanh form reads x five times
    nodes = gelu_tanh_pattern(ctx, g.output, last);
    alg = dnnl::algorithm::eltwise_gelu_tanh;
  }
  if (nodes.empty()) return false;
  PostOp post;
  post.eltwise.push_back({alg});
  g.post.push_back(post);
  for (int k : nodes) {
    g.nodes.push_back(&ctx.graph.nodes[k]);
    ctx.claimed[k] = true;
  }
  g.output = ctx.graph.nodes[nodes.back()].outputs[0];
  last = nodes.back();
  return true;
}

// oneDNN 2.6's jit kernels run every eltwise post-op of one algorithm with the alpha and beta of
// the first (Clip(0, 6) then Clip(0, 2) clips to 6): such an op ends the chain.
bool repeats_algorithm(const Group& g, const std::vector<EltwiseOp>& ops) {
  for (const EltwiseOp& e : ops)
    for (const PostOp& post : g.post)
      for (const EltwiseOp& f : post.eltwise)
        if (f.alg == e.alg && (f.alpha != e.alpha || f.beta != e.beta)) return true;
  return false;
}

// Adds the SiLU that reads `value` (Sigmoid and Mul, its only two readers) as one eltwise_swish
// post-op; false when there is none.
bool add_silu(FusionContext& ctx, Group& g, int& last) {
  auto it = ctx.consumers.find(g.output);
  if (it == ctx.consumers.end() || it->second != 2) return false;
  for (std::size_t j = last + 1; j < ctx.graph.nodes.size(); ++j) {
    const Node& n = ctx.graph.nodes[j];
    if (n.op_type != "Sigmoid" || n.inputs.empty() || n.inputs[0] != g.output) continue;
    const int mul = silu_mul(ctx, static_cast<int>(j));
    if (mul < 0 || ctx.claimed[j]) return false;
    PostOp post;
    post.eltwise.push_back({dnnl::algorithm::eltwise_swish, 1.f});
    if (repeats_algorithm(g, post.eltwise)) return false;
    g.post.push_back(post);
    for (int k : {static_cast<int>(j), mul}) {
      g.nodes.push_back(&ctx.graph.nodes[k]);
      ctx.claimed[k] = true;
    }
    g.output = ctx.graph.nodes[mul].outputs[0];
    last = mul;
    return true;
  }
  return false;
}

}  // namespace

// Whether oneDNN 2.6 runs a binary post-op with this operand in its JIT kernels: a scalar, one
// value per channel (dimension 1, or the last one after a MatMul or Gemm), or an operand that
// is broadcast only where the destination has size 1 (a residual at batch 1). A broadcast over
// a real dimension (Swin's attention bias [1,3,49,49] over [64,3,49,49]) sends the whole MatMul
// to oneDNN's reference implementation, 10-50x slower than a MatMul and a separate Add.
bool post_op_operand_is_fast(const Shape& dst, const Shape& operand, const std::string& anchor) {
  if (shape_numel(operand) == 1) return true;
  const int rank = static_cast<int>(dst.size());
  if (static_cast<int>(operand.size()) > rank) return false;
  Shape padded(static_cast<std::size_t>(rank - static_cast<int>(operand.size())), 1);
  padded.insert(padded.end(), operand.begin(), operand.end());
  bool full = true, per_channel = true, per_last = true;
  const bool matrix = anchor == "MatMul" || anchor == "Gemm";
  for (int d = 0; d < rank; ++d) {
    full = full && (padded[d] == dst[d] || dst[d] == 1);
    per_channel = per_channel && (d == 1 ? padded[d] == dst[d] : padded[d] == 1);
    per_last = per_last && (d == rank - 1 ? padded[d] == dst[d] : padded[d] == 1);
  }
  return full || per_channel || (matrix && per_last);
}

std::pair<Shape, Shape> merged_broadcast(const Shape& full, const Shape& operand) {
  const int rank = static_cast<int>(full.size());
  Shape padded(static_cast<std::size_t>(rank - static_cast<int>(operand.size())), 1);
  padded.insert(padded.end(), operand.begin(), operand.end());
  Shape a, b;
  int last = -1;  // 1: the previous kept dimension is broadcast, 0: it is not
  for (int d = 0; d < rank; ++d) {
    if (full[d] == 1) continue;
    const int broadcast = padded[d] == 1 ? 1 : 0;
    if (broadcast == last) {
      a.back() *= full[d];
      b.back() *= padded[d];
    } else {
      a.push_back(full[d]);
      b.push_back(padded[d]);
    }
    last = broadcast;
  }
  if (a.empty()) a = b = {1};
  return {a, b};
}

namespace {

// Adds node j as a post-op of a value of `shape`; false when it cannot be one.
bool add_post_op(FusionContext& ctx, Group& g, int anchor, int j, const std::string& value,
                 const Shape& shape) {
  const Node& n = ctx.graph.nodes[j];
  if (ctx.claimed[j] || !unsupported(ctx.graph, n, ctx.shape_of).empty()) return false;
  const Tensor* out = ctx.shape_of(n.outputs[0]);
  if (!out || out->shape() != shape) return false;
  PostOp post;
  if (eltwise_ops(ctx.graph, n, post.eltwise).empty()) {
    if (n.inputs[0] != value || repeats_algorithm(g, post.eltwise)) return false;
  } else if (is_binary_op(n.op_type)) {
    const bool first = n.inputs[0] == value;
    if (n.inputs[0] == n.inputs[1]) return false;
    if (!first && (n.op_type == "Sub" || n.op_type == "Div")) return false;
    post.other = first ? n.inputs[1] : n.inputs[0];
    if (!available(ctx, post.other, anchor)) return false;
    const Tensor* other = ctx.shape_of(post.other);
    if (!other || !post_op_operand_is_fast(shape, other->shape(), ctx.graph.nodes[anchor].op_type))
      return false;
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

int silu_mul(const FusionContext& ctx, int sigmoid) {
  const Node& sg = ctx.graph.nodes[sigmoid];
  if (sg.inputs.size() != 1 || sg.outputs.size() != 1 ||
      !(sg.domain.empty() || sg.domain == "ai.onnx"))
    return -1;
  const std::string& x = sg.inputs[0];
  const Tensor* xt = ctx.shape_of(x);
  if (!xt || xt->dtype() != DType::f32) return -1;
  const int j = sole_consumer(ctx, sg.outputs[0], sigmoid);
  if (j < 0 || ctx.claimed[j] || other_input(ctx.graph.nodes[j], "Mul", sg.outputs[0]) != x)
    return -1;
  const Tensor* out = ctx.shape_of(ctx.graph.nodes[j].outputs[0]);
  return out && out->dtype() == DType::f32 && out->shape() == xt->shape() ? j : -1;
}

std::vector<int> gelu_tanh_pattern(const FusionContext& ctx, const std::string& x, int after,
                                   int start) {
  auto x_readers = ctx.consumers.find(x);
  // x is read five times, all inside: x*x (twice), x*x^2, x+..., and x*(1+t) or x*0.5.
  if (x_readers == ctx.consumers.end() || x_readers->second != 5) return {};
  const Tensor* xt = ctx.shape_of(x);
  if (!xt || xt->dtype() != DType::f32) return {};
  auto node = [&](int j) -> const Node& { return ctx.graph.nodes[static_cast<std::size_t>(j)]; };
  auto out = [&](int j) -> const std::string& { return node(j).outputs[0]; };
  auto unclaimed = [&](int j) { return j >= 0 && (j == start || !ctx.claimed[j]); };
  auto next = [&](int j) {
    const int k = sole_consumer(ctx, out(j), j);
    return unclaimed(k) ? k : -1;
  };
  std::vector<int> nodes;
  // x^3 as Mul(x, Mul(x, x)).
  int cube = -1;
  for (std::size_t j = after + 1; j < ctx.graph.nodes.size() && cube < 0; ++j) {
    const Node& n = ctx.graph.nodes[j];
    if (n.op_type != "Mul" || !(n.domain.empty() || n.domain == "ai.onnx") ||
        n.inputs.size() != 2 || n.outputs.size() != 1 || n.inputs[0] != x || n.inputs[1] != x)
      continue;
    const int square = static_cast<int>(j);
    const int c = next(square);
    if (!unclaimed(square) || c < 0 || other_input(node(c), "Mul", out(square)) != x) return {};
    nodes = {square, c};
    cube = c;
  }
  if (cube < 0) return {};
  const int scaled = next(cube);
  if (scaled < 0 ||
      !scalar_near(ctx, other_input(node(scaled), "Mul", out(cube)), 0.044715f, 1e-6f))
    return {};
  const int sum = next(scaled);
  if (sum < 0 || other_input(node(sum), "Add", out(scaled)) != x) return {};
  const int inner = next(sum);
  if (inner < 0 ||
      !scalar_near(ctx, other_input(node(inner), "Mul", out(sum)), 0.7978845608f, 1e-5f))
    return {};
  const int th = next(inner);
  if (th < 0 || node(th).op_type != "Tanh" ||
      !(node(th).domain.empty() || node(th).domain == "ai.onnx") || node(th).inputs.size() != 1 ||
      node(th).outputs.size() != 1)
    return {};
  const int one = next(th);
  if (one < 0 || !scalar_near(ctx, other_input(node(one), "Add", out(th)), 1.f, 1e-6f)) return {};
  nodes.insert(nodes.end(), {scaled, sum, inner, th, one});
  const int times = next(one);
  if (times < 0) return {};
  const std::string other = other_input(node(times), "Mul", out(one));
  if (other == x) {  // x * (1 + t), then * 0.5
    const int half = next(times);
    if (half < 0 || !scalar_near(ctx, other_input(node(half), "Mul", out(times)), 0.5f, 1e-7f))
      return {};
    nodes.insert(nodes.end(), {times, half});
  } else {  // (x * 0.5) * (1 + t)
    auto p = ctx.producer.find(other);
    auto reads = ctx.consumers.find(other);
    if (p == ctx.producer.end() || reads == ctx.consumers.end() || reads->second != 1) return {};
    const int half = p->second;
    if (half <= after || !unclaimed(half) ||
        !scalar_near(ctx, other_input(node(half), "Mul", x), 0.5f, 1e-7f))
      return {};
    nodes.insert(nodes.end(), {half, times});
  }
  for (int j : nodes) {
    const Tensor* t = ctx.shape_of(out(j));
    if (!t || t->dtype() != DType::f32 || t->shape() != xt->shape()) return {};
  }
  std::sort(nodes.begin(), nodes.end());
  return nodes;
}

std::vector<int> gelu_pattern(const FusionContext& ctx, int div) {
  const Node& d = ctx.graph.nodes[div];
  const std::string x = d.inputs.empty() ? "" : d.inputs[0];
  const Tensor* xt = ctx.shape_of(x);
  if (!xt || xt->dtype() != DType::f32) return {};
  if (!scalar_near(ctx, other_input(d, "Div", x), 1.41421356f, 1e-5f)) return {};
  std::vector<int> nodes{div};
  std::string value = d.outputs[0];
  // Erf, Add(1), Mul(x), Mul(0.5): what the next node's other operand must be.
  const char* ops[] = {"Erf", "Add", "Mul", "Mul"};
  for (int step = 0; step < 4; ++step) {
    const int j = sole_consumer(ctx, value, nodes.back());
    if (j < 0 || ctx.claimed[j]) return {};
    const Node& n = ctx.graph.nodes[j];
    if (step == 0) {
      if (n.op_type != "Erf" || !(n.domain.empty() || n.domain == "ai.onnx") ||
          n.inputs.size() != 1 || n.outputs.size() != 1)
        return {};
    } else {
      const std::string other = other_input(n, ops[step], value);
      const bool ok = step == 1   ? scalar_near(ctx, other, 1.f, 1e-6f)
                      : step == 2 ? other == x
                                  : scalar_near(ctx, other, 0.5f, 1e-7f);
      if (!ok) return {};
    }
    const Tensor* out = ctx.shape_of(n.outputs[0]);
    if (!out || out->dtype() != DType::f32 || out->shape() != xt->shape()) return {};
    nodes.push_back(j);
    value = n.outputs[0];
  }
  return nodes;
}

namespace {

// The anchor's group as one eltwise step over the pattern `nodes` (the anchor first).
Group whole_step(FusionContext& ctx, Group& g, const std::vector<int>& nodes, dnnl::algorithm alg) {
  for (std::size_t k = 1; k < nodes.size(); ++k) {
    g.nodes.push_back(&ctx.graph.nodes[nodes[k]]);
    ctx.claimed[nodes[k]] = true;
  }
  g.output = ctx.graph.nodes[nodes.back()].outputs[0];
  g.whole = alg;
  return g;
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
  if (op == "Div") {  // a GELU on its own: one eltwise step
    const std::vector<int> nodes = gelu_pattern(ctx, anchor);
    if (!nodes.empty()) return whole_step(ctx, g, nodes, dnnl::algorithm::eltwise_gelu_erf);
  }
  if (op == "Mul" && a.inputs.size() == 2) {
    // A tanh-form GELU on its own, from its first node (x * x, or x * 0.5): one eltwise step.
    for (const std::string& x : a.inputs) {
      const std::vector<int> nodes = gelu_tanh_pattern(ctx, x, anchor - 1, anchor);
      if (!nodes.empty() && nodes[0] == anchor)
        return whole_step(ctx, g, nodes, dnnl::algorithm::eltwise_gelu_tanh);
    }
  }
  if (op == "Sigmoid") {  // a SiLU on its own: one eltwise step
    const int mul = silu_mul(ctx, anchor);
    if (mul >= 0) {
      g.nodes.push_back(&ctx.graph.nodes[mul]);
      ctx.claimed[mul] = true;
      g.output = ctx.graph.nodes[mul].outputs[0];
      g.whole = dnnl::algorithm::eltwise_swish;
      return g;
    }
  }
  bool anchor_ok = op == "Conv" || op == "ConvTranspose" || op == "Gemm" || is_binary_op(op) ||
                   op == "BatchNormalization";
  if (op == "MatMul")  // 1-D operands change the output rank; keep those plain
    anchor_ok = ctx.shape_of(a.inputs[0])->rank() >= 2 && ctx.shape_of(a.inputs[1])->rank() >= 2;
  if (!fuse || !anchor_ok) return g;
  const Shape shape = ctx.shape_of(a.outputs[0])->shape();
  int last = anchor;
  while (g.post.size() < kMaxPostOps) {
    if (add_gelu(ctx, g, last) || add_silu(ctx, g, last)) continue;
    const int j = sole_consumer(ctx, g.output, last);
    if (j < 0 || !add_post_op(ctx, g, anchor, j, g.output, shape)) break;
    last = j;
  }
  return g;
}

}  // namespace qs::onednn
