// Analysis: which layers can lose bits. Per-layer sensitivity: quantize one layer alone (its
// weights, its input activations, or both) at each bit width, the rest of the model in float,
// and measure how far the output moves from the float model's.
#pragma once

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
};

struct BitSensitivity {
  double kl = 0;         // mean KL(float || quantized) of the output distributions, nats
  double sqnr_db = 0;    // output SQNR against the float model
  double agreement = 0;  // percent of samples whose top-1 is the float model's
  double top1 = -1;      // percent, when the data have labels (else -1)
};

struct LayerSensitivity {
  std::string name, op;
  std::int64_t params = 0;
  std::map<int, BitSensitivity> bits;
};

struct SensitivityResult {
  bool classifier = false;
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

std::vector<LayerError> error_propagation(const Graph& graph, const QuantizedModel& q,
                                          Dataset& data, Device& device, std::int64_t batch = 64,
                                          const JobControl& job = {});

}  // namespace qs
