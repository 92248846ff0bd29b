#include "quantscope/executor.h"

#include "runtime/graph_runner.h"

namespace qs {

void check_inputs(const Graph& graph, const TensorMap& inputs) {
  for (const ValueInfo& info : graph.inputs) {
    auto it = inputs.find(info.name);
    if (it == inputs.end()) throw Error("input '" + info.name + "' was not given");
    const Tensor& t = it->second;
    if (info.dtype != DType::undefined && t.dtype() != info.dtype)
      throw Error("input '" + info.name + "' must be " + dtype_name(info.dtype) + ", got " +
                  dtype_name(t.dtype()));
    if (!info.has_shape) continue;
    if (t.rank() != static_cast<int>(info.shape.size()))
      throw Error("input '" + info.name + "' must have shape " + shape_to_string(info.shape) +
                  ", got " + shape_to_string(t.shape()));
    for (std::size_t d = 0; d < info.shape.size(); ++d)
      if (info.shape[d] >= 0 && info.shape[d] != t.dim(static_cast<int>(d)))
        throw Error("input '" + info.name + "' must have shape " + shape_to_string(info.shape) +
                    ", got " + shape_to_string(t.shape()));
  }
  for (const auto& [name, tensor] : inputs) {
    bool known = false;
    for (const ValueInfo& info : graph.inputs) known = known || info.name == name;
    if (!known) throw Error("the model has no input named '" + name + "'");
  }
}

TensorMap infer_shapes(const Graph& graph, const TensorMap& input_meta) {
  TensorMap values = input_meta;
  run_nodes(graph, values, RunMode::infer_shapes);
  return values;
}

ReferenceExecutor::ReferenceExecutor(const Graph& graph) : graph_(graph) {}

void ReferenceExecutor::keep(const std::vector<std::string>& names) {
  keep_.insert(keep_.end(), names.begin(), names.end());
}

TensorMap ReferenceExecutor::run(const TensorMap& inputs) {
  check_inputs(graph_, inputs);
  TensorMap values = inputs;
  run_nodes(graph_, values, RunMode::execute, keep_);
  TensorMap result;
  auto fetch = [&](const std::string& name) {
    auto it = values.find(name);
    if (it != values.end()) return it->second;
    auto init = graph_.initializers.find(name);
    if (init != graph_.initializers.end()) return init->second;
    throw Error("output '" + name + "' was not computed");
  };
  for (const ValueInfo& out : graph_.outputs) result[out.name] = fetch(out.name);
  for (const std::string& name : keep_) result[name] = fetch(name);
  return result;
}

}  // namespace qs
