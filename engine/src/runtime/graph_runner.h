// Walks a graph's nodes in order and runs each kernel (internal to the engine).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "quantscope/graph.h"
#include "runtime/kernels/integer_layer.h"

namespace qs {

enum class RunMode {
  execute,      // compute every tensor
  infer_shapes  // shapes and dtypes; compute only small tensors whose inputs are all known;
                // a value that depends on run-time data (and what follows from it) is left out
};

// Runs the graph's nodes on `values` (inputs already present; initializers are looked up in
// the graph). In execute mode, tensors are dropped after their last use unless they are graph
// outputs or listed in `keep`. Errors name the node and op. `replace`, when given, sees each
// node with its inputs first; when it returns true it has set the node's outputs itself (the
// gradient engine holds piecewise ops in fixed pieces that way). `prepared`: the quantized
// layers' integer forms computed when the graph was compiled (cpu-ref).
using NodeReplacement = std::function<bool(
    const Node& node, const std::vector<const Tensor*>& inputs, std::vector<Tensor>& outputs)>;
void run_nodes(const Graph& graph, std::map<std::string, Tensor>& values, RunMode mode,
               const std::vector<std::string>& keep = {}, const NodeReplacement& replace = nullptr,
               const kernels::PreparedLayers* prepared = nullptr);

// Runs a single node on the given inputs (nullptr for omitted ones) and returns its outputs.
std::vector<Tensor> run_node(const Node& node, std::int64_t opset,
                             const std::vector<const Tensor*>& inputs, RunMode mode,
                             const std::optional<kernels::IntegerLayer>* integer_form = nullptr);

}  // namespace qs
