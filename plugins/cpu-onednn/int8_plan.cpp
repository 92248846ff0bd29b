// Which nodes of a quantized graph run on integer kernels, and why the others stay simulated.
#include <algorithm>
#include <cmath>

#include "int8.h"

namespace qs::onednn {

bool read_act_grid(const Node& n, ActGrid& g) {
  g = quant::read_fake_quant(n);
  return quant::valid(g);
}

std::string read_layer_quant(const Node& n, LayerQuant& q) {
  std::string why;
  const std::optional<quant::LayerWeights> w = quant::read_weights(n, why);
  if (!w) return why;
  q.codes = w->codes;
  q.w_bits = w->bits;
  q.groups_per_row = w->groups_per_row;
  q.group_size = w->group_size;
  q.scales = w->scales->to_f32();
  q.zero_points.assign(w->zero_points->data<std::int32_t>(),
                       w->zero_points->data<std::int32_t>() + w->zero_points->numel());
  const std::optional<quant::Grid> x = quant::read_input_grid(n);
  q.has_x = x.has_value();
  q.x_scale = x ? x->scale : 1.0f;
  q.bias_codes = w->bias_codes;
  return "";
}

namespace {

// Why a W8A8 layer with these parameters cannot be an int8 primitive; "" when it can.
std::string int8_unsupported(const Graph& graph, const Node& n, const LayerQuant& q,
                             const ShapeOf& shape_of) {
  if (q.w_bits > 8) return "weight bits";
  if (q.groups_per_row != 1) return "per-group weights with quantized activations";
  if (std::any_of(q.zero_points.begin(), q.zero_points.end(), [](std::int32_t z) { return z; }))
    return "asymmetric weights";
  if (!(q.x_scale > 0.0f) || !std::isfinite(q.x_scale)) return "input scale";
  const std::string reason = unsupported(graph, n, shape_of);
  if (!reason.empty()) return reason;
  const Shape w = q.codes->shape();
  const Tensor* weight = shape_of(n.inputs[1]);
  if (!weight || weight->shape() != w) return "weight codes do not have the weight's shape";
  const std::int64_t rows = static_cast<std::int64_t>(q.scales.size());
  if (n.op_type == "Conv") {
    if (rows != w[0]) return "weight scales";
    // oneDNN's int8 convolutions pad the input channels to 4: with fewer (a first layer on an
    // image) they run slower than fp32.
    if (n.attr_int("group", 1) == 1 && w[1] < 4) return "fewer than 4 input channels";
    if (n.has_input(2) && !q.bias_codes) return "bias not on the accumulator's grid";
    return "";
  }
  if (n.op_type == "Gemm") {
    if (n.attr_int("transA", 0) != 0) return "transA";
    const std::int64_t N = n.attr_int("transB", 0) != 0 ? w[0] : w[1];
    if (rows != N) return "weight scales";
    return "";
  }
  if (n.op_type == "MatMul") {
    const Tensor* a = shape_of(n.inputs[0]);
    if (!a || a->rank() < 2 || w.size() != 2) return "rank";
    if (rows != w[1]) return "weight scales";
    return "";
  }
  return "op " + n.op_type;
}

}  // namespace

IntegerPlan plan_integer(const Graph& graph, const ShapeOf& shape_of) {
  IntegerPlan plan;
  const std::size_t count = graph.nodes.size();
  plan.role.assign(count, IntRole::none);
  plan.reason.assign(count, "");
  std::map<std::string, std::vector<int>> readers;
  for (std::size_t i = 0; i < count; ++i) {
    const Node& n = graph.nodes[i];
    for (const std::string& in : n.inputs)
      if (!in.empty()) readers[in].push_back(static_cast<int>(i));
    ActGrid g;
    const Tensor* in = is_fake_quant(n) ? shape_of(n.inputs[0]) : nullptr;
    const Tensor* out = is_fake_quant(n) ? shape_of(n.outputs[0]) : nullptr;
    if (in && out && in->dtype() == DType::f32 && in->shape() == out->shape() &&
        read_act_grid(n, g)) {
      plan.fake_quant_of[n.outputs[0]] = static_cast<int>(i);
      plan.grid[static_cast<int>(i)] = g;
      plan.role[i] = IntRole::fake_quant;
    }
  }
  std::vector<bool> capable(count, false);
  std::int64_t scratch = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const Node& n = graph.nodes[i];
    const bool layer_op = n.op_type == "Conv" || n.op_type == "Gemm" || n.op_type == "MatMul";
    if (!quant::has_quantized_weights(n)) {
      if (n.op_type == "MatMul" && n.inputs.size() == 2 && plan.fake_quant_of.count(n.inputs[0]))
        plan.reason[i] = "MatMul of two activations";
      continue;
    }
    LayerQuant q;
    std::string why = read_layer_quant(n, q);
    if (why.empty() && !layer_op) why = "op " + n.op_type;
    if (why.empty() && !q.has_x) {
      // Weight-only: the fp32 primitive, its weights unpacked from the codes on every run.
      const Shape& w = q.codes->shape();
      const std::int64_t rows = static_cast<std::int64_t>(q.scales.size()) / q.groups_per_row;
      const bool kn =
          n.op_type == "MatMul" || (n.op_type == "Gemm" && n.attr_int("transB", 0) == 0);
      // The weights' value is replaced by the unpacked buffer: it must have no other reader.
      int weight_readers = 0;
      for (const Node& other : graph.nodes)
        weight_readers +=
            static_cast<int>(std::count(other.inputs.begin(), other.inputs.end(), n.inputs[1]));
      if (!unsupported(graph, n, shape_of).empty() || !graph.initializers.count(n.inputs[1]) ||
          graph.initializers.at(n.inputs[1]).shape() != w || w.size() < 2 ||
          w[kn ? 1 : 0] != rows || weight_readers != 1) {
        plan.reason[i] = "weight-only layer oneDNN cannot run";
        continue;
      }
      plan.role[i] = IntRole::weight_only;
      scratch = std::max(scratch, q.codes->numel());
      plan.layer[static_cast<int>(i)] = std::move(q);
      continue;
    }
    auto fq = plan.fake_quant_of.find(n.inputs[0]);
    if (why.empty() && fq == plan.fake_quant_of.end()) why = "input not quantized";
    if (why.empty()) {
      const ActGrid& g = plan.grid.at(fq->second);
      if (g.bits != 8 || g.qmin < (g.qmin < 0 ? -128 : 0) || g.qmax > (g.qmin < 0 ? 127 : 255))
        why = std::to_string(g.bits) + "-bit activations";
    }
    if (why.empty()) why = int8_unsupported(graph, n, q, shape_of);
    if (!why.empty()) {
      plan.reason[i] = why;
      continue;
    }
    capable[i] = true;
    plan.layer[static_cast<int>(i)] = std::move(q);
  }
  // A FakeQuant produces codes when every reader is an int8 layer reading it as its input.
  for (const auto& [value, f] : plan.fake_quant_of) {
    bool codes = !readers[value].empty();
    for (const ValueInfo& out : graph.outputs) codes = codes && out.name != value;
    for (int r : readers[value]) {
      const Node& n = graph.nodes[r];
      codes = codes && capable[r] && std::count(n.inputs.begin(), n.inputs.end(), value) == 1 &&
              n.inputs[0] == value;
    }
    if (codes) plan.role[f] = IntRole::quantize;
    bool convs = codes;
    for (int r : readers[value]) convs = convs && graph.nodes[r].op_type == "Conv";
    plan.channels_last[f] = convs;
  }
  for (std::size_t i = 0; i < count; ++i) {
    if (!capable[i]) continue;
    if (plan.role[plan.fake_quant_of.at(graph.nodes[i].inputs[0])] == IntRole::quantize) {
      plan.role[i] = IntRole::integer;
    } else {
      plan.reason[i] = "input shared with a simulated layer";
      plan.layer.erase(static_cast<int>(i));
    }
  }
  if (scratch > 0) plan.scratch = Tensor(DType::f32, {scratch});
  return plan;
}

}  // namespace qs::onednn
