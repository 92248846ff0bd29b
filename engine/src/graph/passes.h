// Graph passes run once at import (internal to the engine).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "quantscope/graph.h"

namespace qs {

// Orders nodes topologically and checks the graph: every input defined, no tensor produced
// twice, no cycle. Throws Error naming the node.
// `outer`: names a subgraph reads from its enclosing graphs, available like inputs.
void sort_and_validate(Graph& graph, const std::set<std::string>& outer = {});
// The names a (sub)graph's nodes and outputs read that it does not define itself: the values of
// the enclosing graph it uses.
std::set<std::string> free_names(const Graph& graph);
// Throws Unsupported naming the first node whose op has no kernel (inside subgraphs too); with
// `problems`, lists every such node there instead.
void check_ops_supported(const Graph& graph, std::vector<std::string>* problems = nullptr);
// Replaces nodes whose inputs are all constant by initializers (Constant nodes included).
void fold_constants(Graph& graph);
// Folds BatchNormalization into the Conv, ConvTranspose-free Conv or Gemm that feeds it alone.
// The surviving node keeps its ONNX name and lists the BN node in folded_from.
void fold_batch_norm(Graph& graph);
// Drops initializers no node reads and that are not graph outputs.
void drop_unused_initializers(Graph& graph);
// Fuses LayerNormalization spelled as ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div[/Mul/Add]
// (exports before opset 17) into one node; needs value_info. Returns how many it fused.
int fuse_layer_norm(Graph& graph);
// Fuses RMSNormalization spelled as Pow/ReduceMean/Add/Sqrt/Div (or Reciprocal and Mul)[/Mul]
// into one node (ONNX's op from opset 23); needs value_info. Returns how many it fused.
int fuse_rms_norm(Graph& graph);
// Fuses attention spelled as MatMul/Transpose[/Div][/Add]/Softmax/MatMul, with grouped-query
// repeats and a cache's Concat, into Attention nodes (ONNX's op from opset 23); needs
// value_info. Returns how many it fused. Not run at import: devices without a fused kernel
// run the spelled-out form faster than the reference Attention (decoder sessions run it).
int fuse_attention(Graph& graph);
// Drops nodes whose outputs nothing reads (no node, no graph output), in topological order.
void drop_dead_nodes(Graph& graph);
// Drops Casts to float32 of float32 values (torch writes one around every RMSNorm), rewiring
// their readers; needs value_info. Returns how many it dropped.
int drop_identity_casts(Graph& graph);
// Infers every tensor's shape for the declared input shapes (dynamic dims as 1) into
// graph.value_info. Throws Error naming the node that fails; with `problems`, records the
// failure there and leaves the shapes that depend on it unknown. A node that fails on a shape
// computed from a dynamic dimension's placeholder is no error: its outputs stay unknown, and
// the model is checked on the shapes it is given when it runs.
void infer_graph_shapes(Graph& graph, std::vector<std::string>* problems = nullptr);

// Input shapes with dynamic dimensions replaced by chosen values.
struct PlaceholderShapes {
  std::map<std::string, Shape> shapes;  // by graph input name
  bool lenient = false;                 // every failing node leaves its outputs unknown
};
// The shapes (metadata tensors, small integer tensors computed) of every tensor that can be
// inferred from these input shapes, as infer_graph_shapes does. A node that fails on a shape
// computed from a placeholder leaves its outputs unknown and is listed in `placeholder_failures`
// (node name -> message) when given.
// `from_placeholder`, when given, receives the tensors whose shape or value came from a
// placeholder: the others that hold data are fixed by the declared shapes and the constants.
std::map<std::string, Tensor> infer_shapes_from_placeholders(
    const Graph& graph, const PlaceholderShapes& inputs, std::vector<std::string>* problems,
    std::map<std::string, std::string>* placeholder_failures = nullptr,
    std::set<std::string>* from_placeholder = nullptr);

// Replaces the nodes whose outputs the declared input shapes fix (Shape of a tensor with static
// dimensions, and the arithmetic exporters build on it: Gather, Concat, Unsqueeze, Cast, ...) by
// initializers, as ONNX Runtime's constant folding does once shapes are known. Nodes that
// depend on a dynamic dimension stay (devices fold them per input shape when they plan).
void fold_shape_computations(Graph& graph);

// `graph` with these intermediate tensors also as graph outputs (float32), so that any device
// returns them; names already inputs or outputs are skipped. For calibration and analysis.
Graph with_observed_outputs(Graph graph, const std::vector<std::string>& names);
}  // namespace qs
