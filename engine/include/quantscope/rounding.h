// Weight rounding: how a layer's float weight matrix becomes codes on its grids. A rounding
// method is a registry entry (registry.h) chosen by name, "rtn" or "gptq:damp=0.05" (a name and
// a parameter); a new one is one file and one line in register_builtins(), or a plugin. The
// grids themselves (min/max or MSE ranges, per tensor, channel or group) are fixed from the float
// weights before rounding (weight_grids), so every method writes the same format.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "quantscope/job.h"
#include "quantscope/quant.h"
#include "quantscope/quant_format.h"

namespace qs::quant {

using Granularity = QuantGranularity;  // quant.h's, one enum for config and quantizer

struct WeightSpec {
  int bits = 8;  // 2..8
  // symmetric_grid(max|w|, bits), else asymmetric_grid(lo, hi, bits, /*unsigned_codes=*/false).
  bool symmetric = true;
  Granularity granularity = Granularity::per_channel;
  // per_group: runs of group_size consecutive columns of one row share a grid; the last run of
  // a row holds the remainder when group_size does not divide cols (as ONNX's blocked
  // DequantizeLinear and ONNX Runtime's MatMulNBits do). Ignored otherwise.
  std::int64_t group_size = 0;
  // Choose each grid's clipping range minimizing the squared error over its weights (shrink
  // factors of the min/max range, 100 steps from 1.0 down to 0.2), else the min/max range.
  bool mse_range = false;
};

struct QuantizedMatrix {
  // group_size: columns per grid (per_group: min(spec's, cols), else cols); groups_per_row =
  // ceil(cols / group_size).
  std::int64_t rows = 0, cols = 0, groups_per_row = 1, group_size = 0;
  std::vector<std::int8_t> codes;  // rows*cols, row-major, within their grid's qmin..qmax
  std::vector<Grid> grids;         // rows*groups_per_row (per_tensor: every entry equal)
  std::vector<float> dequantized;  // rows*cols: dequantize(code, grid), exactly grid.h's
  // The grid of element (row, col). Throws qs::Error when out of range.
  const Grid& grid(std::int64_t row, std::int64_t col) const;
};

// Columns per grid under spec for rows of `cols`: per_group: min(group_size, cols), else cols.
std::int64_t grid_columns(const WeightSpec& spec, std::int64_t cols);

// Validates spec against the shape (non-empty shape, bits 2..8, per_group: group_size > 0);
// throws qs::Error with a message naming the problem.
void check_weight_spec(const WeightSpec& spec, std::int64_t rows, std::int64_t cols);

// The grids for W under spec (min/max or MSE ranges), computed from the float weights:
// rows*groups_per_row entries, indexed row * groups_per_row + col / group_size (the
// QuantizedMatrix's group_size and groups_per_row for this spec). Validates the
// spec and throws qs::Error on a non-finite weight.
std::vector<Grid> weight_grids(const float* w, std::int64_t rows, std::int64_t cols,
                               const WeightSpec& spec);

// Round-to-nearest onto weight_grids(w, ...).
QuantizedMatrix quantize_rtn(const float* w, std::int64_t rows, std::int64_t cols,
                             const WeightSpec& spec);

}  // namespace qs::quant

namespace qs {

// One weight matrix to round: W [rows, cols] row-major (rows: output channels; cols: the
// reduction), one convolution group at a time.
struct RoundingInput {
  const float* weights = nullptr;
  std::int64_t rows = 0, cols = 0;
  quant::WeightSpec spec;
  // 2 X X^T / n of the layer's inputs over the calibration set [cols, cols]; given only to a
  // method whose needs_hessian() is true.
  const Eigen::MatrixXd* hessian = nullptr;
  const JobControl* job = nullptr;  // check() it in long loops (throws Cancelled)
};

class Rounding {
 public:
  virtual ~Rounding() = default;
  // The canonical text that names this method and its parameter ("gptq:damp=0.05").
  virtual std::string text() const = 0;
  // Whether round() needs the layer's input Hessian; where calibration cannot give one (an
  // input the statistics do not cover), the layer is rounded to nearest with a note.
  virtual bool needs_hessian() const { return false; }
  // Codes on weight_grids(input.weights, ...) and their dequantized values.
  virtual quant::QuantizedMatrix round(const RoundingInput& input) const = 0;
};

// Makes a rounding method from the text after the name's colon ("" when there is none); throws
// qs::Error naming what is wrong with the parameter.
using RoundingFactory = std::function<std::unique_ptr<Rounding>(const std::string& parameter)>;

}  // namespace qs
