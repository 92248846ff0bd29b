// The quantization configuration: per-node settings, overrides, and their validation.
#include <algorithm>
#include <set>

#include "quant/layers.h"
#include "quantscope/error.h"
#include "quantscope/quant.h"
#include "quantscope/registry.h"

namespace qs {

LayerQuantSettings QuantConfig::settings_for(const std::string& node) const {
  LayerQuantSettings s = defaults;
  auto it = overrides.find(node);
  if (it == overrides.end()) return s;
  const LayerOverride& o = it->second;
  if (o.weight_bits) s.weight_bits = *o.weight_bits;
  if (o.act_bits) s.act_bits = *o.act_bits;
  if (o.granularity) s.granularity = *o.granularity;
  if (o.group_size) s.group_size = *o.group_size;
  if (o.weight_symmetric) s.weight_symmetric = *o.weight_symmetric;
  if (o.act_symmetric) s.act_symmetric = *o.act_symmetric;
  if (o.calibrator) s.calibrator = *o.calibrator;
  if (o.weight_range) s.weight_range = *o.weight_range;
  if (o.rounding) s.rounding = *o.rounding;
  if (o.bias_correction) s.bias_correction = *o.bias_correction;
  return s;
}

namespace {

int parse_bits(const std::string& text, const std::string& whole) {
  if (text == "float") return 0;
  if (text.empty() || text.size() > 2 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    throw Error("bad bit width '" + text + "' in '" + whole + "': a number or 'float'");
  return std::stoi(text);
}

}  // namespace

LayerOverride parse_override(const std::string& text) {
  LayerOverride o;
  if (text == "float") {
    o.weight_bits = 0;
    o.act_bits = 0;
  } else if (!text.empty() && text[0] == 'w') {
    const std::size_t a = text.find('a');
    if (a == std::string::npos)
      throw Error("bad override '" + text + "': expected BITS, float or wBaA (e.g. w4a8)");
    o.weight_bits = parse_bits(text.substr(1, a - 1), text);
    o.act_bits = parse_bits(text.substr(a + 1), text);
  } else {
    o.weight_bits = parse_bits(text, text);
  }
  return o;
}

void parse_granularity(const std::string& text, LayerQuantSettings& s) {
  if (text == "tensor") {
    s.granularity = QuantGranularity::per_tensor;
  } else if (text == "channel") {
    s.granularity = QuantGranularity::per_channel;
  } else if (text.rfind("group:", 0) == 0) {
    const std::string g = text.substr(6);
    if (g.empty() || g.size() > 9 ||
        !std::all_of(g.begin(), g.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoll(g) <= 0)
      throw Error("bad group size in '" + text + "': a positive number");
    s.granularity = QuantGranularity::per_group;
    s.group_size = std::stoll(g);
  } else {
    throw Error("bad granularity '" + text + "': expected tensor, channel or group:G");
  }
}

std::vector<std::string> quantizable_nodes(const Graph& graph) {
  std::vector<std::string> out;
  for (const quant::QuantLayer& l : quant::find_quant_layers(graph)) out.push_back(l.node->name);
  return out;
}

std::vector<std::string> config_problems(const QuantConfig& config, const Graph& graph,
                                         const Registry* registry) {
  const Registry& algorithms = registry ? *registry : builtin_registry();
  std::vector<std::string> problems;
  const std::vector<quant::QuantLayer> layers = quant::find_quant_layers(graph);
  std::set<std::string> names;
  for (const quant::QuantLayer& l : layers) names.insert(l.node->name);
  for (const auto& [node, o] : config.overrides) {
    if (names.count(node)) continue;
    problems.push_back(graph.find_node(node)
                           ? "override for node '" + node + "' (" + graph.find_node(node)->op_type +
                                 "), which is not quantizable"
                           : "override for unknown node '" + node + "'");
  }
  auto check = [&](const std::string& where, const LayerQuantSettings& s) {
    if (s.weight_bits != 0 && (s.weight_bits < 2 || s.weight_bits > 8))
      problems.push_back(where + "weight bits " + std::to_string(s.weight_bits) +
                         " out of range: 2 to 8, or float");
    if (s.act_bits != 0 && s.act_bits != 8 && s.act_bits != 16)
      problems.push_back(where + "activation bits " + std::to_string(s.act_bits) +
                         " not supported: 8, 16 or float");
    if (s.granularity == QuantGranularity::per_group && s.group_size <= 0)
      problems.push_back(where + "per-group granularity needs a positive group size");
    try {
      algorithms.create_rounding(s.rounding);
    } catch (const Error& e) {
      problems.push_back(where + e.what());
    }
    if (s.weight_range != "minmax" && s.weight_range != "mse")
      problems.push_back(where + "unknown weight range '" + s.weight_range + "': minmax or mse");
    try {
      algorithms.create_calibrator(s.calibrator);
    } catch (const Error& e) {
      problems.push_back(where + e.what());
    }
  };
  check("defaults: ", config.defaults);
  for (const auto& [name, o] : config.overrides)
    if (names.count(name)) check("node '" + name + "': ", config.settings_for(name));
  // One problem stated once, however many nodes share it.
  std::vector<std::string> unique;
  for (const std::string& p : problems)
    if (std::find(unique.begin(), unique.end(), p) == unique.end()) unique.push_back(p);
  return unique;
}

}  // namespace qs
