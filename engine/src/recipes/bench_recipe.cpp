#include "quantscope/error.h"
#include "quantscope/results_json.h"
#include "recipe_key.h"

namespace qs {

namespace {

nlohmann::json bench_fields(const BenchOptions& o) {
  return {{"batch", o.batch}, {"threads", o.threads},         {"warmup", o.warmup},
          {"runs", o.runs},   {"min_seconds", o.min_seconds}, {"per_layer", o.per_layer},
          {"seed", o.seed}};
}

nlohmann::json stats_json(const LatencyStats& s) {
  return nlohmann::json::parse(latency_stats_to_json(s));
}

LatencyStats stats_from(const nlohmann::json& j) {
  LatencyStats s;
  s.median_ms = j.at("median_ms").get<double>();
  s.p90_ms = j.at("p90_ms").get<double>();
  s.p99_ms = j.at("p99_ms").get<double>();
  s.min_ms = j.at("min_ms").get<double>();
  s.max_ms = j.at("max_ms").get<double>();
  s.mean_ms = j.at("mean_ms").get<double>();
  s.cv = j.at("cv").get<double>();
  s.runs = j.at("runs").get<std::int64_t>();
  return s;
}

}  // namespace

std::string latency_stats_to_json(const LatencyStats& s) {
  return nlohmann::json{{"median_ms", s.median_ms},
                        {"p90_ms", s.p90_ms},
                        {"p99_ms", s.p99_ms},
                        {"min_ms", s.min_ms},
                        {"max_ms", s.max_ms},
                        {"mean_ms", s.mean_ms},
                        {"cv", s.cv},
                        {"runs", s.runs}}
      .dump();
}

std::string BenchRequest::cache_key() const {
  nlohmann::json j = recipes::model_fields(in);
  j["device"] = in.device;
  j["quantized"] =
      quantized ? nlohmann::json(recipes::quantized_key(quantized)) : nlohmann::json(nullptr);
  j["integer_kernels"] = integer_kernels;
  j["options"] = bench_fields(options);
  return recipes::make_key(kind, j);
}

BenchResult BenchRequest::run(const JobControl& job) const {
  auto device = in.open_device();
  if (integer_kernels && !device->use_integer_kernels(true))
    throw Error("device '" + in.device + "' has no integer kernels");
  if (!quantized) return benchmark(*in.graph, *device, options, job);
  return benchmark(apply_quantization(*in.graph, *quantized), *device, options, job);
}

std::string LatencyTableRequest::cache_key() const {
  nlohmann::json j = recipes::calibration_fields(in);
  j["device"] = in.device;
  j["calibration_device"] = calibration_device;
  j["base"] = recipes::config_fields(base);
  j["bits"] = bits;
  j["act_bits"] = act_bits;
  j["options"] = bench_fields(options);
  return recipes::make_key(kind, j);
}

LatencyTable LatencyTableRequest::run(const JobControl& job) const {
  recipes::refuse_language_model(in, "the latency table");
  auto data = in.open_calibration();
  auto device = in.open_device();
  RecipeInputs calibration = in;
  calibration.device = calibration_device;
  auto calib_device = calibration.open_device();
  return build_latency_table(*in.graph, base, *data, *calib_device, *device, bits, act_bits,
                             options, job);
}

std::string layer_latencies_to_json(const std::vector<LayerLatency>& layers) {
  nlohmann::json out = nlohmann::json::array();
  for (const LayerLatency& l : layers)
    out.push_back(
        {{"name", l.name}, {"op", l.op}, {"median_ms", l.median_ms}, {"kernel", l.kernel}});
  return out.dump();
}

std::string result_to_json(const BenchResult& r) {
  const nlohmann::json layers = nlohmann::json::parse(layer_latencies_to_json(r.layers));
  return nlohmann::json{{"device", r.device},
                        {"batch", r.batch},
                        {"threads", r.threads},
                        {"cold_ms", r.cold_ms},
                        {"end_to_end", stats_json(r.end_to_end)},
                        {"device_time", stats_json(r.device_time)},
                        {"throughput_per_s", r.throughput_per_s},
                        {"unstable", r.unstable},
                        {"layers", layers},
                        {"environment", r.environment}}
      .dump();
}

void result_from_json(const std::string& text, const std::string& where, BenchResult& out) {
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    BenchResult r;
    r.device = j.at("device").get<std::string>();
    r.batch = j.at("batch").get<std::int64_t>();
    r.threads = j.at("threads").get<int>();
    r.cold_ms = j.at("cold_ms").get<double>();
    r.end_to_end = stats_from(j.at("end_to_end"));
    r.device_time = stats_from(j.at("device_time"));
    r.throughput_per_s = j.at("throughput_per_s").get<double>();
    r.unstable = j.at("unstable").get<bool>();
    for (const nlohmann::json& l : j.at("layers"))
      r.layers.push_back({l.at("name").get<std::string>(), l.at("op").get<std::string>(),
                          l.at("median_ms").get<double>(),
                          l.value("kernel", std::string())});  // absent in older caches
    r.environment = j.at("environment").get<std::map<std::string, std::string>>();
    out = std::move(r);
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + ": not a benchmark (" + e.what() + ")");
  }
}

std::string result_to_json(const LatencyTable& r) {
  return latency_table_to_json(r);
}

void result_from_json(const std::string& text, const std::string& where, LatencyTable& out) {
  try {
    out = latency_table_from_json(text);
  } catch (const std::exception& e) {
    throw Error(where + ": " + e.what());
  }
}

}  // namespace qs
