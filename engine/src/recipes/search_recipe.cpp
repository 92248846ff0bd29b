#include "quantscope/error.h"
#include "quantscope/registry.h"
#include "quantscope/results_json.h"
#include "recipe_key.h"

namespace qs {

std::string SearchRequest::cache_key() const {
  nlohmann::json j = recipes::evaluation_fields(in);
  j["base"] = recipes::config_fields(base);
  const SearchOptions& o = options;
  j["objective"] = static_cast<int>(o.objective);
  j["bits"] = o.bits;
  j["act_bits"] = o.act_bits;
  j["keep_ends_at_8"] = o.keep_ends_at_8;
  j["pinned"] = o.pinned;
  j["verify"] = o.verify;
  j["verify_at_baselines"] = o.verify_at_baselines;
  j["budget"] = o.budget;
  j["batch"] = o.batch;
  j["estimate"] = static_cast<int>(o.estimate);
  j["second"] = o.has_second ? nlohmann::json{static_cast<int>(o.second), o.budget2} : nullptr;
  j["hessian"] = hessian ? recipes::content_key(hessian_to_json(*hessian)) : "";
  j["latency"] = latency ? recipes::content_key(latency_table_to_json(*latency)) : "";
  if (latency) {  // verified points are timed with these
    const BenchOptions& b = o.latency_bench;
    j["latency_device"] = latency_device;
    j["latency_bench"] = {b.batch, b.warmup, b.runs, b.min_seconds, b.seed};
  }
  return recipes::make_key(kind, j);
}

SearchResult SearchRequest::run(const JobControl& job) const {
  recipes::refuse_language_model(in, "the mixed-precision search");
  SearchOptions o = options;
  o.hessian = hessian ? &*hessian : nullptr;
  o.latency = latency ? &*latency : nullptr;
  std::unique_ptr<Device> timer;
  if (latency) {
    if (latency_device.empty()) throw Error("a latency search needs the device it times on");
    timer = in.devices().create_device(latency_device);
    if (const DeviceStatus st = timer->status(); !st.usable)
      throw Error("device '" + latency_device + "' is not usable here: " + st.reason);
  }
  o.latency_device = timer.get();
  auto calibration = in.open_calibration();
  auto evaluation = in.open_evaluation();
  auto device = in.open_device();
  return mixed_precision_search(*in.graph, base, *calibration, *evaluation, *device, o, job);
}

std::string result_to_json(const SearchResult& r) {
  return search_result_to_json(r);
}

void result_from_json(const std::string& text, const std::string& where, SearchResult& out) {
  out = search_result_from_json(text, where);
}

}  // namespace qs
