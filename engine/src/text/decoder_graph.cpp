#include "text/decoder_graph.h"

#include <limits>

#include "graph/passes.h"
#include "graph/pattern_util.h"

namespace qs {

namespace {

// Node inputs and graph outputs reading `value`.
int readers_of(const patterns::Uses& uses, const std::string& value) {
  auto it = uses.readers.find(value);
  return (it == uses.readers.end() ? 0 : it->second) + static_cast<int>(uses.outputs.count(value));
}

int producer_of(const patterns::Uses& uses, const std::string& value) {
  auto it = uses.producer.find(value);
  return it == uses.producer.end() ? -1 : it->second;
}

bool constant_of_rank_at_most(const Graph& graph, const std::string& name, std::int64_t rank) {
  auto it = graph.initializers.find(name);
  return it != graph.initializers.end() && it->second.rank() <= rank;
}

}  // namespace

std::optional<Graph> with_last_position_logits(const Graph& graph, const DecoderLayout& layout) {
  const patterns::Uses uses = patterns::find_uses(graph);
  // Logits that another node reads too would reach it cut to the last position.
  int head = producer_of(uses, layout.logits);
  if (head < 0 || readers_of(uses, layout.logits) != 1) return std::nullopt;
  // A bias over the vocabulary after the MatMul is the same for every row.
  const Node* node = &graph.nodes[static_cast<std::size_t>(head)];
  if (node->op_type == "Add" && node->inputs.size() == 2) {
    const int biased = constant_of_rank_at_most(graph, node->inputs[1], 1)   ? 0
                       : constant_of_rank_at_most(graph, node->inputs[0], 1) ? 1
                                                                             : -1;
    if (biased < 0 || readers_of(uses, node->inputs[biased]) != 1) return std::nullopt;
    head = producer_of(uses, node->inputs[biased]);
    if (head < 0) return std::nullopt;
    node = &graph.nodes[static_cast<std::size_t>(head)];
  }
  if (node->op_type != "MatMul" || node->inputs.size() != 2 ||
      !constant_of_rank_at_most(graph, node->inputs[1], 2) ||
      graph.initializers.at(node->inputs[1]).rank() != 2)
    return std::nullopt;
  auto hidden = graph.value_info.find(node->inputs[0]);
  if (hidden == graph.value_info.end() || hidden->second.rank() != 3) return std::nullopt;

  Graph out = graph;
  const std::string prefix = node->name + "/last_position";
  out.initializers[prefix + "/starts"] = Tensor::from_vector<std::int64_t>({1}, {-1});
  out.initializers[prefix + "/ends"] =
      Tensor::from_vector<std::int64_t>({1}, {std::numeric_limits<std::int64_t>::max()});
  out.initializers[prefix + "/axes"] = Tensor::from_vector<std::int64_t>({1}, {1});
  Node slice;
  slice.name = prefix;
  slice.op_type = "Slice";
  slice.inputs = {node->inputs[0], prefix + "/starts", prefix + "/ends", prefix + "/axes"};
  slice.outputs = {prefix + "/output"};
  Node& matmul = out.nodes[static_cast<std::size_t>(head)];
  matmul.inputs[0] = slice.outputs[0];
  out.nodes.insert(out.nodes.begin() + head, std::move(slice));
  for (ValueInfo& v : out.outputs)
    if (v.name == layout.logits && v.shape.size() == 3) v.shape[1] = 1;
  infer_graph_shapes(out);
  return out;
}

std::optional<AppendedCacheGraph> with_appended_cache(const Graph& graph,
                                                      const DecoderLayout& layout) {
  if (layout.cache.empty()) return std::nullopt;
  AppendedCacheGraph out{graph, {}};
  Graph& g = out.graph;
  if (fuse_attention(g) == 0) return std::nullopt;
  // Who reads each present; the renames below touch no other entry's readers.
  const patterns::Uses uses = patterns::find_uses(g);
  for (const DecoderLayout::CacheEntry& entry : layout.cache) {
    Node* attention = nullptr;
    std::size_t k = 0;
    for (Node& n : g.nodes)
      for (std::size_t o : {std::size_t{1}, std::size_t{2}})
        if (n.op_type == "Attention" && n.outputs.size() > o && n.outputs[o] == entry.present &&
            n.inputs.size() > o + 3 && n.inputs[o + 3] == entry.past) {
          attention = &n;
          k = o;
        }
    // The present read by another node too (its length by a Shape): it must be made.
    if (!attention || readers_of(uses, entry.present) != 1) return std::nullopt;
    attention->outputs[k] = "";
    const std::string rows = attention->inputs[k];
    for (ValueInfo& v : g.outputs)
      if (v.name == entry.present) {
        v.name = rows;
        v.shape = {-1, entry.shape[1], -1, entry.shape[3]};
      }
    out.rows.push_back(rows);
  }
  // Outputs nothing reads and the graph no longer gives drop off the nodes' lists.
  for (Node& n : g.nodes)
    if (n.op_type == "Attention" && n.outputs.size() == 3 && n.outputs[1].empty() &&
        n.outputs[2].empty())
      n.outputs.resize(1);
  infer_graph_shapes(g);
  return out;
}

}  // namespace qs
