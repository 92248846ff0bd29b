#include "export/opset_upgrade.h"

#include <limits>
#include <set>
#include <string>

#include "quantscope/error.h"

namespace qs::exporter {

namespace {

std::string fresh_initializer(const Graph& g, const std::string& base) {
  std::string name = base;
  for (int i = 1; g.initializers.count(name); ++i) name = base + "_" + std::to_string(i);
  return name;
}

// Moves an INTS attribute into input `index` as an int64 initializer (absent attribute: the
// input stays omitted, which means the same thing in the new opset).
void attribute_to_input(Graph& g, Node& n, const std::string& attr, std::size_t index) {
  if (!n.has_attr(attr)) return;
  const std::vector<std::int64_t> values = n.attr_ints(attr);
  n.attributes.erase(attr);
  const std::string name = fresh_initializer(g, n.name + "_" + attr);
  g.initializers[name] =
      Tensor::from_vector<std::int64_t>({static_cast<std::int64_t>(values.size())}, values);
  if (n.inputs.size() < index) n.inputs.resize(index);
  if (n.inputs.size() == index)
    n.inputs.push_back(name);
  else
    n.inputs[index] = name;
}

bool is_reduce(const std::string& op) {
  static const std::set<std::string> ops = {"ReduceMean",   "ReduceMax",       "ReduceMin",
                                            "ReduceProd",   "ReduceL1",        "ReduceL2",
                                            "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"};
  return ops.count(op) != 0;
}

// Ops whose inputs or meaning changed between opset 7 and 21 in ways not rewritten here.
std::int64_t unconverted_change(const std::string& op) {
  static const std::pair<const char*, std::int64_t> ops[] = {
      {"Slice", 10}, {"Pad", 11}, {"Upsample", 10}, {"Resize", 11}, {"TopK", 10}, {"Dropout", 12}};
  for (const auto& [name, since] : ops)
    if (op == name) return since;
  return 0;
}

}  // namespace

void upgrade_opset(Graph& graph, std::int64_t target) {
  const std::int64_t from = graph.opset;
  if (target < from)
    throw Error("the model uses opset " + std::to_string(from) + "; it cannot be exported at the " +
                "lower opset " + std::to_string(target));
  auto crosses = [&](std::int64_t since) { return from < since && target >= since; };
  for (Node& n : graph.nodes) {
    if (!n.domain.empty()) continue;
    const std::int64_t changed = unconverted_change(n.op_type);
    if (changed > 0 && crosses(changed))
      throw Error("node '" + n.name + "' (" + n.op_type + "): its definition changed at opset " +
                  std::to_string(changed) + ", and exporting at opset " + std::to_string(target) +
                  " would need a conversion Quantscope does not make; re-export the source model "
                  "at opset " +
                  std::to_string(changed) + " or later");
    if ((n.op_type == "Softmax" || n.op_type == "LogSoftmax" || n.op_type == "Hardmax") &&
        crosses(13)) {
      // Before 13 these flattened the input to 2-D at `axis` (default 1); from 13 they work
      // along that one axis (default -1). The same only when the axis is the last one.
      auto shape = graph.value_info.find(n.inputs.at(0));
      const std::int64_t rank =
          shape == graph.value_info.end() ? -1 : static_cast<std::int64_t>(shape->second.rank());
      std::int64_t axis = n.attr_int("axis", 1);
      if (axis < 0 && rank > 0) axis += rank;
      if (rank < 0 || axis != rank - 1)
        throw Error("node '" + n.name + "' (" + n.op_type + "): before opset 13 it normalizes " +
                    "over all dimensions from axis " + std::to_string(n.attr_int("axis", 1)) +
                    " on, which opset 13 and later cannot say in one node; re-export the "
                    "source model at opset 13 or later");
      n.attributes["axis"] = {axis};
    }
    if ((n.op_type == "Squeeze" || n.op_type == "Unsqueeze" || n.op_type == "ReduceSum") &&
        crosses(13))
      attribute_to_input(graph, n, "axes", 1);
    if (is_reduce(n.op_type) && crosses(18)) attribute_to_input(graph, n, "axes", 1);
    if (n.op_type == "Split") {
      if (crosses(13)) attribute_to_input(graph, n, "split", 1);
      if (crosses(18) && !n.has_input(1))
        n.attributes["num_outputs"] = {static_cast<std::int64_t>(n.outputs.size())};
    }
    if (n.op_type == "Clip" && crosses(11)) {
      // min and max became optional inputs.
      const float lo = n.attr_float("min", -std::numeric_limits<float>::max());
      const float hi = n.attr_float("max", std::numeric_limits<float>::max());
      n.attributes.erase("min");
      n.attributes.erase("max");
      const std::string lo_name = fresh_initializer(graph, n.name + "_min");
      graph.initializers[lo_name] = Tensor::scalar_f32(lo);
      const std::string hi_name = fresh_initializer(graph, n.name + "_max");
      graph.initializers[hi_name] = Tensor::scalar_f32(hi);
      n.inputs.resize(1);
      n.inputs.push_back(lo_name);
      n.inputs.push_back(hi_name);
    }
  }
  graph.opset = target;
}

}  // namespace qs::exporter
