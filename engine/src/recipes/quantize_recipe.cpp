#include "quantscope/error.h"
#include "quantscope/results_json.h"
#include "recipe_key.h"

namespace qs {

std::string QuantizeRequest::cache_key() const {
  nlohmann::json j = recipes::calibration_fields(in);
  j["device"] = in.device;  // calibration runs the float model there
  j["config"] = recipes::config_fields(config);
  j["batch"] = batch;
  return recipes::make_key(kind, j);
}

QuantizedModel QuantizeRequest::run(const JobControl& job) const {
  const std::vector<std::string> problems = config_problems(config, *in.graph, &in.devices());
  if (!problems.empty()) {
    std::string text = "the configuration does not fit the model:";
    for (const std::string& p : problems) text += "\n  " + p;
    throw Error(text);
  }
  auto data = in.open_calibration();
  auto device = in.open_device();
  CalibrationOptions options;
  options.batch = batch;
  options.registry = &in.devices();  // a plugin's calibrator or rounding too
  QuantizedModel q = quantize_model(*in.graph, config, *data, *device, options, job);
  q.calibration_data = in.calibration + " (" + std::to_string(data->size()) + " samples)";
  return q;
}

std::string CompareRequest::cache_key() const {
  if (!quantized) throw Error("a comparison needs the quantized model");
  nlohmann::json j = recipes::evaluation_only_fields(in);
  j["quantized"] = recipes::quantized_key(quantized);
  j["integer_kernels"] = integer_kernels;
  j["batch"] = batch;
  return recipes::make_key(kind, j);
}

PairEvalResult CompareRequest::run(const JobControl& job) const {
  recipes::refuse_language_model(in, "comparing on samples (eval --config compares on text)");
  if (!quantized) throw Error("a comparison needs the quantized model");
  const Graph simulated = apply_quantization(*in.graph, *quantized);
  auto data = in.open_evaluation();
  auto reference = in.open_device();
  auto candidate = in.open_device();
  if (integer_kernels && !candidate->use_integer_kernels(true))
    throw Error("device '" + in.device +
                "' has no integer kernels; run the simulation (without --real) or use "
                "--device cpu-onednn");
  EvalOptions options;
  options.batch = batch;
  return evaluate_pair(*in.graph, simulated, *data, *reference, *candidate, options, job);
}

std::string result_to_json(const QuantizedModel& r) {
  return quantized_model_to_json(r);
}
std::string result_to_json(const PairEvalResult& r) {
  return pair_eval_to_json(r);
}

void result_from_json(const std::string& text, const std::string&, QuantizedModel& out) {
  out = quantized_model_from_json(text);
}

void result_from_json(const std::string& text, const std::string& where, PairEvalResult& out) {
  out = pair_eval_from_json(text, where);
}

}  // namespace qs
