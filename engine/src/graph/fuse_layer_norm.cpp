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

namespace qs {

namespace {

struct Uses {
  std::map<std::string, int> readers;   // tensor -> number of node inputs reading it
  std::map<std::string, int> producer;  // tensor -> node index
  std::set<std::string> outputs;        // graph outputs
};

Uses find_uses(const Graph& g) {
  Uses u;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    for (const std::string& in : g.nodes[i].inputs)
      if (!in.empty()) ++u.readers[in];
    for (const std::string& out : g.nodes[i].outputs)
      if (!out.empty()) u.producer[out] = static_cast<int>(i);
  }
  for (const ValueInfo& out : g.outputs) u.outputs.insert(out.name);
  return u;
}

// The single float value of a scalar-like initializer, or false.
bool scalar_constant(const Graph& g, const std::string& name, float& value) {
  auto it = g.initializers.find(name);
  if (it == g.initializers.end() || it->second.numel() != 1 || it->second.dtype() != DType::f32)
    return false;
  value = it->second.data<float>()[0];
  return true;
}

// ReduceMean's axes as trailing-axis count (axes {-1} -> 1, {-2,-1} -> 2), or 0 when they are
// not the last dimensions of a tensor of `rank` or keepdims is off.
int trailing_axes(const Graph& g, const Node& n, int rank) {
  if (n.attr_int("keepdims", 1) == 0) return 0;
  std::vector<std::int64_t> axes = n.attr_ints("axes");
  if (n.has_input(1)) {
    auto it = g.initializers.find(n.inputs[1]);
    if (it == g.initializers.end()) return 0;
    axes = it->second.to_i64();
  }
  if (axes.empty() || rank <= 0) return 0;
  std::set<std::int64_t> normalized;
  for (std::int64_t a : axes) normalized.insert(a < 0 ? a + rank : a);
  const int count = static_cast<int>(normalized.size());
  for (int k = 0; k < count; ++k)
    if (!normalized.count(rank - 1 - k)) return 0;
  return count;
}

class LayerNormMatcher {
 public:
  LayerNormMatcher(const Graph& g, const Uses& u) : g_(g), u_(u) {}

  // Tries the chain starting at the ReduceMean `first`; fills `fused` and the nodes to drop.
  bool match(int first, Node& fused, std::vector<int>& chain) {
    const Node& mean = g_.nodes[first];
    if (mean.op_type != "ReduceMean" || mean.inputs.empty()) return false;
    const std::string x = mean.inputs[0];
    auto shape = g_.value_info.find(x);
    if (shape == g_.value_info.end() || shape->second.dtype() != DType::f32) return false;
    const int rank = shape->second.rank();
    const int axes = trailing_axes(g_, mean, rank);
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
      if ((n.op_type == "Pow" && n.inputs[0] == d && scalar_constant(g_, n.inputs[1], two) &&
           two == 2.0f) ||
          (n.op_type == "Mul" && n.inputs.size() == 2 && n.inputs[0] == d && n.inputs[1] == d))
        square = &n, chain.push_back(static_cast<int>(i));
      else if (n.op_type == "Div" && n.inputs[0] == d)
        div = &n, chain.push_back(static_cast<int>(i));
      else
        return false;
    }
    if (!square || !div || intermediate(d) != (square->op_type == "Mul" ? 3 : 2)) return false;
    const Node* var = only_reader(square->outputs[0], 1, "ReduceMean", chain);
    if (!var || trailing_axes(g_, *var, rank) != axes) return false;
    const Node* add = only_reader(var->outputs[0], 1, "Add", chain);
    float epsilon = 0;
    if (!add ||
        !scalar_constant(g_, add->inputs[add->inputs[0] == var->outputs[0] ? 1 : 0], epsilon))
      return false;
    const Node* sqrt = only_reader(add->outputs[0], 1, "Sqrt", chain);
    if (!sqrt || div->inputs[1] != sqrt->outputs[0] || intermediate(sqrt->outputs[0]) != 1)
      return false;
    // Optional scale and shift, constants over the normalized dimensions.
    std::string output = div->outputs[0], gamma, beta;
    if (const Node* mul = only_reader(output, 1, "Mul", chain)) {
      gamma = other_operand(*mul, output, shape->second.shape(), axes);
      if (gamma.empty())
        chain.pop_back();
      else
        output = mul->outputs[0];
    }
    if (const Node* bias = only_reader(output, 1, "Add", chain)) {
      beta = other_operand(*bias, output, shape->second.shape(), axes);
      if (beta.empty())
        chain.pop_back();
      else
        output = bias->outputs[0];
    }
    fused = Node{};
    fused.name = mean.name;
    fused.op_type = "LayerNormalization";
    fused.inputs = {x, gamma, beta};
    fused.outputs = {output};
    fused.attributes["axis"].value = static_cast<std::int64_t>(rank - axes);
    fused.attributes["epsilon"].value = epsilon;
    for (std::size_t k = 1; k < chain.size(); ++k)
      fused.folded_from.push_back(g_.nodes[chain[k]].name);
    return true;
  }

 private:
  // How many node inputs read `name`; -1 when it is also a graph output.
  int intermediate(const std::string& name) const {
    if (u_.outputs.count(name)) return -1;
    auto it = u_.readers.find(name);
    return it == u_.readers.end() ? 0 : it->second;
  }

  // The one node of type `op` that reads `name`, which nothing else reads; appended to chain.
  const Node* only_reader(const std::string& name, int readers, const char* op,
                          std::vector<int>& chain) const {
    if (intermediate(name) != readers) return nullptr;
    for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
      const Node& n = g_.nodes[i];
      for (const std::string& in : n.inputs)
        if (in == name) {
          if (n.op_type != op) return nullptr;
          chain.push_back(static_cast<int>(i));
          return &n;
        }
    }
    return nullptr;
  }

  // The initializer operand of a Mul/Add on `value`, when it has exactly the normalized
  // dimensions (the scale and shift LayerNormalization takes); "" otherwise.
  std::string other_operand(const Node& n, const std::string& value, const Shape& x,
                            int axes) const {
    if (n.inputs.size() != 2) return "";
    const std::string other = n.inputs[0] == value ? n.inputs[1] : n.inputs[0];
    auto it = g_.initializers.find(other);
    if (it == g_.initializers.end() || it->second.dtype() != DType::f32) return "";
    const Shape normalized(x.end() - axes, x.end());
    return it->second.shape() == normalized ? other : "";
  }

  const Graph& g_;
  const Uses& u_;
};

}  // namespace

int fuse_layer_norm(Graph& graph) {
  const Uses uses = find_uses(graph);
  LayerNormMatcher matcher(graph, uses);
  std::map<int, Node> replaced;  // first node index -> fused node
  std::set<int> dropped;
  for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
    if (dropped.count(static_cast<int>(i))) continue;
    Node fused;
    std::vector<int> chain;
    if (!matcher.match(static_cast<int>(i), fused, chain)) continue;
    bool overlaps = false;
    for (int k : chain) overlaps = overlaps || dropped.count(k);
    if (overlaps) continue;
    // No scale: LayerNormalization requires one, of ones over the normalized dimensions.
    if (fused.inputs[1].empty()) {
      const Shape& x = graph.value_info.at(fused.inputs[0]).shape();
      const int axis = static_cast<int>(std::get<std::int64_t>(fused.attributes["axis"].value));
      Tensor ones(DType::f32, Shape(x.begin() + axis, x.end()));
      for (std::int64_t k = 0; k < ones.numel(); ++k) ones.data<float>()[k] = 1.0f;
      fused.inputs[1] = fused.name + ".scale_ones";
      graph.initializers[fused.inputs[1]] = ones;
    }
    if (fused.inputs[2].empty()) fused.inputs.pop_back();
    for (int k : chain) dropped.insert(k);
    replaced[static_cast<int>(i)] = std::move(fused);
  }
  if (replaced.empty()) return 0;
  // The fused node goes where the chain's last node was: every input it reads is ready there.
  std::map<int, int> position;  // last chain node -> first node
  for (const auto& [first, node] : replaced) {
    int last = first;
    for (std::size_t i = 0; i < graph.nodes.size(); ++i)
      for (const std::string& out : graph.nodes[i].outputs)
        if (out == node.outputs[0]) last = static_cast<int>(i);
    position[last] = first;
  }
  std::vector<Node> nodes;
  for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
    auto at = position.find(static_cast<int>(i));
    if (at != position.end()) {
      nodes.push_back(std::move(replaced[at->second]));
      continue;
    }
    if (!dropped.count(static_cast<int>(i))) nodes.push_back(std::move(graph.nodes[i]));
  }
  graph.nodes = std::move(nodes);
  return static_cast<int>(replaced.size());
}

}  // namespace qs
