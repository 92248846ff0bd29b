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
// The box of elements a Slice with positive steps, or a Gather of one index, reads from its first
// input: per dimension the first index, the step and the count (a view for a device). `inputs`
// as for run_reference_node: the first input's shape is read, the other inputs' values. False
// when a parameter is not known or the node reads no such box.
struct StridedWindow {
  std::vector<std::int64_t> start, step, count;
};
bool strided_window(const Node& node, std::int64_t opset, const std::vector<const Tensor*>& inputs,
                    StridedWindow& window);
// Whether the reference kernels implement this op.
bool reference_supports(const std::string& op_type, const std::string& domain);

}  // namespace qs
