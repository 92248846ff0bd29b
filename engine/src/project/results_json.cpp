// The JSON forms of sensitivity sweeps, Hessian traces and search results (quantscope/
// results_json.h). Non-finite numbers are written as null and read back as the "unknown" value
// of their field.
#include "quantscope/results_json.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "quantscope/error.h"

namespace qs {

namespace {

using nlohmann::json;

json number_or_null(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}
json non_negative_or_null(double v) {
  return v >= 0 ? json(v) : json(nullptr);
}

double number(const json& j, const char* key, double fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : fallback;
}

// A count (samples, parameters, probes): a number in [0, limit], else `fallback`. Never a cast of
// an out-of-range double.
std::int64_t count(const json& j, const char* key, std::int64_t fallback,
                   std::int64_t limit = std::int64_t{1} << 53) {
  const double v = number(j, key, NAN);
  if (!(v >= 0 && v <= static_cast<double>(limit))) return fallback;
  return static_cast<std::int64_t>(v);
}

json parse(const std::string& text, const std::string& where) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) throw Error(where + ": not valid JSON");
  if (!j.is_object()) throw Error(where + ": not a JSON object");
  return j;
}

std::vector<std::string> notes_of(const json& j) {
  std::vector<std::string> notes;
  if (auto it = j.find("notes"); it != j.end() && it->is_array())
    for (const json& n : *it)
      if (n.is_string()) notes.push_back(n.get<std::string>());
  return notes;
}

json point_json(const SearchPoint& p) {
  json m = nullptr;
  if (p.measured.measured)
    m = {{"top1", non_negative_or_null(p.measured.top1)},
         {"agreement", p.measured.agreement},
         {"kl", p.measured.kl},
         {"sqnr_db", number_or_null(p.measured.sqnr_db)},
         {"latency_ms", non_negative_or_null(p.measured.latency_ms)}};
  json j{{"label", p.label}, {"cost", p.cost},
         {"cost2", p.cost2}, {"predicted_loss", p.predicted_loss},
         {"measured", m},    {"config", p.bits}};
  if (p.front_match >= 0) j["front_match"] = p.front_match;  // baselines only
  return j;
}

SearchPoint point_from_json(const json& e, const std::string& where) {
  if (!e.is_object() || !e.contains("cost") || !e["cost"].is_number())
    throw Error(where + " has no cost");
  SearchPoint p;
  p.label = e.contains("label") && e["label"].is_string() ? e["label"].get<std::string>() : "";
  p.cost = e["cost"].get<double>();
  p.cost2 = number(e, "cost2", 0);
  p.predicted_loss = number(e, "predicted_loss", 0);
  p.front_match = static_cast<int>(count(e, "front_match", -1, 1 << 30));
  if (e.contains("measured") && e["measured"].is_object()) {
    const json& m = e["measured"];
    p.measured.measured = true;
    p.measured.kl = number(m, "kl", 0);
    p.measured.top1 = number(m, "top1", -1);
    p.measured.agreement = number(m, "agreement", 0);
    p.measured.sqnr_db = number(m, "sqnr_db", INFINITY);
    p.measured.latency_ms = number(m, "latency_ms", -1);
  }
  if (e.contains("config")) {
    if (!e["config"].is_object()) throw Error(where + ": \"config\" must map layers to bits");
    for (const auto& item : e["config"].items()) {
      if (!item.value().is_number_integer() || item.value().get<long long>() < 0 ||
          item.value().get<long long>() > 32)
        throw Error(where + ": layer '" + item.key() + "' has no bit width in 0..32");
      p.bits[item.key()] = item.value().get<int>();
    }
  }
  return p;
}

}  // namespace

std::string sensitivity_to_json(const SensitivityResult& r) {
  json j{{"samples", r.samples}, {"classifier", r.classifier}, {"notes", r.notes}};
  if (r.language_model) j["language_model"] = true;
  j["fp32_top1"] = non_negative_or_null(r.fp32_top1);
  j["layers"] = json::array();
  for (const LayerSensitivity& l : r.layers) {
    json bits = json::object();
    for (const auto& [b, s] : l.bits)
      bits[std::to_string(b)] = {{"kl", number_or_null(s.kl)},
                                 {"sqnr_db", number_or_null(s.sqnr_db)},
                                 {"agreement", r.classifier ? json(s.agreement) : json(nullptr)},
                                 {"top1", non_negative_or_null(s.top1)},
                                 {"hawq", number_or_null(s.hawq)}};
    j["layers"].push_back({{"name", l.name}, {"op", l.op}, {"params", l.params}, {"bits", bits}});
  }
  return j.dump();
}

SensitivityResult sensitivity_from_json(const std::string& text, const std::string& where) {
  const json j = parse(text, where);
  if (!j.contains("layers") || !j["layers"].is_array())
    throw Error(where + ": not the JSON of quantscope-cli sensitivity (no \"layers\")");
  SensitivityResult r;
  r.samples = count(j, "samples", 0);
  r.classifier =
      j.contains("classifier") && j["classifier"].is_boolean() && j["classifier"].get<bool>();
  r.language_model = j.contains("language_model") && j["language_model"].is_boolean() &&
                     j["language_model"].get<bool>();
  r.fp32_top1 = number(j, "fp32_top1", -1);
  r.has_labels = r.fp32_top1 >= 0;
  r.notes = notes_of(j);
  for (const json& l : j["layers"]) {
    if (!l.is_object() || !l.contains("name") || !l["name"].is_string() || !l.contains("bits") ||
        !l["bits"].is_object())
      throw Error(where + ": a layer without a name or bits");
    LayerSensitivity ls;
    ls.name = l["name"].get<std::string>();
    ls.op = l.contains("op") && l["op"].is_string() ? l["op"].get<std::string>() : "";
    ls.params = count(l, "params", 0);
    for (const auto& item : l["bits"].items()) {
      const std::string& key = item.key();
      if (key.empty() || key.size() > 2 || key.find_first_not_of("0123456789") != std::string::npos)
        throw Error(where + ": layer '" + ls.name + "': bad bit width '" + key + "'");
      const json& v = item.value();
      if (!v.is_object()) throw Error(where + ": layer '" + ls.name + "': bits " + key);
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

std::string hessian_to_json(const HessianResult& r) {
  json j{{"samples", r.samples}, {"loss", r.loss},         {"method", r.method},
         {"probes", r.probes},   {"step", r.step},         {"converged", r.converged},
         {"notes", r.notes},     {"layers", json::array()}};
  for (const LayerHessian& l : r.layers)
    j["layers"].push_back({{"name", l.name},
                           {"op", l.op},
                           {"weight", l.weight},
                           {"params", l.params},
                           {"trace", number_or_null(l.trace)},
                           {"stderr", number_or_null(l.std_error)},
                           {"probes", l.probes},
                           {"layerwise_trace", non_negative_or_null(l.layerwise_trace)}});
  return j.dump();
}

HessianResult hessian_from_json(const std::string& text, const std::string& where) {
  auto fail = [&](const std::string& what) -> Error { return Error(where + ": " + what); };
  const json j = parse(text, where);
  if (!j.contains("layers") || !j["layers"].is_array())
    throw fail("not Hessian traces (no \"layers\" array; write them with 'hessian --json')");
  HessianResult r;
  r.samples = count(j, "samples", 0);
  r.loss = j.contains("loss") && j["loss"].is_string() ? j["loss"].get<std::string>() : "";
  r.method = j.contains("method") && j["method"].is_string() ? j["method"].get<std::string>() : "";
  r.probes = static_cast<int>(count(j, "probes", 0, 1 << 30));
  r.step = number(j, "step", 0);
  r.converged =
      j.contains("converged") && j["converged"].is_boolean() && j["converged"].get<bool>();
  r.notes = notes_of(j);
  for (const json& l : j["layers"]) {
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
    h.op = l.contains("op") && l["op"].is_string() ? l["op"].get<std::string>() : "";
    h.weight =
        l.contains("weight") && l["weight"].is_string() ? l["weight"].get<std::string>() : "";
    h.std_error = number(l, "stderr", NAN);
    h.probes = static_cast<int>(count(l, "probes", r.probes, 1 << 30));
    h.layerwise_trace = number(l, "layerwise_trace", -1);
    r.layers.push_back(std::move(h));
  }
  return r;
}

HessianResult load_hessian(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return hessian_from_json(ss.str(), path);
}

std::string search_result_to_json(const SearchResult& r) {
  json j{{"fp32_cost", number_or_null(r.fp32_cost)},
         {"fp32_top1", non_negative_or_null(r.fp32_top1)},
         {"rank_correlation", number_or_null(r.rank_correlation)},
         {"front_seconds", r.front_seconds},
         {"notes", r.notes},
         {"front", json::array()},
         {"baselines", json::array()}};
  for (const SearchPoint& p : r.front) j["front"].push_back(point_json(p));
  for (const SearchPoint& p : r.baselines) j["baselines"].push_back(point_json(p));
  const bool best = r.best >= 0 && static_cast<std::size_t>(r.best) < r.front.size();
  j["best"] = best ? point_json(r.front[static_cast<std::size_t>(r.best)]) : json(nullptr);
  j["best_index"] = best ? json(r.best) : json(nullptr);
  return j.dump();
}

SearchResult search_result_from_json(const std::string& text, const std::string& where) {
  const json j = parse(text, where);
  SearchResult r;
  for (const char* key : {"front", "baselines"}) {
    if (!j.contains(key) || !j[key].is_array())
      throw Error(where + ": no '" + key + "' list; is it the output of search --json?");
    auto& out = std::string(key) == "front" ? r.front : r.baselines;
    for (const json& e : j[key]) {
      out.push_back(point_from_json(e, where + ": a point of '" + key + "'"));
      if (out.back().label.empty()) out.back().label = key;
    }
  }
  const double best = number(j, "best_index", -1);
  r.best = best >= 0 && best < static_cast<double>(r.front.size()) ? static_cast<int>(best) : -1;
  r.fp32_cost = number(j, "fp32_cost", 0);
  r.fp32_top1 = number(j, "fp32_top1", -1);
  r.rank_correlation = number(j, "rank_correlation", NAN);
  r.front_seconds = number(j, "front_seconds", 0);
  for (SearchPoint& b : r.baselines)  // an index past the front is dropped, not trusted
    if (b.front_match < -1 || b.front_match >= static_cast<int>(r.front.size())) b.front_match = -1;
  r.notes = notes_of(j);
  return r;
}

namespace {

json eval_json(const EvalResult& r) {
  return {{"samples", r.samples},
          {"has_labels", r.has_labels},
          {"top1", r.top1},
          {"top5", r.top5},
          {"class_samples", r.class_samples},
          {"class_correct", r.class_correct},
          {"image_output", r.image_output},
          {"psnr_db", number_or_null(r.psnr_db)},
          {"seconds", r.seconds},
          {"device", r.device}};
}

bool flag(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

std::vector<std::int64_t> counts_of(const json& j, const char* key, const std::string& where) {
  std::vector<std::int64_t> out;
  auto it = j.find(key);
  if (it == j.end()) return out;
  if (!it->is_array()) throw Error(where + ": '" + key + "' is not a list");
  for (const json& v : *it) {
    if (!v.is_number() || !(v.get<double>() >= 0 && v.get<double>() <= 9.0e15))
      throw Error(where + ": '" + key + "' holds something other than a count");
    out.push_back(v.get<std::int64_t>());
  }
  return out;
}

EvalResult eval_from_json(const json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": not a JSON object");
  EvalResult r;
  r.samples = count(j, "samples", 0);
  r.has_labels = flag(j, "has_labels");
  r.top1 = number(j, "top1", 0);
  r.top5 = number(j, "top5", 0);
  r.class_samples = counts_of(j, "class_samples", where);
  r.class_correct = counts_of(j, "class_correct", where);
  if (r.class_samples.size() != r.class_correct.size())
    throw Error(where + ": per-class samples and correct counts differ in length");
  r.image_output = flag(j, "image_output");
  r.psnr_db = number(j, "psnr_db", NAN);
  r.seconds = number(j, "seconds", 0);
  if (auto it = j.find("device"); it != j.end() && it->is_string())
    r.device = it->get<std::string>();
  return r;
}

}  // namespace

std::string pair_eval_to_json(const PairEvalResult& r) {
  return json{{"reference", eval_json(r.reference)}, {"candidate", eval_json(r.candidate)},
              {"classifier", r.classifier},          {"agreement", r.agreement},
              {"kl", number_or_null(r.kl)},          {"sqnr_db", number_or_null(r.sqnr_db)},
              {"only_reference", r.only_reference},  {"only_candidate", r.only_candidate}}
      .dump();
}

PairEvalResult pair_eval_from_json(const std::string& text, const std::string& where) {
  const json j = parse(text, where);
  if (!j.contains("reference") || !j.contains("candidate"))
    throw Error(where + ": not a paired evaluation (no \"reference\" and \"candidate\")");
  PairEvalResult r;
  r.reference = eval_from_json(j["reference"], where + ": reference");
  r.candidate = eval_from_json(j["candidate"], where + ": candidate");
  r.classifier = flag(j, "classifier");
  r.agreement = number(j, "agreement", 0);
  r.kl = number(j, "kl", NAN);
  r.sqnr_db = number(j, "sqnr_db", NAN);
  r.only_reference = count(j, "only_reference", 0);
  r.only_candidate = count(j, "only_candidate", 0);
  return r;
}

}  // namespace qs
