// What a model is made of: per-layer parameters and MACs, op histogram, totals.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "quantscope/graph.h"

namespace qs {

struct LayerInfo {
  std::string name;
  std::string op_type;
  std::int64_t params = 0;  // elements of the non-scalar float constant inputs (weights, biases)
  std::int64_t macs = 0;    // multiply-accumulates for one sample (batch dimension 1)
  Shape output_shape;       // first output, inferred for batch 1; empty when unknown
  // The first output's dimensions as the model defines them: a number, the name of the input
  // dimension it follows ("N", "N*197" for N samples of 197 rows), or "?" for one computed from
  // dynamic dimensions in another way. Empty when the shape is not known before the model runs.
  std::vector<std::string> output_dims;
  std::vector<std::string> folded_from;
};

struct ModelInfo {
  std::vector<ValueInfo> inputs;
  std::vector<ValueInfo> outputs;
  std::vector<LayerInfo> layers;
  std::map<std::string, int> op_histogram;
  std::int64_t total_params = 0;
  std::int64_t total_macs = 0;
  std::int64_t weight_bytes = 0;  // size of all initializers
  std::int64_t opset = 0;
};

// "[N,64,?]"; "?" when the dimensions are not known.
std::string dims_text(const std::vector<std::string>& dims);

// Summarizes a loaded graph (which load_model has already checked, so nothing unsupported is
// left in it). Pure function; any thread.
ModelInfo describe_model(const Graph& graph);

}  // namespace qs
