// Mixed-precision search: which bit width per layer gives the least predicted loss for a cost.
//
// Each layer has options (a bit width with its cost and predicted loss). Costs and losses are
// taken as additive over layers (stated with every result, and checked by verifying points for
// real). The Pareto front is exact: the options are merged layer by layer, keeping after each
// layer only the partial assignments that no other beats in both cost and loss (dominance
// pruning). Memory and time grow with the front's size, not with the product of the options.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "quantscope/analysis.h"
#include "quantscope/bench.h"
#include "quantscope/graph.h"
#include "quantscope/quant.h"

namespace qs {

struct BitOption {
  int bits = 8;
  double cost = 0;
  double loss = 0;
  double cost2 = 0;  // a second cost, when the search has two (else 0)
};

struct LayerOptions {
  std::string layer;
  std::vector<BitOption> options;
};

struct ParetoPoint {
  double cost = 0;   // sum over layers, plus the fixed cost
  double cost2 = 0;  // likewise, for the second cost
  double predicted_loss = 0;
  std::map<std::string, int> bits;  // by layer
};

// The exact front, by increasing cost (and decreasing loss). `fixed_cost` is added to every
// point (e.g. the bytes of what is not quantized). With second costs (BitOption::cost2), the
// points no other beats in all three of cost, cost2 and loss, those whose cost2 (plus
// `fixed_cost2`) exceeds `budget2` left out. Throws Error when a layer has no options, or when
// a front of two costs grows past kMaxFront points.
std::vector<ParetoPoint> pareto_front(const std::vector<LayerOptions>& layers,
                                      double fixed_cost = 0, double fixed_cost2 = 0,
                                      double budget2 = INFINITY);
constexpr std::size_t kMaxFront = 200000;

enum class SearchObjective { size, bops, latency };
// A layer's predicted loss at a bit width: its measured KL when quantized alone, or HAWQ-V2's
// tr(H)/n * ||Q(W) - W||^2 (needs Hessian traces).
enum class SearchEstimate { kl, hawq };

// Measured time of each quantizable layer at each weight bit width on one device: every layer
// at that width (activations at `act_bits`), integer kernels where the device has them, each
// node timed in profiled runs (bench.h, per_layer). A layer's time includes what the device
// fused into it and the unpacking of its weights.
struct LatencyTable {
  std::string device;
  std::map<std::string, std::string> environment;
  std::int64_t batch = 1;
  int act_bits = 8;
  bool integer_kernels = false;
  std::map<std::string, std::map<int, double>> layer_ms;  // layer -> bits -> median ms
  std::map<int, double> rest_ms;   // bits -> the end-to-end time less the layers' (other
                                   // nodes, copies, submission), at least 0
  std::map<int, double> total_ms;  // bits -> the whole run, end to end (median)
};
// Builds the table: for each width, the uniform configuration calibrated on `calib` (with
// `calib_device`), then timed on `device`. Progress per width; Cancelled when cancelled.
LatencyTable build_latency_table(const Graph& graph, const QuantConfig& base, Dataset& calib,
                                 Device& calib_device, Device& device, const std::vector<int>& bits,
                                 int act_bits, const BenchOptions& bench,
                                 const JobControl& job = {});
std::string latency_table_to_json(const LatencyTable& table);
// Throws Error naming what is wrong.
LatencyTable latency_table_from_json(const std::string& text);
void save_latency_table(const std::string& path, const LatencyTable& table);  // atomic
LatencyTable load_latency_table(const std::string& path);

// Per-layer options from a weight sensitivity sweep: cost of each bit width by `objective`
// (size: bytes of the weights at that width plus one 4-byte scale per output channel (8 with a
// zero point); bops: MACs per sample x weight bits x activation bits), predicted loss = the
// measured KL of that layer alone at that width, or its HAWQ estimate (Error where the sweep has
// none). `pinned`: layers held at one width (first and
// last at 8 when asked). `act_bits`: 0 for float activations (32 in BOPs).
// latency: the table's time of the layer at that width (Error when the table lacks it).
std::vector<LayerOptions> layer_options(const Graph& graph, const SensitivityResult& sensitivity,
                                        SearchObjective objective, int act_bits,
                                        const std::map<std::string, int>& pinned,
                                        const LatencyTable* latency = nullptr,
                                        SearchEstimate estimate = SearchEstimate::kl);
// The cost of everything the options do not cover: float bytes of the other initializers
// (size), 0 (bops), the median over widths of the rest of the end-to-end time (latency).
double fixed_cost(const Graph& graph, const std::vector<LayerOptions>& layers,
                  SearchObjective objective, const LatencyTable* latency = nullptr);

// Spearman's rank correlation of two equally long series (ties get their mean rank).
double spearman(const std::vector<double>& a, const std::vector<double>& b);

// The whole search: a weight sensitivity sweep, the front, baselines (uniform widths, and first
// and last layers at 8 bits with the rest uniform), and real evaluation of chosen points.
struct SearchOptions {
  SearchObjective objective = SearchObjective::size;
  std::vector<int> bits{2, 3, 4, 6, 8};
  int act_bits = 8;  // activations of every quantized layer; 0: float (weight-only)
  bool keep_ends_at_8 = false;
  std::map<std::string, int> pinned;  // layer -> bits
  int verify = 6;                     // front points evaluated for real, spread along it
  // Also verify, for each baseline, the front point of least predicted loss at no more cost, so
  // the front and the baselines are compared measured against measured at the same cost.
  bool verify_at_baselines = true;
  double budget = -1;  // >= 0: the best point under it is verified and returned
  std::int64_t batch = 64;
  SearchEstimate estimate = SearchEstimate::kl;
  const HessianResult* hessian = nullptr;  // for SearchEstimate::hawq
  // A second cost, held under budget2 (< 0: none): the front is then the exact front of three
  // (cost, cost2, loss). Latency, as either cost, needs the table.
  bool has_second = false;
  SearchObjective second = SearchObjective::size;
  double budget2 = -1;
  const LatencyTable* latency = nullptr;
  // Verified points are also timed end to end here (the table's device), at the table's batch.
  Device* latency_device = nullptr;
  BenchOptions latency_bench;
};

struct MeasuredLoss {
  bool measured = false;
  double top1 = -1;  // percent, with labels
  double agreement = 0, kl = 0, sqnr_db = 0;
  double latency_ms = -1;  // end to end on the latency device, when there is one
};

struct SearchPoint {
  std::string label;  // "front", "uniform 4", "8-first-last 4", "budget"
  double cost = 0, cost2 = 0, predicted_loss = 0;
  std::map<std::string, int> bits;
  MeasuredLoss measured;
  int front_match = -1;  // baselines: index into front of the point verified at its cost, or -1
};

struct SearchResult {
  std::vector<SearchPoint> front, baselines;
  int best = -1;  // index into front of the best point under the budget, -1 without one
  double fp32_top1 = -1;
  double fp32_cost = 0;           // the float model's size (size objective) or BOPs
  double rank_correlation = NAN;  // Spearman, predicted vs measured KL over verified points
  double front_seconds = 0;       // wall time of computing the front (not the sweep)
  std::vector<std::string> notes;
};

// `base` supplies every setting except the weight and activation bits: each layer in `bits` gets
// its weight width and `act_bits`; the others (no weights: attention's activation-only MatMuls)
// get `act_bits` for their inputs.
QuantConfig config_for_bits(const QuantConfig& base, const std::map<std::string, int>& bits,
                            int act_bits);
SearchResult mixed_precision_search(const Graph& graph, const QuantConfig& base, Dataset& calib,
                                    Dataset& eval, Device& device, const SearchOptions& options,
                                    const JobControl& job = {});

}  // namespace qs
