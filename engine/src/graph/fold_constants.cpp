#include <set>

#include "graph/passes.h"
#include "runtime/graph_runner.h"
#include "runtime/kernel.h"

namespace qs {

void fold_constants(Graph& graph) {
  std::set<std::string> graph_inputs;
  for (const ValueInfo& in : graph.inputs) graph_inputs.insert(in.name);
  std::vector<Node> kept;
  for (Node& node : graph.nodes) {
    bool constant = true;
    std::vector<const Tensor*> inputs;
    for (const std::string& name : node.inputs) {
      if (name.empty()) {
        inputs.push_back(nullptr);
        continue;
      }
      auto it = graph.initializers.find(name);
      if (it == graph.initializers.end() || graph_inputs.count(name)) {
        constant = false;
        break;
      }
      inputs.push_back(&it->second);
    }
    // QuantizeLinear/DequantizeLinear on weights stay visible: they describe a quantized model.
    if (!constant || node.op_type == "DequantizeLinear" || node.op_type == "QuantizeLinear") {
      kept.push_back(std::move(node));
      continue;
    }
    std::vector<Tensor> outs = run_node(node, graph.opset, inputs, RunMode::execute);
    for (std::size_t k = 0; k < node.outputs.size(); ++k)
      if (!node.outputs[k].empty()) graph.initializers[node.outputs[k]] = std::move(outs[k]);
  }
  graph.nodes = std::move(kept);
}

void drop_unused_initializers(Graph& graph) {
  std::set<std::string> used;
  for (const Node& n : graph.nodes) used.insert(n.inputs.begin(), n.inputs.end());
  for (const ValueInfo& out : graph.outputs) used.insert(out.name);
  for (auto it = graph.initializers.begin(); it != graph.initializers.end();)
    it = used.count(it->first) ? std::next(it) : graph.initializers.erase(it);
}

std::map<std::string, Tensor> infer_shapes_from_placeholders(
    const Graph& graph, const PlaceholderShapes& inputs, std::vector<std::string>* problems,
    std::map<std::string, std::string>* placeholder_failures,
    std::set<std::string>* placeholder_values) {
  std::map<std::string, Tensor> values;
  // Tensors whose shape was computed from a placeholder dimension: a node that fails on them
  // failed on the placeholder, not on the model (a Conv with kernel 512 over a length taken
  // as 1), and only leaves its outputs unknown. Real inputs are checked when the model runs.
  std::set<std::string> from_placeholder;
  for (const ValueInfo& in : graph.inputs) {
    auto it = inputs.shapes.find(in.name);
    if (it == inputs.shapes.end()) continue;
    values[in.name] = Tensor::meta(in.dtype, it->second);
    for (std::int64_t d : in.shape)
      if (d < 0) from_placeholder.insert(in.name);
  }
  for (const Node& node : graph.nodes) {
    std::vector<const Tensor*> node_inputs;
    bool known = true, placeholder = false;
    for (const std::string& name : node.inputs) {
      if (name.empty()) {
        node_inputs.push_back(nullptr);
        continue;
      }
      auto v = values.find(name);
      auto init = graph.initializers.find(name);
      if (v != values.end())
        node_inputs.push_back(&v->second);
      else if (init != graph.initializers.end())
        node_inputs.push_back(&init->second);
      else
        known = false;
      placeholder = placeholder || from_placeholder.count(name);
    }
    if (!known || (problems && !kernels::find_kernel(node.op_type, node.domain))) continue;
    try {
      std::vector<Tensor> outs = run_node(node, graph.opset, node_inputs, RunMode::infer_shapes);
      for (std::size_t k = 0; k < node.outputs.size(); ++k) {
        if (node.outputs[k].empty()) continue;
        values[node.outputs[k]] = std::move(outs[k]);
        if (placeholder) from_placeholder.insert(node.outputs[k]);
      }
    } catch (const kernels::DataDependentShape&) {
      continue;
    } catch (const Error& e) {
      if (placeholder && placeholder_failures) (*placeholder_failures)[node.name] = e.what();
      if (placeholder || inputs.lenient) continue;
      if (!problems) throw;
      problems->push_back(e.what());
    }
  }
  if (placeholder_values) *placeholder_values = std::move(from_placeholder);
  return values;
}

void fold_shape_computations(Graph& graph) {
  PlaceholderShapes ones;
  ones.lenient = true;
  for (const ValueInfo& in : graph.inputs) {
    if (!in.has_shape) return;
    Shape shape = in.shape;
    for (auto& d : shape)
      if (d < 0) d = 1;
    ones.shapes[in.name] = shape;
  }
  std::set<std::string> from_placeholder;
  std::map<std::string, Tensor> values =
      infer_shapes_from_placeholders(graph, ones, nullptr, nullptr, &from_placeholder);
  auto fixed = [&](const std::string& name) {
    auto it = values.find(name);
    return it != values.end() && it->second.has_data() && !from_placeholder.count(name);
  };
  std::vector<Node> kept;
  for (Node& node : graph.nodes) {
    bool all_fixed = !node.outputs.empty();
    for (const std::string& out : node.outputs)
      all_fixed = all_fixed && (out.empty() || fixed(out));
    // A quantized model's QuantizeLinear/DequantizeLinear stay visible (as fold_constants keeps
    // them); nodes of Quantscope's own domain too.
    if (!all_fixed || node.op_type == "QuantizeLinear" || node.op_type == "DequantizeLinear" ||
        !node.domain.empty()) {
      kept.push_back(std::move(node));
      continue;
    }
    for (const std::string& out : node.outputs)
      if (!out.empty()) graph.initializers[out] = values.at(out);
  }
  graph.nodes = std::move(kept);
}

void infer_graph_shapes(Graph& graph, std::vector<std::string>* problems) {
  PlaceholderShapes ones, large;
  large.lenient = true;
  for (const ValueInfo& in : graph.inputs) {
    if (!in.has_shape)
      throw Error("input '" + in.name + "' has no declared shape; shapes cannot be inferred");
    Shape shape = in.shape;
    for (auto& d : shape)
      if (d < 0) d = 1;
    ones.shapes[in.name] = shape;
    shape = in.shape;
    for (auto& d : shape)
      if (d < 0) d = 40320;  // 8!: divisible as window and head counts are
    large.shapes[in.name] = shape;
  }
  std::map<std::string, std::string> failed;
  std::map<std::string, Tensor> values =
      infer_shapes_from_placeholders(graph, ones, problems, &failed);
  if (!failed.empty()) {
    // A node that failed with dynamic dimensions taken as 1 is a real error only when it fails
    // with them taken large too (a kernel longer than a fixed dimension, not than the
    // placeholder); either way the shapes stay those for 1.
    std::map<std::string, std::string> failed_large;
    infer_shapes_from_placeholders(graph, large, nullptr, &failed_large);
    for (const Node& node : graph.nodes) {
      auto it = failed.find(node.name);
      if (it == failed.end() || !failed_large.count(node.name)) continue;
      if (!problems) throw Error(it->second);
      problems->push_back(it->second);
    }
  }
  graph.value_info.clear();
  graph.shape_values.clear();
  for (auto& [name, t] : values) {
    graph.value_info[name] = Tensor::meta(t.dtype(), t.shape());
    if (t.has_data() && !graph.initializers.count(name)) graph.shape_values.insert(name);
  }
  for (const auto& [name, t] : graph.initializers)
    graph.value_info[name] = Tensor::meta(t.dtype(), t.shape());
}

}  // namespace qs
