#include "graph/pattern_util.h"

namespace qs::patterns {

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

bool scalar_constant(const Graph& g, const std::string& name, float& value) {
  auto it = g.initializers.find(name);
  if (it == g.initializers.end() || it->second.numel() != 1 || it->second.dtype() != DType::f32)
    return false;
  value = it->second.data<float>()[0];
  return true;
}

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

int ChainWalker::intermediate(const std::string& name) const {
  if (u_.outputs.count(name)) return -1;
  auto it = u_.readers.find(name);
  return it == u_.readers.end() ? 0 : it->second;
}

const Node* ChainWalker::only_reader(const std::string& name, int readers, const char* op,
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

std::string ChainWalker::trailing_operand(const Node& n, const std::string& value, const Shape& x,
                                          int axes) const {
  if (n.inputs.size() != 2) return "";
  const std::string other = n.inputs[0] == value ? n.inputs[1] : n.inputs[0];
  auto it = g_.initializers.find(other);
  if (it == g_.initializers.end() || it->second.dtype() != DType::f32) return "";
  const Shape normalized(x.end() - axes, x.end());
  return it->second.shape() == normalized ? other : "";
}

void splice(Graph& graph, std::vector<Fusion> fusions) {
  if (fusions.empty()) return;
  std::map<std::string, int> producer;
  for (std::size_t i = 0; i < graph.nodes.size(); ++i)
    for (const std::string& out : graph.nodes[i].outputs) producer[out] = static_cast<int>(i);
  std::map<int, std::size_t> at_position;  // index of a chain's last node -> fusion
  std::set<int> dropped;
  for (std::size_t f = 0; f < fusions.size(); ++f) {
    at_position[producer.at(fusions[f].node.outputs[0])] = f;
    dropped.insert(fusions[f].chain.begin(), fusions[f].chain.end());
  }
  std::vector<Node> nodes;
  for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
    auto at = at_position.find(static_cast<int>(i));
    if (at != at_position.end())
      nodes.push_back(std::move(fusions[at->second].node));
    else if (!dropped.count(static_cast<int>(i)))
      nodes.push_back(std::move(graph.nodes[i]));
  }
  graph.nodes = std::move(nodes);
}

int fuse_matches(Graph& graph, const std::function<bool(int, Fusion&)>& match) {
  std::vector<Fusion> fusions;
  std::set<int> taken;
  for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
    Fusion f;
    if (taken.count(static_cast<int>(i)) || !match(static_cast<int>(i), f)) continue;
    bool overlaps = false;
    for (int k : f.chain) overlaps = overlaps || taken.count(k);
    if (overlaps) continue;
    if (f.node.inputs.size() > 1 && f.node.inputs[1].empty())
      f.node.inputs[1] = ones_scale(graph, f.node, static_cast<int>(f.node.attr_int("axis", -1)));
    taken.insert(f.chain.begin(), f.chain.end());
    fusions.push_back(std::move(f));
  }
  const int count = static_cast<int>(fusions.size());
  splice(graph, std::move(fusions));
  return count;
}

std::string ones_scale(Graph& graph, const Node& node, int axis) {
  const Shape& x = graph.value_info.at(node.inputs[0]).shape();
  Tensor ones(DType::f32, Shape(x.begin() + axis, x.end()));
  for (std::int64_t k = 0; k < ones.numel(); ++k) ones.data<float>()[k] = 1.0f;
  const std::string name = node.name + ".scale_ones";
  graph.initializers[name] = ones;
  return name;
}

}  // namespace qs::patterns
