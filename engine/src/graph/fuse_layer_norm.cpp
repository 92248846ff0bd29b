// LayerNormalization as exporters before opset 17 spell it:
//   mean = ReduceMean(x, trailing axes); d = Sub(x, mean); v = ReduceMean(Pow(d, 2) or Mul(d, d))
//   y = Div(d, Sqrt(Add(v, epsilon))) [* gamma] [+ beta]
// becomes one LayerNormalization node (what ONNX Runtime's layer_norm_fusion does). The fused
// node takes the ReduceMean's name and lists the others in folded_from; it writes the last
// node's output, so every consumer stays wired. A chain that does not match exactly is left as
// it is.
#include <map>
#include <set>

#include "graph/passes.h"
#include "graph/pattern_util.h"

namespace qs {

namespace {

using patterns::ChainWalker;

class LayerNormMatcher : ChainWalker {
 public:
  using ChainWalker::ChainWalker;

  // Tries the chain starting at the ReduceMean `first`; fills `fused` and the nodes to drop.
  bool match(int first, patterns::Fusion& f) {
    Node& fused = f.node;
    std::vector<int>& chain = f.chain;
    const Node& mean = g_.nodes[first];
    if (mean.op_type != "ReduceMean" || mean.inputs.empty()) return false;
    const std::string x = mean.inputs[0];
    auto shape = g_.value_info.find(x);
    if (shape == g_.value_info.end() || shape->second.dtype() != DType::f32) return false;
    const int rank = shape->second.rank();
    const int axes = patterns::trailing_axes(g_, mean, rank);
    if (axes == 0) return false;
    chain = {first};
    const Node* sub = only_reader(mean.outputs[0], 1, "Sub", chain);
    if (!sub || sub->inputs[0] != x || sub->inputs[1] != mean.outputs[0]) return false;
    const std::string d = sub->outputs[0];
    // d is read by the square (once, or twice by Mul(d, d)) and by the Div.
    const Node* square = nullptr;
    const Node* div = nullptr;
    for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
      const Node& n = g_.nodes[i];
      if (n.inputs.empty() || (n.inputs[0] != d && (n.inputs.size() < 2 || n.inputs[1] != d)))
        continue;
      float two = 0;
      if ((n.op_type == "Pow" && n.inputs[0] == d &&
           patterns::scalar_constant(g_, n.inputs[1], two) && two == 2.0f) ||
          (n.op_type == "Mul" && n.inputs.size() == 2 && n.inputs[0] == d && n.inputs[1] == d))
        square = &n, chain.push_back(static_cast<int>(i));
      else if (n.op_type == "Div" && n.inputs[0] == d)
        div = &n, chain.push_back(static_cast<int>(i));
      else
        return false;
    }
    if (!square || !div || intermediate(d) != (square->op_type == "Mul" ? 3 : 2)) return false;
    const Node* var = only_reader(square->outputs[0], 1, "ReduceMean", chain);
    if (!var || patterns::trailing_axes(g_, *var, rank) != axes) return false;
    const Node* add = only_reader(var->outputs[0], 1, "Add", chain);
    float epsilon = 0;
    if (!add || !patterns::scalar_constant(
                    g_, add->inputs[add->inputs[0] == var->outputs[0] ? 1 : 0], epsilon))
      return false;
    const Node* sqrt = only_reader(add->outputs[0], 1, "Sqrt", chain);
    if (!sqrt || div->inputs[1] != sqrt->outputs[0] || intermediate(sqrt->outputs[0]) != 1)
      return false;
    // Optional scale and shift, constants over the normalized dimensions.
    std::string output = div->outputs[0], gamma, beta;
    if (const Node* mul = only_reader(output, 1, "Mul", chain)) {
      gamma = trailing_operand(*mul, output, shape->second.shape(), axes);
      if (gamma.empty())
        chain.pop_back();
      else
        output = mul->outputs[0];
    }
    if (const Node* bias = only_reader(output, 1, "Add", chain)) {
      beta = trailing_operand(*bias, output, shape->second.shape(), axes);
      if (beta.empty())
        chain.pop_back();
      else
        output = bias->outputs[0];
    }
    fused = Node{};
    fused.name = mean.name;
    fused.op_type = "LayerNormalization";
    fused.inputs = {x, gamma};
    if (!beta.empty()) fused.inputs.push_back(beta);
    fused.outputs = {output};
    fused.attributes["axis"].value = static_cast<std::int64_t>(rank - axes);
    fused.attributes["epsilon"].value = epsilon;
    for (std::size_t k = 1; k < chain.size(); ++k)
      fused.folded_from.push_back(g_.nodes[chain[k]].name);
    return true;
  }
};

}  // namespace

int fuse_layer_norm(Graph& graph) {
  const patterns::Uses uses = patterns::find_uses(graph);
  LayerNormMatcher matcher(graph, uses);
  return patterns::fuse_matches(
      graph, [&](int first, patterns::Fusion& f) { return matcher.match(first, f); });
}

}  // namespace qs
