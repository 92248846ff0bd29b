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

void infer_graph_shapes(Graph& graph, std::vector<std::string>* problems) {
  std::map<std::string, Tensor> values;
  for (const ValueInfo& in : graph.inputs) {
    if (!in.has_shape)
      throw Error("input '" + in.name + "' has no declared shape; shapes cannot be inferred");
    Shape shape = in.shape;
    for (auto& d : shape)
      if (d < 0) d = 1;
    values[in.name] = Tensor::meta(in.dtype, shape);
  }
  // Node by node: a shape that depends on run-time values (or, with `problems`, a failure)
  // leaves only the shapes that depend on it unknown.
  for (const Node& node : graph.nodes) {
    std::vector<const Tensor*> inputs;
    bool known = true;
    for (const std::string& name : node.inputs) {
      if (name.empty()) {
        inputs.push_back(nullptr);
        continue;
      }
      auto v = values.find(name);
      auto init = graph.initializers.find(name);
      if (v != values.end())
        inputs.push_back(&v->second);
      else if (init != graph.initializers.end())
        inputs.push_back(&init->second);
      else
        known = false;
    }
    if (!known || (problems && !kernels::find_kernel(node.op_type, node.domain))) continue;
    try {
      std::vector<Tensor> outs = run_node(node, graph.opset, inputs, RunMode::infer_shapes);
      for (std::size_t k = 0; k < node.outputs.size(); ++k)
        if (!node.outputs[k].empty()) values[node.outputs[k]] = std::move(outs[k]);
    } catch (const kernels::DataDependentShape&) {
      continue;
    } catch (const Error& e) {
      if (!problems) throw;
      problems->push_back(e.what());
    }
  }
  graph.value_info.clear();
  for (auto& [name, t] : values) graph.value_info[name] = Tensor::meta(t.dtype(), t.shape());
  for (const auto& [name, t] : graph.initializers)
    graph.value_info[name] = Tensor::meta(t.dtype(), t.shape());
}

}  // namespace qs
