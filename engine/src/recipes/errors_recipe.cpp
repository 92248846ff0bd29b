#include <cmath>
#include <limits>

#include "quantscope/error.h"
#include "quantscope/results_json.h"
#include "recipe_key.h"

namespace qs {

std::string ErrorsRequest::cache_key() const {
  if (!quantized) throw Error("an error trace needs the quantized model");
  nlohmann::json j = recipes::evaluation_only_fields(in);
  j["quantized"] = recipes::quantized_key(quantized);
  j["batch"] = batch;
  return recipes::make_key(kind, j);
}

ErrorTrace ErrorsRequest::run(const JobControl& job) const {
  recipes::refuse_language_model(in, "the error trace");
  if (!quantized) throw Error("an error trace needs the quantized model");
  auto data = in.open_evaluation();
  auto device = in.open_device();
  ErrorTrace r;
  r.samples = data->size();
  r.layers = error_propagation(*in.graph, *quantized, *data, *device, batch, job);
  return r;
}

namespace {

// An SQNR that is not finite is an output without error: +infinity, written as null.
nlohmann::json sqnr_json(double db) {
  return std::isfinite(db) ? nlohmann::json(db) : nlohmann::json(nullptr);
}

double sqnr_from(const nlohmann::json& j) {
  return j.is_null() ? std::numeric_limits<double>::infinity() : j.get<double>();
}

}  // namespace

std::string result_to_json(const ErrorTrace& r) {
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerError& e : r.layers)
    layers.push_back({{"name", e.name},
                      {"op", e.op},
                      {"introduced_sqnr_db", sqnr_json(e.introduced_sqnr_db)},
                      {"accumulated_sqnr_db", sqnr_json(e.accumulated_sqnr_db)}});
  return nlohmann::json{{"samples", r.samples}, {"layers", layers}}.dump();
}

void result_from_json(const std::string& text, const std::string& where, ErrorTrace& out) {
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    ErrorTrace r;
    r.samples = j.at("samples").get<std::int64_t>();
    for (const nlohmann::json& l : j.at("layers"))
      r.layers.push_back({l.at("name").get<std::string>(), l.at("op").get<std::string>(),
                          sqnr_from(l.at("introduced_sqnr_db")),
                          sqnr_from(l.at("accumulated_sqnr_db"))});
    out = std::move(r);
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + ": not an error trace (" + e.what() + ")");
  }
}

}  // namespace qs
