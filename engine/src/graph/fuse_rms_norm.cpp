// RMSNormalization (Llama, T5, Mistral, ...) as exporters spell it:
//   ms = ReduceMean(Pow(x, 2) or Mul(x, x), trailing axes); s = Sqrt(Add(ms, epsilon))
//   y = Div(x, s), or Mul(x, Div(1, s)), or Mul(x, Reciprocal(s))      [then * gamma]
// becomes one RMSNormalization node (ONNX's op from opset 23; ONNX Runtime's
// SimplifiedLayerNormalization fusion). The fused node takes the ReduceMean's name and lists
// the others in folded_from; x itself may have any number of other readers (it is usually the
// residual stream). Identity Casts in the chain are gone by now (drop_identity_casts).
#include <map>
#include <set>

#include "graph/passes.h"
#include "graph/pattern_util.h"

namespace qs {

namespace {

using patterns::ChainWalker;

class RmsNormMatcher : ChainWalker {
 public:
  using ChainWalker::ChainWalker;

  bool match(int first, patterns::Fusion& f) {
    const Node& mean = g_.nodes[first];
    if (mean.op_type != "ReduceMean" || mean.inputs.empty()) return false;
    auto square_at = u_.producer.find(mean.inputs[0]);
    if (square_at == u_.producer.end()) return false;
    const Node& square = g_.nodes[square_at->second];
    float two = 0;
    const bool is_square = (square.op_type == "Pow" && square.inputs.size() == 2 &&
                            patterns::scalar_constant(g_, square.inputs[1], two) && two == 2.0f) ||
                           (square.op_type == "Mul" && square.inputs.size() == 2 &&
                            square.inputs[0] == square.inputs[1]);
    if (!is_square || intermediate(square.outputs[0]) != 1) return false;
    const std::string x = square.inputs[0];
    auto info = g_.value_info.find(x);
    if (info == g_.value_info.end() || info->second.dtype() != DType::f32) return false;
    const Shape& shape = info->second.shape();
    const int rank = static_cast<int>(shape.size());
    const int axes = patterns::trailing_axes(g_, mean, rank);
    if (axes == 0) return false;
    std::vector<int>& chain = f.chain;
    chain = {first, square_at->second};
    const Node* add = only_reader(mean.outputs[0], 1, "Add", chain);
    float epsilon = 0;
    if (!add || add->inputs.size() != 2 ||
        !patterns::scalar_constant(g_, add->inputs[add->inputs[0] == mean.outputs[0] ? 1 : 0],
                                   epsilon))
      return false;
    const Node* sqrt = only_reader(add->outputs[0], 1, "Sqrt", chain);
    if (!sqrt) return false;
    const std::string output = normalized(*sqrt, x, chain);
    if (output.empty()) return false;
    // An optional scale over the normalized dimensions.
    std::string gamma, result = output;
    std::vector<int> with_scale = chain;
    if (const Node* mul = only_reader(output, 1, "Mul", with_scale)) {
      gamma = trailing_operand(*mul, output, shape, axes);
      if (!gamma.empty()) {
        chain = with_scale;
        result = mul->outputs[0];
      }
    }
    Node& fused = f.node;
    fused = Node{};
    fused.name = mean.name;
    fused.op_type = "RMSNormalization";
    fused.inputs = {x, gamma};
    fused.outputs = {result};
    fused.attributes["axis"].value = static_cast<std::int64_t>(rank - axes);
    fused.attributes["epsilon"].value = epsilon;
    for (int k : chain)
      if (k != first) fused.folded_from.push_back(g_.nodes[k].name);
    return true;
  }

 private:
  // x / sqrt as one of its three spellings; the division's output, or "".
  std::string normalized(const Node& sqrt, const std::string& x, std::vector<int>& chain) const {
    const std::string s = sqrt.outputs[0];
    if (intermediate(s) != 1) return "";
    const int reader = reader_of(s);
    const Node& n = g_.nodes[reader];
    chain.push_back(reader);
    if (n.op_type == "Div" && n.inputs.size() == 2 && n.inputs[0] == x && n.inputs[1] == s)
      return n.outputs[0];
    float one = 0;
    const bool reciprocal = (n.op_type == "Reciprocal") ||
                            (n.op_type == "Div" && n.inputs.size() == 2 && n.inputs[1] == s &&
                             patterns::scalar_constant(g_, n.inputs[0], one) && one == 1.0f);
    if (!reciprocal) return "";
    const std::string r = n.outputs[0];
    const Node* mul = only_reader(r, 1, "Mul", chain);
    if (!mul || mul->inputs.size() != 2 ||
        (mul->inputs[0] == r ? mul->inputs[1] : mul->inputs[0]) != x)
      return "";
    return mul->outputs[0];
  }

  int reader_of(const std::string& name) const {
    for (std::size_t i = 0; i < g_.nodes.size(); ++i)
      for (const std::string& in : g_.nodes[i].inputs)
        if (in == name) return static_cast<int>(i);
    return -1;
  }
};

}  // namespace

int fuse_rms_norm(Graph& graph) {
  const patterns::Uses uses = patterns::find_uses(graph);
  RmsNormMatcher matcher(graph, uses);
  return patterns::fuse_matches(
      graph, [&](int first, patterns::Fusion& f) { return matcher.match(first, f); });
}

int drop_identity_casts(Graph& graph) {
  const patterns::Uses uses = patterns::find_uses(graph);
  // Values subgraphs read by name stay as they are.
  std::set<std::string> outer;
  for (const Node& n : graph.nodes)
    for (std::size_t k = n.inputs.size() - static_cast<std::size_t>(n.outer_inputs);
         k < n.inputs.size(); ++k)
      outer.insert(n.inputs[k]);
  std::map<std::string, std::string> replaced;  // Cast output -> its input
  for (const Node& n : graph.nodes) {
    if (n.op_type != "Cast" || n.inputs.size() != 1 || n.outputs.size() != 1) continue;
    if (uses.outputs.count(n.outputs[0]) || outer.count(n.outputs[0])) continue;
    auto in = graph.value_info.find(n.inputs[0]);
    if (in == graph.value_info.end()) continue;
    const std::int64_t to = n.attr_int("to", 0);
    // ONNX TensorProto element types: FLOAT is 1.
    if (to == 1 && in->second.dtype() == DType::f32) replaced[n.outputs[0]] = n.inputs[0];
  }
  if (replaced.empty()) return 0;
  auto source = [&](std::string name) {
    for (auto it = replaced.find(name); it != replaced.end(); it = replaced.find(name))
      name = it->second;
    return name;
  };
  std::vector<Node> nodes;
  for (Node& n : graph.nodes) {
    if (n.op_type == "Cast" && n.outputs.size() == 1 && replaced.count(n.outputs[0])) continue;
    for (std::string& in : n.inputs)
      if (!in.empty()) in = source(in);
    nodes.push_back(std::move(n));
  }
  graph.nodes = std::move(nodes);
  for (const auto& [out, in] : replaced) graph.value_info.erase(out);
  return static_cast<int>(replaced.size());
}

}  // namespace qs
