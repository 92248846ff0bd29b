#include "quantscope/results_json.h"
#include "recipe_key.h"

namespace qs {

std::string SensitivityRequest::cache_key() const {
  nlohmann::json j = recipes::evaluation_fields(in);
  j["base"] = recipes::config_fields(base);
  j["bits"] = options.bits;
  j["what"] = static_cast<int>(options.what);
  j["batch"] = options.batch;
  j["shard"] = {options.shard_index, options.shard_count};
  j["hessian"] = hessian ? recipes::content_key(hessian_to_json(*hessian)) : "";
  return recipes::make_key(kind, j);
}

SensitivityResult SensitivityRequest::run(const JobControl& job) const {
  SensitivityOptions o = options;
  o.hessian = hessian ? &*hessian : nullptr;
  auto calibration = in.open_calibration();
  auto evaluation = in.open_evaluation();
  auto device = in.open_device();
  return sensitivity_sweep(*in.graph, base, *calibration, *evaluation, *device, o, job);
}

std::string result_to_json(const SensitivityResult& r) {
  return sensitivity_to_json(r);
}

void result_from_json(const std::string& text, const std::string& where, SensitivityResult& out) {
  out = sensitivity_from_json(text, where);
}

}  // namespace qs
