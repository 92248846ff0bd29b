// The reference kernels, one node at a time: the fallback devices use for nodes they do not
// run themselves, and the ground truth they are tested against.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "quantscope/graph.h"

namespace qs {

// Runs one node on the reference kernels. inputs[i] is nullptr for an omitted optional input.
// Returns the node's outputs in order (undefined tensors for omitted outputs). Throws Error
// naming the node, Unsupported when no kernel exists.
std::vector<Tensor> run_reference_node(const Node& node, std::int64_t opset,
                                       const std::vector<const Tensor*>& inputs);
// Whether the reference kernels implement this op.
bool reference_supports(const std::string& op_type, const std::string& domain);

}  // namespace qs
