#include "quantscope/graph.h"

namespace qs {

namespace {
template <typename T>
const T* get(const Node& n, const std::string& key) {
  auto it = n.attributes.find(key);
  if (it == n.attributes.end()) return nullptr;
  const T* v = std::get_if<T>(&it->second.value);
  if (!v)
    throw Error("node '" + n.name + "' (" + n.op_type + "): attribute '" + key +
                "' has the wrong type");
  return v;
}
}  // namespace

std::int64_t Node::attr_int(const std::string& key, std::int64_t fallback) const {
  const auto* v = get<std::int64_t>(*this, key);
  return v ? *v : fallback;
}

float Node::attr_float(const std::string& key, float fallback) const {
  auto it = attributes.find(key);
  if (it != attributes.end()) {
    if (const auto* i = std::get_if<std::int64_t>(&it->second.value)) return static_cast<float>(*i);
  }
  const auto* v = get<float>(*this, key);
  return v ? *v : fallback;
}

std::string Node::attr_string(const std::string& key, const std::string& fallback) const {
  const auto* v = get<std::string>(*this, key);
  return v ? *v : fallback;
}

std::vector<std::int64_t> Node::attr_ints(const std::string& key,
                                          const std::vector<std::int64_t>& fallback) const {
  const auto* v = get<std::vector<std::int64_t>>(*this, key);
  return v ? *v : fallback;
}

std::vector<float> Node::attr_floats(const std::string& key) const {
  const auto* v = get<std::vector<float>>(*this, key);
  return v ? *v : std::vector<float>{};
}

const Tensor* Node::attr_tensor(const std::string& key) const {
  return get<Tensor>(*this, key);
}

const Graph* Node::attr_graph(const std::string& key) const {
  const auto* v = get<std::shared_ptr<const Graph>>(*this, key);
  return v ? v->get() : nullptr;
}

int Node::input_count() const {
  int n = static_cast<int>(inputs.size());
  while (n > 0 && inputs[n - 1].empty()) --n;
  return n;
}

const Node* Graph::find_node(const std::string& node_name) const {
  for (const Node& n : nodes)
    if (n.name == node_name) return &n;
  return nullptr;
}

}  // namespace qs
