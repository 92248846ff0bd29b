// The JSON forms of the analysis results: what `quantscope-cli sensitivity|hessian|search --json`
// print, what `merge`, `export --sensitivity/--search` and `--hessian` read back, and what a
// project caches. Writers give a JSON object as text; readers check every field they use and
// throw Error naming `where` and the field.
#pragma once

#include <string>

#include "quantscope/analysis.h"
#include "quantscope/bench.h"
#include "quantscope/evaluate.h"
#include "quantscope/search.h"

namespace qs {

std::string sensitivity_to_json(const SensitivityResult& r);
SensitivityResult sensitivity_from_json(const std::string& text, const std::string& where);

std::string hessian_to_json(const HessianResult& r);
HessianResult hessian_from_json(const std::string& text, const std::string& where);
HessianResult load_hessian(const std::string& path);

// "front", "baselines" (points with label, cost, cost2, predicted_loss, measured or null, config
// {layer: bits}), "best" (the point or null), "best_index", "fp32_cost", "fp32_top1",
// "rank_correlation", "notes".
std::string search_result_to_json(const SearchResult& r);
SearchResult search_result_from_json(const std::string& text, const std::string& where);

// A model against its quantized form on the same samples (evaluate_pair): "reference" and
// "candidate" (samples, top1, top5, per-class counts, psnr_db, seconds, device), "agreement",
// "kl", "sqnr_db", "only_reference", "only_candidate".
std::string pair_eval_to_json(const PairEvalResult& r);
PairEvalResult pair_eval_from_json(const std::string& text, const std::string& where);

// Latency statistics: "median_ms", "p90_ms", "p99_ms", "min_ms", "max_ms", "mean_ms", "cv",
// "runs" (what bench --json and the cached benchmarks hold).
std::string latency_stats_to_json(const LatencyStats& s);
// Per-layer latencies (bench --per-layer): an array of {"name", "op", "median_ms", "kernel"}.
std::string layer_latencies_to_json(const std::vector<LayerLatency>& layers);

}  // namespace qs
