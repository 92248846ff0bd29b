#include <set>

#include "graph/passes.h"

namespace qs {

Graph with_observed_outputs(Graph g, const std::vector<std::string>& names) {
  std::set<std::string> present;
  for (const ValueInfo& v : g.outputs) present.insert(v.name);
  for (const ValueInfo& v : g.inputs) present.insert(v.name);
  for (const std::string& name : names) {
    if (!present.insert(name).second) continue;
    ValueInfo v;
    v.name = name;
    v.dtype = DType::f32;
    g.outputs.push_back(v);
  }
  return g;
}

}  // namespace qs
