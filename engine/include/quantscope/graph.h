// The engine's model IR: nodes in topological order over named, typed tensors.
// Produced by load_model(); every node keeps the name it had in the ONNX file.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "quantscope/tensor.h"

namespace qs {

// The domain of Quantscope's own ops (FakeQuant), which quantization inserts into graphs.
inline constexpr char kQuantscopeDomain[] = "ai.quantscope";

struct Graph;

struct Attribute {
  // A subgraph (If's branches, Loop's body) is shared: copies of a Graph share its subgraphs.
  using Value =
      std::variant<std::int64_t, float, std::string, std::vector<std::int64_t>, std::vector<float>,
                   std::vector<std::string>, Tensor, std::shared_ptr<const Graph>>;
  Value value;
};

struct Node {
  std::string name;     // as in the ONNX file (or "<op>_<index>" when the file had none)
  std::string op_type;  // "Conv", "Relu", ...
  std::string domain;   // "" for the default ONNX domain
  std::vector<std::string> inputs;   // "" marks an omitted optional input
  std::vector<std::string> outputs;  // "" marks an omitted optional output
  std::map<std::string, Attribute> attributes;
  // Names of ONNX nodes this node stands for after folding (e.g. Conv+BatchNormalization).
  std::vector<std::string> folded_from;
  // The last `outer_inputs` entries of `inputs` are not the op's inputs but the values of the
  // enclosing graph its subgraphs read (If's branches): listed so that ordering and lifetimes
  // see them. Not written back to ONNX.
  int outer_inputs = 0;

  bool has_attr(const std::string& key) const { return attributes.count(key) != 0; }
  std::int64_t attr_int(const std::string& key, std::int64_t fallback) const;
  float attr_float(const std::string& key, float fallback) const;
  std::string attr_string(const std::string& key, const std::string& fallback) const;
  std::vector<std::int64_t> attr_ints(const std::string& key,
                                      const std::vector<std::int64_t>& fallback = {}) const;
  std::vector<float> attr_floats(const std::string& key) const;
  const Tensor* attr_tensor(const std::string& key) const;
  // A subgraph attribute, or nullptr.
  const Graph* attr_graph(const std::string& key) const;
  // Number of inputs that are present (not omitted), counting only up to the last present one.
  int input_count() const;
  bool has_input(int i) const { return i < static_cast<int>(inputs.size()) && !inputs[i].empty(); }
};

// Declared dtype and shape of a graph input or output; -1 marks a dynamic dimension.
struct ValueInfo {
  std::string name;
  DType dtype = DType::undefined;
  Shape shape;
  std::vector<std::string> dim_names;  // symbolic names of dynamic dims ("N"), "" when fixed
  bool has_shape = false;
};

struct Graph {
  std::vector<Node> nodes;                     // topological order
  std::map<std::string, Tensor> initializers;  // constants: weights, folded values
  std::vector<ValueInfo> inputs;               // runtime inputs only (no initializers)
  std::vector<ValueInfo> outputs;
  // Inferred dtype and shape of every tensor, for the inputs' declared shapes with dynamic
  // dimensions taken as 1.
  std::map<std::string, Tensor> value_info;
  // Tensors whose values follow from the input shapes alone (Shape of an input with a dynamic
  // batch, and the arithmetic on it): a device computes them once when it prepares the graph for
  // given input shapes. Filled with value_info.
  std::set<std::string> shape_values;
  std::int64_t opset = 0;                       // default-domain opset version
  std::map<std::string, std::string> metadata;  // metadata_props
  std::string name;
  std::string producer;
  std::string source_path;
  // Only with LoadOptions::require_supported = false: "node 'x' (Op): reason" per problem.
  std::vector<std::string> problems;
  // Initializers read from a narrower ONNX type (LoadOptions::widen_narrow_types): name -> type.
  std::map<std::string, int> widened_types;

  const Node* find_node(const std::string& name) const;
};

}  // namespace qs
