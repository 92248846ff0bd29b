// Attention as exporters spell it (Hugging Face's Llama, Mistral, Qwen2 and others like them):
//   scores = MatMul(Q, Transpose(K', perm [0, 1, 3, 2]))  [then Div or Mul by a constant]
//            [then Where(allowed, scores, fill) (GPT-2)] [then Add(mask)]
//   Y = MatMul(Softmax(scores, last axis), V')
// with K' and V' either K and V [B, Hkv, T, d] or those repeated for the query heads sharing
// them (repeat_kv: Reshape(Expand(Unsqueeze(K, 2), [B, Hkv, G, T, d]), [B, Hkv*G, T, d])), and
// K and V either computed or Concat(past, new, axis 2) of a cache. It becomes one Attention
// node (ONNX's op from opset 23) with the past as its own inputs and the present as its
// outputs: a device reads the cache where it is instead of copying and repeating it, and a
// decoder session can leave the present unmade (decoder_graph.cpp).
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "graph/passes.h"
#include "graph/pattern_util.h"

namespace qs {

namespace {

// `base`, or `base` with a number after it, that no tensor or node of the graph is named yet.
std::string fresh_name(const Graph& graph, const std::string& base) {
  auto taken = [&](const std::string& name) {
    if (graph.initializers.count(name) || graph.value_info.count(name)) return true;
    for (const Node& n : graph.nodes)
      if (n.name == name || n.name.rfind(name + "/", 0) == 0) return true;
    return false;
  };
  std::string name = base;
  for (int k = 2; taken(name); ++k) name = base + "_" + std::to_string(k);
  return name;
}

class AttentionMatcher : patterns::ChainWalker {
 public:
  using ChainWalker::ChainWalker;

  bool match(int first, patterns::Fusion& f) {
    const Node& scores = g_.nodes[first];
    if (scores.op_type != "MatMul" || scores.inputs.size() != 2) return false;
    const Shape* q = shape(scores.inputs[0]);
    if (!q || q->size() != 4) return false;
    std::vector<int>& chain = f.chain;
    chain = {first};
    // K^T: a Transpose of the last two axes of K'.
    const int transpose = producer(scores.inputs[1]);
    if (transpose < 0) return false;
    const Node& t = g_.nodes[transpose];
    if (t.op_type != "Transpose" || t.attr_ints("perm") != std::vector<std::int64_t>{0, 1, 3, 2} ||
        intermediate(t.outputs[0]) != 1)
      return false;
    chain.push_back(transpose);
    const std::string keys = repeated_heads(t.inputs[0], chain);
    if (keys.empty()) return false;

    // The scores scaled, masked, normalized.
    std::string value = scores.outputs[0];
    float scale = 1.0f, c = 0;
    const Node* next = single_reader(value);
    if (next && (next->op_type == "Div" || next->op_type == "Mul") && next->inputs[0] == value &&
        patterns::scalar_constant(g_, next->inputs[1], c) && c != 0) {
      scale = next->op_type == "Div" ? 1.0f / c : c;
      value = take(next, chain);
      next = single_reader(value);
    }
    // GPT-2's causal mask: Where(allowed, scores, a very negative fill), before the additive one.
    std::string allowed, fill;
    if (next && next->op_type == "Where" && next->inputs.size() == 3 && next->inputs[1] == value &&
        patterns::scalar_constant(g_, next->inputs[2], c) && c <= -1e30f) {
      allowed = next->inputs[0];
      fill = next->inputs[2];
      const Shape* a = shape(allowed);
      if (!a || a->size() > 4 || g_.value_info.at(allowed).dtype() != DType::boolean) return false;
      value = take(next, chain);
      next = single_reader(value);
    }
    std::string mask;
    if (next && next->op_type == "Add" && next->inputs.size() == 2) {
      mask = next->inputs[next->inputs[0] == value ? 1 : 0];
      const Shape* m = shape(mask);
      if (!m || m->size() > 4 || g_.value_info.at(mask).dtype() != DType::f32) return false;
      value = take(next, chain);
      next = single_reader(value);
    }
    if (!next || next->op_type != "Softmax") return false;
    // Before opset 13 the default axis is 1 (and the input is flattened from it on).
    const std::int64_t axis = next->attr_int("axis", g_.opset < 13 ? 1 : -1);
    if (axis != -1 && axis != 3) return false;
    value = take(next, chain);
    next = single_reader(value);
    if (!next || next->op_type != "MatMul" || next->inputs[0] != value) return false;
    const Node& context = *next;
    chain.push_back(index_of(context));
    const std::string values = repeated_heads(context.inputs[1], chain);
    if (values.empty() || values == keys) return false;
    // K and V of one batch, head count and length (MatMul's broadcasting would allow others).
    const Shape *ks = shape(keys), *vs = shape(values);
    if (!ks || !vs || ks->size() != 4 || vs->size() != 4 || (*ks)[0] != (*vs)[0] ||
        (*ks)[1] != (*vs)[1] || (*ks)[2] != (*vs)[2] || (*q)[3] != (*ks)[3] || (*ks)[1] < 1 ||
        (*q)[1] % (*ks)[1] != 0)
      return false;

    // A cache: both K and V the concatenation of a past and this step's rows.
    Node& fused = f.node;
    fused = Node{};
    fused.name = scores.name;
    fused.op_type = "Attention";
    fused.inputs = {scores.inputs[0], keys, values, mask};
    fused.outputs = {context.outputs[0]};
    const int key_concat = cache_concat(keys), value_concat = cache_concat(values);
    if (key_concat >= 0 && value_concat >= 0 && key_concat != value_concat &&
        read_only_for_shape(keys, chain) && read_only_for_shape(values, chain)) {
      const Node& kc = g_.nodes[key_concat];
      const Node& vc = g_.nodes[value_concat];
      fused.inputs = {scores.inputs[0], kc.inputs[1], vc.inputs[1], mask,
                      kc.inputs[0],     vc.inputs[0]};
      fused.outputs = {context.outputs[0], keys, values};
      chain.push_back(key_concat);
      chain.push_back(value_concat);
      presents_[keys] = {kc.inputs[0], kc.inputs[1]};
      presents_[values] = {vc.inputs[0], vc.inputs[1]};
    }
    if (!allowed.empty()) fused.inputs[3] = combined_mask(scores.name, allowed, fill, mask);
    fused.attributes["scale"].value = scale;
    for (int k : chain)
      if (k != first) fused.folded_from.push_back(g_.nodes[k].name);
    return true;
  }

 private:
  const Shape* shape(const std::string& name) const {
    auto it = g_.value_info.find(name);
    return it == g_.value_info.end() ? nullptr : &it->second.shape();
  }
  int producer(const std::string& name) const {
    auto it = u_.producer.find(name);
    return it == u_.producer.end() ? -1 : it->second;
  }
  int index_of(const Node& n) const { return static_cast<int>(&n - g_.nodes.data()); }
  // The one node reading `name` when nothing else (no graph output) does.
  const Node* single_reader(const std::string& name) const {
    if (intermediate(name) != 1) return nullptr;
    for (const Node& n : g_.nodes)
      for (const std::string& in : n.inputs)
        if (in == name) return &n;
    return nullptr;
  }
  std::string take(const Node* n, std::vector<int>& chain) const {
    chain.push_back(index_of(*n));
    return n->outputs[0];
  }

  // K' (or V') back to the [B, Hkv, T, d] tensor it repeats for the query heads, or itself;
  // "" when it is not 4-D.
  std::string repeated_heads(const std::string& name, std::vector<int>& chain) const {
    const Shape* out = shape(name);
    if (!out || out->size() != 4) return "";
    const int reshape = producer(name);
    // Another reader of the repeated heads keeps them: then they are K' itself.
    if (intermediate(name) != 1) return name;
    if (reshape < 0 || g_.nodes[reshape].op_type != "Reshape") return name;
    const Node& r = g_.nodes[reshape];
    const int expand = producer(r.inputs[0]);
    if (expand < 0 || g_.nodes[expand].op_type != "Expand" || intermediate(r.inputs[0]) != 1)
      return name;
    const Node& e = g_.nodes[expand];
    const int unsqueeze = producer(e.inputs[0]);
    if (unsqueeze < 0 || g_.nodes[unsqueeze].op_type != "Unsqueeze" ||
        intermediate(e.inputs[0]) != 1)
      return name;
    const Node& u = g_.nodes[unsqueeze];
    const Shape* kv = shape(u.inputs[0]);
    const Shape* expanded = shape(e.outputs[0]);
    const Shape* unsqueezed = shape(u.outputs[0]);
    if (!kv || !expanded || !unsqueezed || kv->size() != 4 || expanded->size() != 5) return name;
    // The new axis after the heads ([B, Hkv, 1, T, d]): each key head repeated for its group of
    // query heads, as repeat_kv does (an axis before them would tile the heads instead).
    if (*unsqueezed != Shape{(*kv)[0], (*kv)[1], 1, (*kv)[2], (*kv)[3]}) return name;
    // [B, Hkv, T, d] -> [B, Hkv, G, T, d] -> [B, Hkv * G, T, d].
    const Shape& k = *kv;
    const Shape& x = *expanded;
    if (x[0] != k[0] || x[1] != k[1] || x[3] != k[2] || x[4] != k[3] || (*out)[0] != k[0] ||
        (*out)[1] != k[1] * x[2] || (*out)[2] != k[2] || (*out)[3] != k[3])
      return name;
    chain.push_back(reshape);
    chain.push_back(expand);
    chain.push_back(unsqueeze);
    return u.inputs[0];
  }

  // Where(allowed, scores, fill) + mask as scores + Where(allowed, mask, fill + mask): the same
  // after the softmax (a fill of -1e30 or below absorbs the scores added to it), as one
  // float mask the fused node adds. The nodes making it go to `made`, added after the fusion.
  std::string combined_mask(const std::string& name, const std::string& allowed,
                            const std::string& fill, const std::string& mask) {
    std::string p = fresh_name(g_, name + "/mask");
    for (int k = 2; !used_.insert(p).second; ++k)
      p = fresh_name(g_, name + "/mask" + std::to_string(k));
    std::string kept = mask, dropped = fill;
    if (mask.empty()) {
      kept = p + "/zero";
      zeros_.push_back(kept);
    } else {
      dropped = p + "/fill";
      made_.push_back(Node{p + "/fill", "Add", "", {fill, mask}, {dropped}, {}, {}, 0});
    }
    made_.push_back(Node{p, "Where", "", {allowed, kept, dropped}, {p + "/output"}, {}, {}, 0});
    return p + "/output";
  }

 public:
  std::vector<Node> made_;          // nodes the fused ones read (combined_mask)
  std::vector<std::string> zeros_;  // scalar 0.0 initializers they read
  // The presents the fused nodes make: present -> (past, new rows).
  std::map<std::string, std::pair<std::string, std::string>> presents_;

 private:
  std::set<std::string> used_;  // names combined_mask gave in this pass

  // Whether every node reading `name` outside the chain is a Shape of all of it (GPT-2 slices
  // its causal mask by the keys' length): rewritten from the past's and new rows' shapes once
  // the Attention makes `name` (shape_from_parts), as the mask it feeds must be made before.
  bool read_only_for_shape(const std::string& name, const std::vector<int>& chain) const {
    for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
      const Node& n = g_.nodes[i];
      if (std::find(n.inputs.begin(), n.inputs.end(), name) == n.inputs.end() ||
          std::find(chain.begin(), chain.end(), static_cast<int>(i)) != chain.end())
        continue;
      if (n.op_type != "Shape" || n.has_attr("start") || n.has_attr("end")) return false;
    }
    return true;
  }

  // The Concat(past, new, axis 2) making `name` from a graph input, or -1.
  int cache_concat(const std::string& name) const {
    const int k = producer(name);
    if (k < 0) return -1;
    const Node& n = g_.nodes[k];
    if (n.op_type != "Concat" || n.inputs.size() != 2) return -1;
    const std::int64_t axis = n.attr_int("axis", 0);
    if (axis != 2 && axis != -2) return -1;
    for (const ValueInfo& in : g_.inputs)
      if (in.name == n.inputs[0]) return k;
    return -1;
  }
};

// Shape(present) of a fused Attention's present keys or values as Shape(past) + Shape(new) *
// [0, 0, 1, 0]: the same numbers, without reading what the Attention makes after them.
void shape_from_parts(Graph& graph,
                      const std::map<std::string, std::pair<std::string, std::string>>& parts) {
  std::vector<Node> made;
  for (Node& n : graph.nodes) {
    if (n.op_type != "Shape" || n.inputs.size() != 1 || !parts.count(n.inputs[0])) continue;
    const auto& [past, fresh] = parts.at(n.inputs[0]);
    const std::string p = fresh_name(graph, n.name + "/from_parts");
    graph.initializers[p + "/rows"] = Tensor::from_vector<std::int64_t>({4}, {0, 0, 1, 0});
    made.push_back(Node{p + "/past", "Shape", "", {past}, {p + "/past_shape"}, {}, {}, 0});
    made.push_back(Node{p + "/new", "Shape", "", {fresh}, {p + "/new_shape"}, {}, {}, 0});
    made.push_back(Node{
        p + "/new_rows", "Mul", "", {p + "/new_shape", p + "/rows"}, {p + "/new_rows"}, {}, {}, 0});
    n.op_type = "Add";
    n.inputs = {p + "/past_shape", p + "/new_rows"};
    n.attributes.clear();
  }
  for (Node& n : made) graph.nodes.push_back(std::move(n));
}

}  // namespace

int fuse_attention(Graph& graph) {
  const patterns::Uses uses = patterns::find_uses(graph);
  AttentionMatcher matcher(graph, uses);
  const int fused = patterns::fuse_matches(
      graph, [&](int first, patterns::Fusion& f) { return matcher.match(first, f); });
  if (fused == 0) return 0;
  for (const std::string& zero : matcher.zeros_)
    graph.initializers[zero] = Tensor::from_vector<float>({}, {0.0f});
  // Placed by sort_and_validate below; those of a match that was not fused are dead after it.
  for (Node& n : matcher.made_) graph.nodes.push_back(std::move(n));
  shape_from_parts(graph, matcher.presents_);
  sort_and_validate(graph);
  // The shape arithmetic that fed the repeats' Expand and Reshape is read by nothing now.
  drop_dead_nodes(graph);
  drop_unused_initializers(graph);
  infer_graph_shapes(graph);
  return fused;
}

void drop_dead_nodes(Graph& graph) {
  std::set<std::string> read;
  for (const ValueInfo& out : graph.outputs) read.insert(out.name);
  // Backwards through the nodes in order: a node is kept when a kept node or an output reads it.
  std::vector<bool> keep(graph.nodes.size(), false);
  for (std::size_t i = graph.nodes.size(); i-- > 0;) {
    const Node& n = graph.nodes[i];
    for (const std::string& out : n.outputs) keep[i] = keep[i] || (!out.empty() && read.count(out));
    if (keep[i])
      for (const std::string& in : n.inputs)
        if (!in.empty()) read.insert(in);
  }
  std::vector<Node> nodes;
  for (std::size_t i = 0; i < graph.nodes.size(); ++i)
    if (keep[i]) nodes.push_back(std::move(graph.nodes[i]));
  graph.nodes = std::move(nodes);
}

}  // namespace qs
