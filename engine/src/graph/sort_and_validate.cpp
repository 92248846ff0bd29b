#include <map>
#include <set>

#include "graph/passes.h"
#include "runtime/kernel.h"

namespace qs {

std::set<std::string> free_names(const Graph& graph) {
  std::set<std::string> defined, used;
  for (const auto& [name, t] : graph.initializers) defined.insert(name);
  for (const ValueInfo& in : graph.inputs) defined.insert(in.name);
  for (const Node& n : graph.nodes) {
    for (const std::string& out : n.outputs) defined.insert(out);
    for (const std::string& in : n.inputs)
      if (!in.empty()) used.insert(in);
  }
  for (const ValueInfo& out : graph.outputs) used.insert(out.name);
  std::set<std::string> free;
  for (const std::string& name : used)
    if (!defined.count(name)) free.insert(name);
  return free;
}

void sort_and_validate(Graph& graph, const std::set<std::string>& outer) {
  std::map<std::string, std::size_t> producer;  // tensor -> node index
  std::set<std::string> available(outer.begin(), outer.end());
  for (const auto& [name, t] : graph.initializers) available.insert(name);
  for (const ValueInfo& in : graph.inputs) available.insert(in.name);
  std::set<std::string> node_names;
  for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& n = graph.nodes[i];
    if (!node_names.insert(n.name).second) throw Error("node name '" + n.name + "' is used twice");
    for (const std::string& out : n.outputs) {
      if (out.empty()) continue;
      if (available.count(out) || producer.count(out))
        throw Error("node '" + n.name + "' (" + n.op_type + "): output '" + out +
                    "' is already defined elsewhere in the graph");
      producer[out] = i;
    }
  }
  // Kahn's algorithm; ties broken by file order so reports follow the file.
  const std::size_t count = graph.nodes.size();
  std::vector<int> pending(count, 0);
  std::vector<std::vector<std::size_t>> consumers(count);
  for (std::size_t i = 0; i < count; ++i) {
    for (const std::string& in : graph.nodes[i].inputs) {
      if (in.empty() || available.count(in)) continue;
      auto it = producer.find(in);
      if (it == producer.end())
        throw Error("node '" + graph.nodes[i].name + "' (" + graph.nodes[i].op_type + "): input '" +
                    in + "' is not defined by any node, input or initializer");
      ++pending[i];
      consumers[it->second].push_back(i);
    }
  }
  std::set<std::size_t> ready;
  for (std::size_t i = 0; i < count; ++i)
    if (pending[i] == 0) ready.insert(i);
  std::vector<Node> sorted;
  sorted.reserve(count);
  while (!ready.empty()) {
    std::size_t i = *ready.begin();
    ready.erase(ready.begin());
    sorted.push_back(std::move(graph.nodes[i]));
    for (std::size_t c : consumers[i])
      if (--pending[c] == 0) ready.insert(c);
  }
  if (sorted.size() != count) {
    for (std::size_t i = 0; i < count; ++i)
      if (pending[i] > 0)
        throw Error("the graph has a cycle through node '" + graph.nodes[i].name + "' (" +
                    graph.nodes[i].op_type + ")");
  }
  graph.nodes = std::move(sorted);
  for (const ValueInfo& out : graph.outputs)
    if (!available.count(out.name) && !producer.count(out.name))
      throw Error("graph output '" + out.name + "' is not produced by any node");
}

void check_ops_supported(const Graph& graph, std::vector<std::string>* problems) {
  for (const Node& n : graph.nodes) {
    for (const auto& [key, a] : n.attributes)
      if (const auto* sub = std::get_if<std::shared_ptr<const Graph>>(&a.value))
        check_ops_supported(**sub, problems);
    if (kernels::find_kernel(n.op_type, n.domain)) continue;
    std::string message = "node '" + n.name + "' (" + n.op_type + "): op " +
                          (n.domain.empty() ? "" : n.domain + ".") + n.op_type +
                          " is not supported";
    if (!problems) throw Unsupported(message);
    problems->push_back(message);
  }
}

}  // namespace qs
