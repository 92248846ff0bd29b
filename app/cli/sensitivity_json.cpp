#include "sensitivity_json.h"

#include <cmath>

#include "quantscope/error.h"

namespace qs::cli {

namespace {

nlohmann::json number_or_null(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

double number(const nlohmann::json& j, const char* key, double fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : fallback;
}

}  // namespace

nlohmann::json sensitivity_to_json(const SensitivityResult& r) {
  nlohmann::json j{{"samples", r.samples}, {"classifier", r.classifier}, {"notes", r.notes}};
  j["fp32_top1"] = r.fp32_top1 >= 0 ? nlohmann::json(r.fp32_top1) : nlohmann::json(nullptr);
  j["layers"] = nlohmann::json::array();
  for (const LayerSensitivity& l : r.layers) {
    nlohmann::json bits = nlohmann::json::object();
    for (const auto& [b, s] : l.bits)
      bits[std::to_string(b)] = {
          {"kl", s.kl},
          {"sqnr_db", number_or_null(s.sqnr_db)},
          {"agreement", r.classifier ? nlohmann::json(s.agreement) : nlohmann::json(nullptr)},
          {"top1", s.top1 >= 0 ? nlohmann::json(s.top1) : nlohmann::json(nullptr)},
          {"hawq", number_or_null(s.hawq)}};
    j["layers"].push_back({{"name", l.name}, {"op", l.op}, {"params", l.params}, {"bits", bits}});
  }
  return j;
}

SensitivityResult sensitivity_from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("layers") || !j["layers"].is_array())
    throw Error(where + ": not the JSON of quantscope-cli sensitivity (no \"layers\")");
  SensitivityResult r;
  r.samples = static_cast<std::int64_t>(number(j, "samples", 0));
  r.classifier = j.value("classifier", false);
  r.fp32_top1 = number(j, "fp32_top1", -1);
  r.has_labels = r.fp32_top1 >= 0;
  if (j.contains("notes") && j["notes"].is_array())
    for (const auto& n : j["notes"])
      if (n.is_string()) r.notes.push_back(n.get<std::string>());
  for (const auto& l : j["layers"]) {
    if (!l.is_object() || !l.contains("name") || !l["name"].is_string() || !l.contains("bits") ||
        !l["bits"].is_object())
      throw Error(where + ": a layer without a name or bits");
    LayerSensitivity ls;
    ls.name = l["name"].get<std::string>();
    ls.op = l.value("op", "");
    ls.params = static_cast<std::int64_t>(number(l, "params", 0));
    for (const auto& item : l["bits"].items()) {
      const std::string& key = item.key();
      if (key.empty() || key.size() > 2 || key.find_first_not_of("0123456789") != std::string::npos)
        throw Error(where + ": layer '" + ls.name + "': bad bit width '" + key + "'");
      const auto& v = item.value();
      BitSensitivity s;
      s.kl = number(v, "kl", NAN);
      s.sqnr_db = number(v, "sqnr_db", INFINITY);
      s.agreement = number(v, "agreement", 0);
      s.top1 = number(v, "top1", -1);
      s.hawq = number(v, "hawq", NAN);
      ls.bits[std::stoi(key)] = s;
    }
    r.layers.push_back(std::move(ls));
  }
  return r;
}

}  // namespace qs::cli
