// The long jobs as typed requests, shared by the CLI and the workbench. A program fills a
// request, asks the project's cache for its result, and runs it when the cache has none: the key
// is derived from the request's own fields (only those that change the result), so a result
// computed by `quantscope-cli ... --project P` opens in the workbench without recomputing, and
// back. Results are cached in their JSON form (quantscope/results_json.h).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "quantscope/analysis.h"
#include "quantscope/bench.h"
#include "quantscope/dataset.h"
#include "quantscope/evaluate.h"
#include "quantscope/job.h"
#include "quantscope/project.h"
#include "quantscope/quant.h"
#include "quantscope/search.h"

namespace qs {

class Registry;

// What a recipe reads: the model and where its data come from.
struct RecipeInputs {
  std::shared_ptr<const Graph> graph;
  // Stands for the graph in cache keys: the model file's SHA-256 (file_sha256), or "path:..." for
  // a model that is not one file. Only needed when a cache is asked.
  std::string model_id;
  std::string calibration;  // data spec (quantscope/dataset.h)
  std::string evaluation;   // data spec; empty: the calibration set
  Preprocess preprocess;
  std::int64_t limit = -1;       // samples taken from the calibration set; -1: all
  std::int64_t eval_limit = -1;  // from the evaluation set; -1: all
  std::string device = "cpu-ref";
  const Registry* registry = nullptr;  // devices and calibrators; nullptr: the built-ins
  // Text data (text: or tokens:) for a language model: its tokenizer file (needed by text:) and
  // the tokens per window (each window a sample).
  std::string tokenizer;
  std::int64_t context = 256;

  const Registry& devices() const;
  std::unique_ptr<Dataset> open_calibration() const;
  std::unique_ptr<Dataset> open_evaluation() const;
  // Creates the device and checks that it is usable here (Error naming it and why not).
  std::unique_ptr<Device> open_device() const;
  // `evaluation` and `eval_limit` as used: the calibration set's when empty.
  std::string evaluation_spec() const { return evaluation.empty() ? calibration : evaluation; }
};

// Per-layer Hessian traces (hessian_traces) on the calibration set; runs on the autograd
// engine, so the device and the evaluation set are not part of it.
struct HessianRequest {
  using Result = HessianResult;
  static constexpr const char* kind = "hessian";
  RecipeInputs in;
  HessianOptions options;  // `threads` does not change the result and is not in the key

  std::string cache_key() const;
  Result run(const JobControl& job = {}) const;
};

// Each layer alone at each width (sensitivity_sweep), with HAWQ-V2's estimate beside the
// measured loss when traces are given.
struct SensitivityRequest {
  using Result = SensitivityResult;
  static constexpr const char* kind = "sensitivity";
  RecipeInputs in;
  QuantConfig base;
  SensitivityOptions options;            // `options.hessian` is ignored: `hessian` below is used
  std::optional<HessianResult> hessian;  // keyed by its content

  std::string cache_key() const;
  Result run(const JobControl& job = {}) const;
};

// The Pareto front of predicted loss against cost (mixed_precision_search).
struct SearchRequest {
  using Result = SearchResult;
  static constexpr const char* kind = "search";
  RecipeInputs in;
  QuantConfig base;
  // The pointers in it are ignored: `hessian`, `latency` and `latency_device` below are used.
  SearchOptions options;
  std::optional<HessianResult> hessian;  // for SearchEstimate::hawq; keyed by its content
  std::optional<LatencyTable> latency;   // for a latency cost; keyed by its content
  std::string latency_device;            // where verified points are timed (the table's device)

  std::string cache_key() const;
  Result run(const JobControl& job = {}) const;
};

// Calibration and rounding (quantize_model) on the calibration set, on the device.
struct QuantizeRequest {
  using Result = QuantizedModel;
  static constexpr const char* kind = "quantize";
  RecipeInputs in;
  QuantConfig config;
  std::int64_t batch = 64;

  std::string cache_key() const;
  // Throws Error listing every problem when the configuration does not fit the model.
  Result run(const JobControl& job = {}) const;
};

// The float model against its quantized form on the evaluation set (evaluate_pair): the
// simulation, or the device's integer kernels with `integer_kernels`.
struct CompareRequest {
  using Result = PairEvalResult;
  static constexpr const char* kind = "compare";
  RecipeInputs in;
  std::shared_ptr<const QuantizedModel> quantized;  // keyed by its content
  bool integer_kernels = false;
  std::int64_t batch = 64;

  std::string cache_key() const;
  Result run(const JobControl& job = {}) const;
};

// Where each layer's error is born and where it grows (error_propagation) on the evaluation set.
struct ErrorTrace {
  std::vector<LayerError> layers;
  std::int64_t samples = 0;
};

struct ErrorsRequest {
  using Result = ErrorTrace;
  static constexpr const char* kind = "errors";
  RecipeInputs in;
  std::shared_ptr<const QuantizedModel> quantized;  // keyed by its content
  std::int64_t batch = 64;

  std::string cache_key() const;
  Result run(const JobControl& job = {}) const;
};

// The model (float, or `quantized` simulated or with the device's integer kernels) timed on the
// device (benchmark). A measurement: cached so a project shows it again, not because a rerun
// would give the same numbers.
struct BenchRequest {
  using Result = BenchResult;
  static constexpr const char* kind = "bench";
  RecipeInputs in;                                  // the model and the device; no data is read
  std::shared_ptr<const QuantizedModel> quantized;  // null: the float model; keyed by content
  bool integer_kernels = false;
  BenchOptions options;  // `threads` is in the key (it changes the time), `seed` too

  std::string cache_key() const;
  Result run(const JobControl& job = {}) const;
};

// Each layer's time at each width on the device (build_latency_table): each width's uniform
// configuration calibrated on the calibration set on `calibration_device`, then timed.
struct LatencyTableRequest {
  using Result = LatencyTable;
  static constexpr const char* kind = "latency table";
  RecipeInputs in;
  QuantConfig base;
  std::vector<int> bits{2, 3, 4, 6, 8};
  int act_bits = 8;
  BenchOptions options;
  std::string calibration_device = "cpu-ref";

  std::string cache_key() const;
  Result run(const JobControl& job = {}) const;
};

std::string result_to_json(const HessianResult& r);
std::string result_to_json(const SensitivityResult& r);
std::string result_to_json(const SearchResult& r);
std::string result_to_json(const QuantizedModel& r);
std::string result_to_json(const PairEvalResult& r);
std::string result_to_json(const ErrorTrace& r);
std::string result_to_json(const BenchResult& r);
std::string result_to_json(const LatencyTable& r);
void result_from_json(const std::string& text, const std::string& where, HessianResult& out);
void result_from_json(const std::string& text, const std::string& where, SensitivityResult& out);
void result_from_json(const std::string& text, const std::string& where, SearchResult& out);
void result_from_json(const std::string& text, const std::string& where, QuantizedModel& out);
void result_from_json(const std::string& text, const std::string& where, PairEvalResult& out);
void result_from_json(const std::string& text, const std::string& where, ErrorTrace& out);
void result_from_json(const std::string& text, const std::string& where, BenchResult& out);
void result_from_json(const std::string& text, const std::string& where, LatencyTable& out);

// The cached result of `request` in `project`, or nothing (also when the entry is damaged: it is
// then recomputed).
template <class Request>
std::optional<typename Request::Result> find_result(const Project& project,
                                                    const Request& request) {
  const CachedResult* hit = find_cached(project, Request::kind, request.cache_key());
  if (!hit) return std::nullopt;
  try {
    typename Request::Result r;
    result_from_json(hit->json, std::string("the cached ") + Request::kind + " result", r);
    return r;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The cache entry of a result: its key and JSON. Both can be long to compute for a large model
// (a CompareRequest's key hashes the quantized model's JSON), so a program with a GUI thread makes
// the entry on the worker and only stores it (store_cached) on the GUI thread.
template <class Request>
CachedResult cache_entry(const Request& request, const typename Request::Result& r) {
  return {Request::kind, request.cache_key(), {}, result_to_json(r)};
}

template <class Request>
void store_result(Project& project, const Request& request, const typename Request::Result& r) {
  store_cached(project, cache_entry(request, r));
}

}  // namespace qs
