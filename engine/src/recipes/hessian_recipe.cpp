#include "quantscope/results_json.h"
#include "recipe_key.h"

namespace qs {

std::string HessianRequest::cache_key() const {
  nlohmann::json j = recipes::calibration_fields(in);
  j["max_probes"] = options.max_probes;
  j["min_probes"] = options.min_probes;
  j["tol"] = options.tol;
  j["batch"] = options.batch;
  j["step"] = options.step;
  j["seed"] = options.seed;
  j["layerwise"] = options.layerwise;
  return recipes::make_key(kind, j);
}

HessianResult HessianRequest::run(const JobControl& job) const {
  recipes::refuse_language_model(in, "the Hessian trace");
  return hessian_traces(*in.graph, *in.open_calibration(), options, job);
}

std::string result_to_json(const HessianResult& r) {
  return hessian_to_json(r);
}

void result_from_json(const std::string& text, const std::string& where, HessianResult& out) {
  out = hessian_from_json(text, where);
}

}  // namespace qs
