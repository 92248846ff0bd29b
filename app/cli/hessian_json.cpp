#include "hessian_json.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "quantscope/error.h"

namespace qs::cli {

namespace {

nlohmann::json number_or_null(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json hessian_to_json(const HessianResult& r) {
  nlohmann::json j{{"samples", r.samples}, {"loss", r.loss},
                   {"method", r.method},   {"probes", r.probes},
                   {"step", r.step},       {"converged", r.converged},
                   {"notes", r.notes},     {"layers", nlohmann::json::array()}};
  for (const LayerHessian& l : r.layers)
    j["layers"].push_back(
        {{"name", l.name},
         {"op", l.op},
         {"weight", l.weight},
         {"params", l.params},
         {"trace", number_or_null(l.trace)},
         {"stderr", number_or_null(l.std_error)},
         {"probes", l.probes},
         {"layerwise_trace",
          l.layerwise_trace >= 0 ? nlohmann::json(l.layerwise_trace) : nlohmann::json(nullptr)}});
  return j;
}

HessianResult hessian_from_json(const nlohmann::json& j, const std::string& where) {
  auto fail = [&](const std::string& what) -> Error { return Error(where + ": " + what); };
  if (!j.is_object() || !j.contains("layers") || !j["layers"].is_array())
    throw fail("not Hessian traces (no \"layers\" array; write them with 'hessian --json')");
  HessianResult r;
  r.samples = j.value("samples", std::int64_t{0});
  r.loss = j.value("loss", std::string());
  r.probes = j.value("probes", 0);
  for (const nlohmann::json& l : j["layers"]) {
    if (!l.is_object() || !l.contains("name") || !l["name"].is_string())
      throw fail("a layer without a \"name\"");
    LayerHessian h;
    h.name = l["name"].get<std::string>();
    if (!l.contains("trace") || !l["trace"].is_number())
      throw fail("layer '" + h.name + "' has no numeric \"trace\"");
    h.trace = l["trace"].get<double>();
    if (!l.contains("params") || !l["params"].is_number_integer() ||
        l["params"].get<long long>() <= 0)
      throw fail("layer '" + h.name + "' has no positive \"params\"");
    h.params = l["params"].get<std::int64_t>();
    h.op = l.value("op", std::string());
    h.weight = l.value("weight", std::string());
    h.std_error = l.contains("stderr") && l["stderr"].is_number() ? l["stderr"].get<double>() : NAN;
    h.probes = l.value("probes", r.probes);
    h.layerwise_trace = l.contains("layerwise_trace") && l["layerwise_trace"].is_number()
                            ? l["layerwise_trace"].get<double>()
                            : -1;
    r.layers.push_back(std::move(h));
  }
  return r;
}

HessianResult load_hessian(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded()) throw Error(path + ": not valid JSON");
  return hessian_from_json(j, path);
}

}  // namespace qs::cli
