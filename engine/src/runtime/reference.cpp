#include "quantscope/reference.h"

#include "quantscope/device.h"
#include "runtime/graph_runner.h"
#include "runtime/kernel.h"

namespace qs {

std::vector<Tensor> run_reference_node(const Node& node, std::int64_t opset,
                                       const std::vector<const Tensor*>& inputs) {
  return run_node(node, opset, inputs, RunMode::execute);
}

bool reference_supports(const std::string& op_type, const std::string& domain) {
  return kernels::find_kernel(op_type, domain) != nullptr;
}

std::vector<Placement> placement(const Device& device, const Graph& graph) {
  std::vector<Placement> result;
  for (const Node& node : graph.nodes) {
    std::string reason = device.unsupported_reason(graph, node);
    result.push_back({node.name, node.op_type, reason.empty() ? device.name() : "cpu-ref", reason});
  }
  return result;
}

}  // namespace qs
