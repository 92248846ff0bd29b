// quantscope-cli info: what a model is made of.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "quantscope/device.h"
#include "quantscope/model.h"
#include "quantscope/model_info.h"

namespace qs::cli {

namespace {

nlohmann::json value_json(const ValueInfo& v) {
  nlohmann::json shape = nlohmann::json::array();
  for (std::size_t i = 0; i < v.shape.size(); ++i) {
    if (v.shape[i] >= 0)
      shape.push_back(v.shape[i]);
    else
      shape.push_back(v.dim_names[i].empty() ? "?" : v.dim_names[i]);
  }
  return {{"name", v.name}, {"dtype", dtype_name(v.dtype)}, {"shape", shape}};
}

std::string shape_text(const ValueInfo& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.shape.size(); ++i) {
    if (i) s += ",";
    s += v.shape[i] >= 0 ? std::to_string(v.shape[i])
                         : (v.dim_names[i].empty() ? "?" : v.dim_names[i]);
  }
  return s + "]";
}

std::string human_count(std::int64_t n) {
  char buf[32];
  if (n >= 1000000000)
    std::snprintf(buf, sizeof buf, "%.2f G", n / 1e9);
  else if (n >= 1000000)
    std::snprintf(buf, sizeof buf, "%.2f M", n / 1e6);
  else if (n >= 1000)
    std::snprintf(buf, sizeof buf, "%.1f k", n / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(n));
  return buf;
}

// Where each node runs; empty for a graph that cannot run (it has problems).
std::vector<Placement> placements_of(const Device& device, const Graph& g) {
  return g.problems.empty() ? placement(device, g) : std::vector<Placement>{};
}

void print_text(const std::string& path, const Graph& g, const ModelInfo& info,
                const std::string& device, const std::vector<Placement>& where) {
  std::printf("%s  (opset %lld, producer '%s')\n\n", path.c_str(),
              static_cast<long long>(info.opset), g.producer.c_str());
  for (const ValueInfo& v : info.inputs)
    std::printf("input   %-20s %-8s %s\n", v.name.c_str(), dtype_name(v.dtype).c_str(),
                shape_text(v).c_str());
  for (const ValueInfo& v : info.outputs)
    std::printf("output  %-20s %-8s %s\n", v.name.c_str(), dtype_name(v.dtype).c_str(),
                shape_text(v).c_str());
  std::printf("\n%-44s %-20s %10s %12s  %-16s %s\n", "layer", "op", "params", "MACs", "output",
              "runs on");
  for (std::size_t i = 0; i < info.layers.size(); ++i) {
    const LayerInfo& l = info.layers[i];
    std::string op = l.op_type;
    // Folding at load: BatchNormalization into a Conv or Gemm, an exporter's spelled-out
    // normalization into one node.
    if (!l.folded_from.empty())
      op += l.op_type.find("Normalization") == std::string::npos
                ? "+BN"
                : " (" + std::to_string(l.folded_from.size() + 1) + " nodes)";
    std::string runs_on = i < where.size() ? where[i].device : "-";
    if (i < where.size() && !where[i].reason.empty()) runs_on += " (" + where[i].reason + ")";
    std::printf("%-44s %-20s %10lld %12lld  %-16s %s\n", l.name.c_str(), op.c_str(),
                static_cast<long long>(l.params), static_cast<long long>(l.macs),
                dims_text(l.output_dims).c_str(), runs_on.c_str());
  }
  std::printf("\nops:");
  for (const auto& [op, count] : info.op_histogram) std::printf(" %s x%d", op.c_str(), count);
  std::printf("\ntotal: %s parameters (%.2f MB as float32), %s MACs per sample, %zu layers\n",
              human_count(info.total_params).c_str(), info.weight_bytes / 1e6,
              human_count(info.total_macs).c_str(), info.layers.size());
  std::size_t on_device = 0;
  for (const Placement& p : where) on_device += p.device == device;
  if (g.problems.empty() && on_device == where.size())
    std::printf("unsupported: none; every node runs on %s\n", device.c_str());
  else if (g.problems.empty())
    std::printf("unsupported: none; %zu of %zu nodes run on %s, the rest on cpu-ref\n", on_device,
                where.size(), device.c_str());
  for (const std::string& p : g.problems) std::printf("unsupported: %s\n", p.c_str());
}

}  // namespace

int cmd_info(const std::vector<std::string>& argv) {
  Args args(argv, {common("device"), common("json")});
  const std::string path = single_model_argument(args);
  std::unique_ptr<Device> device = open_device(args);
  Graph g;
  try {
    g = load_model(path);
  } catch (const Unsupported&) {
    // Describing a model with unsupported ops must still work, listing them.
    LoadOptions lenient;
    lenient.require_supported = false;
    g = load_model(path, lenient);
  }
  ModelInfo info = describe_model(g);
  if (!args.flag("json")) {
    print_text(path, g, info, device->name(), placements_of(*device, g));
    std::printf("device: %s\n", device->description().c_str());
    return 0;
  }
  nlohmann::json j;
  j["model"] = path;
  j["opset"] = info.opset;
  j["producer"] = g.producer;
  j["inputs"] = nlohmann::json::array();
  for (const ValueInfo& v : info.inputs) j["inputs"].push_back(value_json(v));
  j["outputs"] = nlohmann::json::array();
  for (const ValueInfo& v : info.outputs) j["outputs"].push_back(value_json(v));
  j["op_histogram"] = info.op_histogram;
  j["device"] = device->name();
  j["device_description"] = device->description();
  j["layers"] = nlohmann::json::array();
  const std::vector<Placement> where = placements_of(*device, g);
  for (std::size_t i = 0; i < info.layers.size(); ++i) {
    const LayerInfo& l = info.layers[i];
    nlohmann::json layer{{"name", l.name},
                         {"op", l.op_type},
                         {"params", l.params},
                         {"macs", l.macs},
                         {"output_shape", l.output_shape},
                         {"output_dims", l.output_dims},
                         {"folded_from", l.folded_from}};
    layer["device"] = i < where.size() ? nlohmann::json(where[i].device) : nlohmann::json(nullptr);
    if (i < where.size() && !where[i].reason.empty()) layer["fallback_reason"] = where[i].reason;
    j["layers"].push_back(layer);
  }
  j["totals"] = {{"params", info.total_params},
                 {"macs", info.total_macs},
                 {"weight_bytes", info.weight_bytes},
                 {"layers", info.layers.size()}};
  j["unsupported"] = g.problems;
  std::printf("%s\n", j.dump(2).c_str());
  return 0;
}

}  // namespace qs::cli
