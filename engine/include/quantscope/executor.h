// Runs a graph on the reference CPU kernels.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "quantscope/graph.h"

namespace qs {

using TensorMap = std::map<std::string, Tensor>;

// Shapes and dtypes of every tensor for the given input shapes (no computation beyond the
// small integer tensors that shapes depend on). Throws Error naming the node that fails.
TensorMap infer_shapes(const Graph& graph, const TensorMap& input_meta);

// Executes a graph with the reference kernels. Not thread-safe; one per thread.
class ReferenceExecutor {
 public:
  explicit ReferenceExecutor(const Graph& graph);
  // Runs the graph on named inputs; returns the graph outputs by name. Missing inputs, wrong
  // dtypes or ranks give an Error naming the input.
  TensorMap run(const TensorMap& inputs);
  // Also keep these intermediate tensors in the result.
  void keep(const std::vector<std::string>& names);

 private:
  const Graph& graph_;
  std::vector<std::string> keep_;
};

// Throws Error when inputs do not match the graph's declared inputs (name, dtype, rank,
// fixed dimensions).
void check_inputs(const Graph& graph, const TensorMap& inputs);

}  // namespace qs
