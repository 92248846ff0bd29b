// Analysis: which layers can lose bits. Per-layer sensitivity: quantize one layer alone (its
// weights, its input activations, or both) at each bit width, the rest of the model in float,
// and measure how far the output moves from the float model's.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "quantscope/dataset.h"
#include "quantscope/device.h"
#include "quantscope/graph.h"
#include "quantscope/job.h"
#include "quantscope/quant.h"

namespace qs {

struct HessianResult;

enum class SensitivityTarget { weights, acts, both };

struct SensitivityOptions {
  std::vector<int> bits{2, 3, 4, 5, 6, 8};
  SensitivityTarget what = SensitivityTarget::weights;
  std::int64_t batch = 64;
  // Sharding for job arrays: this run computes the points (layer, bits) whose index in
  // layer-major order is shard_index modulo shard_count; merge the parts with
  // merge_sensitivity().
  int shard_index = 0;
  int shard_count = 1;
  // Hessian traces (hessian_traces(), or read back from its JSON) for the HAWQ-V2 estimate;
  // layers it lacks, and every layer without it, get none.
  const HessianResult* hessian = nullptr;
};

struct BitSensitivity {
  double kl = 0;         // mean KL(float || quantized) of the output distributions, nats
  double sqnr_db = 0;    // output SQNR against the float model
  double agreement = 0;  // percent of samples whose top-1 is the float model's
  double top1 = -1;      // percent, when the data have labels (else -1)
  // HAWQ-V2's estimate of the loss increase, tr(H)/n * ||Q(W) - W||^2 (weights only), from the
  // Hessian traces in SensitivityOptions; NAN without them.
  double hawq = NAN;
};

struct LayerSensitivity {
  std::string name, op;
  std::int64_t params = 0;
  std::map<int, BitSensitivity> bits;
};

struct SensitivityResult {
  bool classifier = false;
  // A decoder swept on windows of tokens: kl and agreement are per next-token distribution
  // (every position of every window), samples counts windows.
  bool language_model = false;
  bool has_labels = false;
  double fp32_top1 = -1;
  std::int64_t samples = 0;
  std::vector<LayerSensitivity> layers;  // graph order
  std::vector<std::string> notes;        // how ranges were found, fallbacks
};

// Combines the shards of one sweep (same model, data and settings) into the whole result.
// Throws Error when they disagree on the layers or a point is missing or given twice.
SensitivityResult merge_sensitivity(const std::vector<SensitivityResult>& shards);

// The sweep over quantizable layers x bit widths. Settings other than the bits (granularity,
// symmetry, calibrator, rounding) come from `base`'s defaults and overrides. Activation ranges
// are calibrated once on `calib` (8-bit calibration) and re-gridded at each bit width; weights
// are quantized once per bit width for all layers. The float model runs over `eval` once; each
// (layer, bits) point runs the model with that one layer quantized. Progress per point;
// Cancelled between points and batches.
SensitivityResult sensitivity_sweep(const Graph& graph, const QuantConfig& base, Dataset& calib,
                                    Dataset& eval, Device& device,
                                    const SensitivityOptions& options, const JobControl& job = {});

// Where error is born and where it grows. For each layer the configuration quantizes: the SQNR
// of its output against the float model's when it alone is quantized and reads float inputs
// (the error it introduces), and when the whole configuration is applied (the error it has
// accumulated, its own included).
struct LayerError {
  std::string name, op;
  double introduced_sqnr_db = 0;
  double accumulated_sqnr_db = 0;
};

// Hessian traces per quantizable layer (HAWQ-V2): tr(H_l) of the loss with respect to the
// layer's weights, by Hutchinson's estimator. Each probe draws a Rademacher vector v over all
// layers' weights at once and forms Hv by a forward difference of gradients,
//   Hv ~ (g(w + eps v) - g(w)) / eps,   eps = step * RMS of all those weights,
// with the piecewise ops held in the pieces they take at w (see Pieces in autograd.h), so that
// H is autograd's Hessian and no kink is crossed. v_l . (Hv)_l estimates tr(H_l): the terms of
// other layers (v_l^T H_lk v_k) have mean zero, and so has the difference's O(eps) error (odd in
// v), so the estimate is unbiased to O(eps^2). The loss: mean cross-entropy when the data have
// labels and the output is [N, C] logits, else the KL divergence from the float model's output
// (whose Hessian at w is the Gauss-Newton matrix). Gradients are computed over all samples for
// every probe (in batches); g(w) once per batch.
struct HessianOptions {
  int max_probes = 200;
  int min_probes = 10;
  // Stop when, after a probe, every layer's running mean changed by less than tol relative to
  // its magnitude (PyHessian's rule, per layer).
  double tol = 1e-3;
  std::int64_t batch = 64;
  double step = 1e-3;
  std::uint64_t seed = 1;
  bool layerwise = true;  // also tr(2 X X^T / n), GPTQ's layer-wise Hessian
  int threads = 0;        // probes in parallel; 0: one per core
};

struct LayerHessian {
  std::string name, op, weight;
  std::int64_t params = 0;
  double trace = 0;      // tr(H_l), the sum over the layer's weights
  double std_error = 0;  // of the trace: the probes' standard deviation / sqrt(probes)
  int probes = 0;
  // The trace of the Hessian of the layer's reconstruction error ||(W' - W) X||^2 / n over all
  // its weights: tr(2 X X^T / n) per output row, summed (n: input vectors, im2col patches for
  // convolutions). -1 when not computed.
  double layerwise_trace = -1;
};

struct HessianResult {
  std::string loss;  // "cross-entropy" or "kl-to-float"
  std::string method;
  std::int64_t samples = 0;
  int probes = 0;
  bool converged = false;            // the tolerance was met before max_probes
  double step = 0;                   // eps, absolute
  std::vector<LayerHessian> layers;  // graph order
  std::vector<std::string> notes;
};

// Progress per probe; Cancelled between batches. Throws Unsupported when an op on the way from
// a weight to the output has no backward rule.
HessianResult hessian_traces(const Graph& graph, Dataset& data, const HessianOptions& options,
                             const JobControl& job = {});

// `weights_budget`: the bytes of weights the layers compiled side by side may hold (each
// compiled layer holds the model's weights twice); more layers rerun the float model once more.
std::vector<LayerError> error_propagation(const Graph& graph, const QuantizedModel& q,
                                          Dataset& data, Device& device, std::int64_t batch = 64,
                                          const JobControl& job = {},
                                          std::int64_t weights_budget = std::int64_t{1} << 30);

}  // namespace qs
