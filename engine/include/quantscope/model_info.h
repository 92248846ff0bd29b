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
  Shape output_shape;       // first output, inferred for batch 1
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

// Summarizes a loaded graph (which load_model has already checked, so nothing unsupported is
// left in it). Pure function; any thread.
ModelInfo describe_model(const Graph& graph);

}  // namespace qs
