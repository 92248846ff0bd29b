// Post-training quantization: the configuration (what the user chooses), the quantized model
// (what calibration and rounding computed from it), and the simulation graph (fake quantization
// that computes exactly what the integer kernels compute).
//
// Quantizable nodes are Conv, ConvTranspose, Gemm and MatMul. Per node: weight bits 2..8 (or
// float), activation bits 8 or 16 (or float: weight-only), granularity, symmetry, calibrator,
// weight range and rounding. A node's activation quantization applies to the activations it
// reads (input X; both inputs of a MatMul of two activations), with one set of parameters per
// tensor. Weights are kept as integer codes with their scales and zero points; the bias is put
// on the int32 grid of scale = input scale x weight scale, as the integer kernels need.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "quantscope/dataset.h"
#include "quantscope/device.h"
#include "quantscope/graph.h"
#include "quantscope/job.h"

namespace qs {

class Registry;  // registry.h: where calibrators are found by name

enum class QuantGranularity { per_tensor, per_channel, per_group };
const char* quant_granularity_name(QuantGranularity g);  // "tensor", "channel", "group"

struct LayerQuantSettings {
  int weight_bits = 8;  // 2..8; 0: weights stay float
  int act_bits = 8;     // 8 or 16; 0: activations stay float (weight-only quantization)
  QuantGranularity granularity = QuantGranularity::per_channel;
  std::int64_t group_size = 0;  // per_group: input channels (columns) sharing a scale
  bool weight_symmetric = true;
  bool act_symmetric = false;      // asymmetric activations use unsigned codes (u8), a zero point
  std::string calibrator = "mse";  // minmax | percentile[:P] | mse | entropy
  std::string weight_range = "minmax";  // minmax | mse
  std::string rounding = "rtn";         // a registry rounding: rtn | gptq[:damp=D,order=...]
  bool bias_correction = false;

  bool quantized() const { return weight_bits > 0 || act_bits > 0; }
};

// A per-node override: only the fields that are set replace the defaults.
struct LayerOverride {
  std::optional<int> weight_bits, act_bits;
  std::optional<QuantGranularity> granularity;
  std::optional<std::int64_t> group_size;
  std::optional<bool> weight_symmetric, act_symmetric;
  std::optional<std::string> calibrator, weight_range, rounding;
  std::optional<bool> bias_correction;
};

struct QuantConfig {
  static constexpr int kSchemaVersion = 1;
  LayerQuantSettings defaults;
  std::map<std::string, LayerOverride> overrides;  // by ONNX node name

  LayerQuantSettings settings_for(const std::string& node) const;
};

// Parses an override in the CLI's form: "BITS" (weight bits), "float" (node left in float),
// "wBaA" ("w4a8", "w4afloat"). Throws Error naming the text.
LayerOverride parse_override(const std::string& text);
// Parses "tensor", "channel", "group:G" into the settings. Throws Error naming the text.
void parse_granularity(const std::string& text, LayerQuantSettings& settings);

// The quantizable nodes of a graph, in graph order.
std::vector<std::string> quantizable_nodes(const Graph& graph);
// Every problem of the configuration against the graph, in words ("override for unknown node
// 'conv9'", "node 'fc1': weight bits 9 out of range: 2 to 8, or float"): empty when valid.
std::vector<std::string> config_problems(const QuantConfig& config, const Graph& graph,
                                         const Registry* registry = nullptr);

struct ActQuantParams {
  int bits = 8;
  bool is_signed = false;
  float scale = 1;
  std::int32_t zero_point = 0;
  float lo = 0, hi = 0;  // the calibrated range
  std::string calibrator;
};

struct WeightQuantParams {
  std::string weight;  // the initializer's name
  int bits = 8;
  bool symmetric = true;
  QuantGranularity granularity = QuantGranularity::per_channel;
  std::int64_t rows = 0, cols = 0;        // as a matrix [out channels, inputs]
  std::int64_t groups_per_row = 1;        // ceil(cols / group_size)
  std::int64_t group_size = 0;            // columns per grid; the last of a row may hold fewer
  std::vector<std::int8_t> codes;         // rows * cols, row-major matrix order
  std::vector<float> scales;              // rows * groups_per_row
  std::vector<std::int32_t> zero_points;  // rows * groups_per_row
  std::string rounding;     // what was actually used ("rtn", "gptq", "gptq:damp=0.05")
  std::vector<float> bias;  // corrected float bias (bias correction), else empty
};

struct QuantizedModel {
  QuantConfig config;
  std::string model_name;
  std::string calibration_data;  // the spec and how many samples
  std::int64_t calibration_samples = 0;
  std::map<std::string, ActQuantParams> activations;  // by tensor name
  std::map<std::string, WeightQuantParams> weights;   // by node name
  std::vector<std::string> notes;                     // e.g. a fallback from GPTQ to RTN, and why
};

struct CalibrationOptions {
  std::int64_t batch = 64;
  // Where calibrators are found by name (a plugin's too); nullptr: the built-ins.
  const Registry* registry = nullptr;
};

// Calibrates activations (streamed over `data` on `device`, in float) and quantizes weights
// (RTN, or GPTQ with H = 2XX^T from the layers' calibration inputs). Throws Error for an invalid
// configuration (all problems listed), Cancelled when the job is cancelled. Progress per pass
// and batch, then per layer.
QuantizedModel quantize_model(const Graph& graph, const QuantConfig& config, Dataset& data,
                              Device& device, const CalibrationOptions& options = {},
                              const JobControl& job = {});

// The simulation graph: quantized weights replaced by their dequantized values, biases on the
// int32 grid, and a FakeQuant node (domain "ai.quantscope") on each quantized activation. The
// quantization parameters stay on the quantized nodes (quant_format.h) for devices with
// integer kernels. Throws Error when `q` does not fit the graph (a missing node or weight, a
// shape that differs).
Graph apply_quantization(const Graph& graph, const QuantizedModel& q);

// A layer's dequantized weights, (code - zero point) x scale in fp32, in matrix order [rows,
// cols]: the values the simulation graph holds.
std::vector<float> dequantize_weights(const WeightQuantParams& w);

// Model size in bytes under the configuration: quantized weights at their bit width plus their
// scales and zero points (4 bytes each), everything else as stored.
std::int64_t model_size_bytes(const Graph& graph, const QuantizedModel* q = nullptr);

// JSON with a schema version; settings only, or settings and computed parameters.
std::string quant_config_to_json(const QuantConfig& config);
std::string quantized_model_to_json(const QuantizedModel& q);
// Reads either form (a configuration without parameters gives a QuantizedModel with empty
// activations and weights). Throws Error naming the field that is wrong.
QuantizedModel quantized_model_from_json(const std::string& text);
void save_quantized_model(const std::string& path, const QuantizedModel& q);  // atomic
QuantizedModel load_quantized_model(const std::string& path);

}  // namespace qs
