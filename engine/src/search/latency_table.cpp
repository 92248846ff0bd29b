// Per-layer latency tables for the latency objective (see quantscope/search.h).
#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "quantscope/atomic_file.h"

#include "quant/layers.h"
#include "quantscope/error.h"
#include "quantscope/search.h"

namespace qs {

LatencyTable build_latency_table(const Graph& graph, const QuantConfig& base, Dataset& calib,
                                 Device& calib_device, Device& device, const std::vector<int>& bits,
                                 int act_bits, const BenchOptions& bench, const JobControl& job) {
  if (bits.empty()) throw Error("no bit widths to time");
  LatencyTable t;
  t.device = device.name();
  t.environment = device.environment();
  t.batch = bench.batch;
  t.act_bits = act_bits;
  t.integer_kernels = device.use_integer_kernels(true);
  std::vector<std::string> layers;
  for (const quant::QuantLayer& l : quant::find_quant_layers(graph))
    if (!l.weight.empty()) layers.push_back(l.node->name);
  BenchOptions options = bench;
  options.per_layer = true;
  for (std::size_t i = 0; i < bits.size(); ++i) {
    job.check();
    const int b = bits[i];
    job.report(double(i) / double(bits.size()), "timing " + std::to_string(b) + "-bit layers");
    std::map<std::string, int> uniform;
    for (const std::string& l : layers) uniform[l] = b;
    CalibrationOptions co;
    co.batch = std::max<std::int64_t>(1, bench.batch);
    const Graph g = apply_quantization(
        graph,
        quantize_model(graph, config_for_bits(base, uniform, act_bits), calib, calib_device, co));
    const BenchResult r = benchmark(g, device, options);
    t.total_ms[b] = r.end_to_end.median_ms;
    double in_layers = 0;
    for (const LayerLatency& l : r.layers) {
      // A layer's step carries its name; its weights' unpacking is "<name>::weights".
      const std::string owner = l.name.substr(0, l.name.find("::"));
      if (std::find(layers.begin(), layers.end(), owner) != layers.end()) {
        t.layer_ms[owner][b] += l.median_ms;
        in_layers += l.median_ms;
      }
    }
    for (const std::string& l : layers)
      if (!t.layer_ms[l].count(b)) t.layer_ms[l][b] = 0;  // fused into another node's step
    // The rest of the end-to-end time (other nodes, copies, submission), so that the table
    // predicts each uniform run's measured time exactly.
    t.rest_ms[b] = std::max(0.0, t.total_ms[b] - in_layers);
  }
  device.use_integer_kernels(false);
  job.report(1.0, "done");
  return t;
}

std::string latency_table_to_json(const LatencyTable& t) {
  nlohmann::json j{{"schema", 1},
                   {"kind", "quantscope latency table"},
                   {"device", t.device},
                   {"environment", t.environment},
                   {"batch", t.batch},
                   {"act_bits", t.act_bits},
                   {"integer_kernels", t.integer_kernels}};
  auto by_bits = [](const std::map<int, double>& m) {
    nlohmann::json o = nlohmann::json::object();
    for (const auto& [b, ms] : m) o[std::to_string(b)] = ms;
    return o;
  };
  j["layers"] = nlohmann::json::object();
  for (const auto& [layer, m] : t.layer_ms) j["layers"][layer] = by_bits(m);
  j["rest_ms"] = by_bits(t.rest_ms);
  j["total_ms"] = by_bits(t.total_ms);
  return j.dump(2);
}

LatencyTable latency_table_from_json(const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("latency table: not JSON: ") + e.what());
  }
  if (!j.is_object() || j.value("kind", "") != "quantscope latency table")
    throw Error("latency table: not a quantscope latency table (no \"kind\")");
  if (j.value("schema", 0) != 1)
    throw Error("latency table: schema " + j.value("schema", nlohmann::json(0)).dump() +
                " (this Quantscope reads 1)");
  LatencyTable t;
  auto by_bits = [](const nlohmann::json& o, const std::string& what) {
    std::map<int, double> m;
    if (!o.is_object()) throw Error("latency table: '" + what + "' must map bits to ms");
    for (const auto& [key, v] : o.items()) {
      std::size_t used = 0;
      int b = 0;
      try {
        b = std::stoi(key, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != key.size() || b < 1 || b > 32 || !v.is_number() || v.get<double>() < 0)
        throw Error("latency table: '" + what + "': entry '" + key + "' is not bits -> ms");
      m[b] = v.get<double>();
    }
    return m;
  };
  try {
    t.device = j.at("device").get<std::string>();
    if (j.contains("environment"))
      t.environment = j.at("environment").get<std::map<std::string, std::string>>();
    t.batch = j.at("batch").get<std::int64_t>();
    t.act_bits = j.at("act_bits").get<int>();
    t.integer_kernels = j.value("integer_kernels", false);
    if (!j.at("layers").is_object()) throw Error("latency table: 'layers' must be an object");
    for (const auto& [layer, m] : j.at("layers").items()) t.layer_ms[layer] = by_bits(m, layer);
    t.rest_ms = by_bits(j.at("rest_ms"), "rest_ms");
    t.total_ms = by_bits(j.at("total_ms"), "total_ms");
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("latency table: ") + e.what());
  }
  return t;
}

void save_latency_table(const std::string& path, const LatencyTable& table) {
  const std::string text = latency_table_to_json(table) + "\n";
  write_file_atomically(path, [&](const ByteSink& sink) { sink(text.data(), text.size()); });
}

LatencyTable load_latency_table(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the file");
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return latency_table_from_json(text.str());
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

}  // namespace qs
