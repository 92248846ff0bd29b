// Visual comparison of the float and the quantized model on one sample: outputs (top-k for
// classifiers; the output image and its error map for image-to-image models), per-layer
// activation histograms float vs quantized, and each quantized layer's weight histogram with
// its quantization grid. The data behind the GUI's Compare page and `quantscope-cli compare`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "quantscope/dataset.h"
#include "quantscope/device.h"
#include "quantscope/graph.h"
#include "quantscope/quant.h"

namespace qs {

// Equal-width bins over [lo, hi]; the last bin includes hi.
struct Histogram {
  double lo = 0, hi = 0;
  std::vector<std::int64_t> counts;
};

struct ClassScore {
  std::int64_t index = 0;
  double probability = 0;  // softmax of the logits
};

struct ActivationComparison {
  std::string layer, tensor;         // the layer and its output tensor
  Histogram float_hist, quant_hist;  // the same bins
  double sqnr_db = 0;
};

struct WeightComparison {
  std::string layer;
  int bits = 0;
  Histogram float_hist, quant_hist;  // float weights and their dequantized values, same bins
  // The levels of the widest grid among the layer's channels or groups (each has its own scale).
  std::vector<double> grid;
  std::string granularity;
};

struct SampleComparison {
  std::int64_t sample = 0;
  std::int64_t label = -1;  // -1 without labels
  bool classifier = false;
  Tensor input, float_output, quant_output;  // this sample only (batch of 1)
  std::vector<ClassScore> float_topk, quant_topk;
  Tensor error_map;  // |quantized - float|, the output's shape (image outputs)
  double sqnr_db = 0, kl = 0, max_abs_error = 0;
  std::vector<ActivationComparison> activations;  // quantized layers, graph order
  std::vector<WeightComparison> weights;
};

struct CompareOptions {
  int bins = 64;
  int topk = 5;
};

// Runs sample `index` of `data` through the float and the quantized model on `device`. Throws
// Error when the index is out of range or `q` does not fit the graph.
SampleComparison compare_sample(const Graph& graph, const QuantizedModel& q, Dataset& data,
                                std::int64_t index, Device& device,
                                const CompareOptions& options = {});

// Histogram of `values` over [lo, hi] (finite values only).
Histogram histogram(const float* values, std::int64_t n, double lo, double hi, int bins);

}  // namespace qs
