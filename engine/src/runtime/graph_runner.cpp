#include "runtime/graph_runner.h"

#include <algorithm>
#include <new>
#include <set>

#include "runtime/kernel.h"

namespace qs {

namespace {

std::string node_label(const Node& node) {
  return "node '" + node.name + "' (" + node.op_type + ")";
}
}  // namespace

std::vector<Tensor> run_node(const Node& node, std::int64_t opset,
                             const std::vector<const Tensor*>& inputs, RunMode mode,
                             const std::optional<kernels::IntegerLayer>* integer_form) {
  kernels::KernelFn fn = kernels::find_kernel(node.op_type, node.domain);
  if (!fn)
    throw Unsupported(node_label(node) + ": op " + (node.domain.empty() ? "" : node.domain + ".") +
                      node.op_type + " is not supported");
  kernels::KernelContext ctx{node, opset, inputs, {}, false};
  ctx.integer_form = integer_form;
  // Kernels hold references to declared outputs while declaring the next ones.
  ctx.outputs.reserve(node.outputs.size());
  if (mode == RunMode::infer_shapes) {
    bool all_known = true;
    std::int64_t elements = 0;
    for (const Tensor* t : inputs) {
      if (!t) continue;
      all_known = all_known && t->has_data();
      elements += t->numel();
    }
    ctx.shape_only = !(all_known && elements <= kernels::kSmallTensorElements);
    ctx.small_outputs_only = true;
  }
  try {
    try {
      fn(ctx);
    } catch (const kernels::OutputTooLargeToPrecompute&) {
      ctx.outputs.clear();
      ctx.shape_only = true;
      fn(ctx);
    }
  } catch (const std::bad_alloc&) {
    throw Error(node_label(node) + ": out of memory");
  } catch (const std::length_error&) {
    throw Error(node_label(node) + ": tensor too large");
  }
  std::vector<Tensor>& outs = ctx.outputs;
  const std::size_t declared = node.outputs.size();
  for (std::size_t i = 0; i < declared; ++i) {
    if (node.outputs[i].empty()) continue;
    if (i >= outs.size() || !outs[i].defined())
      throw Unsupported(node_label(node) + ": output " + std::to_string(i) + " is not produced");
  }
  return std::move(outs);
}

void run_nodes(const Graph& graph, std::map<std::string, Tensor>& values, RunMode mode,
               const std::vector<std::string>& keep, const NodeReplacement& replace,
               const kernels::PreparedLayers* prepared) {
  // Last node that reads each tensor, so intermediate tensors can be freed early.
  std::map<std::string, std::size_t> last_use;
  for (std::size_t i = 0; i < graph.nodes.size(); ++i)
    for (const std::string& in : graph.nodes[i].inputs)
      if (!in.empty()) last_use[in] = i;
  std::set<std::string> pinned(keep.begin(), keep.end());
  for (const ValueInfo& out : graph.outputs) pinned.insert(out.name);

  auto lookup = [&](const Node& node, const std::string& name) -> const Tensor* {
    if (name.empty()) return nullptr;
    auto it = values.find(name);
    if (it != values.end()) return &it->second;
    auto init = graph.initializers.find(name);
    if (init != graph.initializers.end()) return &init->second;
    throw Error(node_label(node) + ": input '" + name + "' is not defined");
  };

  const bool inferring = mode == RunMode::infer_shapes;
  for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& node = graph.nodes[i];
    std::vector<const Tensor*> inputs;
    inputs.reserve(node.inputs.size());
    bool known = true;
    for (const std::string& name : node.inputs) {
      // While inferring, a value whose shape depends on run-time data (the branch an If takes)
      // stays unknown, and so do the values computed from it.
      if (inferring && !name.empty() && !values.count(name) && !graph.initializers.count(name)) {
        known = false;
        break;
      }
      inputs.push_back(lookup(node, name));
    }
    if (!known) continue;
    std::vector<Tensor> outs;
    try {
      if (!replace || !replace(node, inputs, outs)) {
        const std::optional<kernels::IntegerLayer>* form = nullptr;
        if (prepared)
          if (auto it = prepared->find(&node); it != prepared->end()) form = &it->second;
        outs = run_node(node, graph.opset, inputs, mode, form);
      }
    } catch (const kernels::DataDependentShape&) {
      if (!inferring) throw;
      continue;
    }
    for (std::size_t k = 0; k < node.outputs.size(); ++k)
      if (!node.outputs[k].empty()) values[node.outputs[k]] = std::move(outs[k]);
    if (mode == RunMode::execute) {
      for (const std::string& name : node.inputs) {
        auto it = last_use.find(name);
        if (!name.empty() && it != last_use.end() && it->second == i && !pinned.count(name))
          values.erase(name);
      }
    }
  }
}

}  // namespace qs
