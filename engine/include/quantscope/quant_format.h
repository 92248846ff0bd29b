// The quantized-layer format: how a quantized graph (apply_quantization() in quant.h) carries
// its quantization, and the one uniform grid every quantizer goes through. Devices with integer
// kernels, the reference kernels, the exporter and the simulation read and write a layer's
// parameters only through these functions; the attribute names below appear nowhere else.
//
// On a quantized Conv, Gemm or MatMul:
//   input grid    scale, zero point, qmin, qmax of input 0 (W8A8 layers)
//   weights       bits (2..8), codes (i8, the weight's own shape), scales (f32) and zero points
//                 (i32), one per output channel and group (rows * groups_per_row)
//   bias codes    i32, one per output channel, when the bias lies on the int32 grid of
//                 input scale x weight scale (the integer kernels add it to their accumulator)
// A FakeQuant node (domain ai.quantscope) carries one activation grid: scale, zero_point, qmin,
// qmax, bits.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include "quantscope/graph.h"
#include "quantscope/tensor.h"

namespace qs::quant {

// A uniform quantization grid: the integers qmin..qmax, a scale and a zero point; `bits` is the
// width it was made for (reports, packing).
struct Grid {
  float scale = 1.0f;
  std::int32_t zero_point = 0;
  std::int32_t qmin = -128;
  std::int32_t qmax = 127;
  int bits = 8;
};

// Whether the grid can quantize: a finite positive scale, qmin < qmax, the zero point inside.
inline bool valid(const Grid& g) {
  return g.scale > 0.0f && std::isfinite(g.scale) && g.qmin < g.qmax && g.zero_point >= g.qmin &&
         g.zero_point <= g.qmax;
}

// Signed symmetric grids use the restricted range -(2^(b-1)-1)..2^(b-1)-1 with zero point 0
// (what oneDNN's s8 weights and TensorRT expect); asymmetric grids use 0..2^b-1 (activations:
// u8) or, for weights, -2^(b-1)..2^(b-1)-1 with a zero point.
inline Grid symmetric_grid(float max_abs, int bits) {
  Grid g;
  g.bits = bits;
  g.qmax = (1 << (bits - 1)) - 1;
  g.qmin = -g.qmax;
  g.zero_point = 0;
  g.scale = max_abs > 0 ? max_abs / static_cast<float>(g.qmax) : 1.0f;
  return g;
}

// The range is first widened to contain 0, so that 0 is exactly representable (padding and
// Relu outputs stay exact). `unsigned_codes`: codes 0..2^b-1, else -2^(b-1)..2^(b-1)-1.
inline Grid asymmetric_grid(float lo, float hi, int bits, bool unsigned_codes) {
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  Grid g;
  g.bits = bits;
  g.qmin = unsigned_codes ? 0 : -(1 << (bits - 1));
  g.qmax = unsigned_codes ? (1 << bits) - 1 : (1 << (bits - 1)) - 1;
  const float span = hi - lo;
  g.scale = span > 0 ? span / static_cast<float>(g.qmax - g.qmin) : 1.0f;
  const float zp = static_cast<float>(g.qmin) - lo / g.scale;
  g.zero_point = static_cast<std::int32_t>(
      std::clamp(std::nearbyint(zp), static_cast<float>(g.qmin), static_cast<float>(g.qmax)));
  return g;
}

// x -> code. Multiplies by the reciprocal of the scale and rounds half to even, as oneDNN's
// quantizing reorder does (output scale 1/scale), so simulation matches the integer kernels.
inline std::int32_t quantize(float x, const Grid& g) {
  float q = std::nearbyint(x * (1.0f / g.scale)) + static_cast<float>(g.zero_point);
  if (std::isnan(q)) q = static_cast<float>(g.zero_point);  // NaN has no code; never UB
  return static_cast<std::int32_t>(
      std::clamp(q, static_cast<float>(g.qmin), static_cast<float>(g.qmax)));
}

inline float dequantize(std::int32_t code, const Grid& g) {
  return static_cast<float>(code - g.zero_point) * g.scale;
}

inline float fake_quantize(float x, const Grid& g) {
  return dequantize(quantize(x, g), g);
}

// A FakeQuant node (op "FakeQuant", domain ai.quantscope, one input and one output).
bool is_fake_quant(const Node& node);
// Its grid (missing attributes read as the signed 8-bit grid -128..127 of scale 0, which is not
// valid()); check valid() before quantizing with it.
Grid read_fake_quant(const Node& node);
// A FakeQuant node named `name` on `input`, writing `output`.
Node make_fake_quant(const std::string& name, const std::string& input, const std::string& output,
                     const Grid& grid);

// The grid of a quantized layer's input 0, when it has one (W8A8; weight-only layers have none).
std::optional<Grid> read_input_grid(const Node& node);
void write_input_grid(Node& node, const Grid& grid);

// A row of `cols` weights cut into groups of `group_size` columns, the last one holding the
// remainder, has ceil(cols / group_size) grids.
constexpr std::int64_t groups_in_row(std::int64_t cols, std::int64_t group_size) {
  return group_size > 0 ? (cols + group_size - 1) / group_size : 1;
}

// A quantized layer's weights as its node holds them: views of the node's attributes, valid
// while the node lives.
struct LayerWeights {
  int bits = 8;
  const Tensor* codes = nullptr;        // i8, the weight's shape
  const Tensor* scales = nullptr;       // f32, rows * groups_per_row
  const Tensor* zero_points = nullptr;  // i32, as scales
  std::int64_t groups_per_row = 1;
  std::int64_t rows = 0;               // output channels: scales / groups_per_row
  std::int64_t cols = 0;               // inputs: codes / rows
  std::int64_t group_size = 0;         // columns per grid; groups_in_row(cols, group_size) grids
  const Tensor* bias_codes = nullptr;  // i32, one per row, or null
};

// Whether the node carries quantized weights (well-formed or not).
bool has_quantized_weights(const Node& node);
// The node's quantized weights; nullopt with `why` ("no weight codes", "weight bits 9", ...)
// when it has none or they are not consistent (dtypes, counts, groups that do not divide).
std::optional<LayerWeights> read_weights(const Node& node, std::string& why);
// Stores the weights on the node (the tensors' dtypes as LayerWeights says).
// group_size: columns per grid, groups_in_row(cols, group_size) == groups_per_row.
void write_weights(Node& node, int bits, Tensor codes, Tensor scales, Tensor zero_points,
                   std::int64_t groups_per_row, std::int64_t group_size);
void write_bias_codes(Node& node, Tensor codes);
// Removes every quantization attribute from a node (a graph written for other runtimes).
void erase_quantization(Node& node);

}  // namespace qs::quant
