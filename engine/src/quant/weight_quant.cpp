// Round-to-nearest weight quantization, the grids every weight quantizer shares, and bias
// correction. GPTQ is in gptq.cpp.
#include <algorithm>
#include <cmath>
#include <string>

#include "quant/weight_quant.h"
#include "quantscope/error.h"

namespace qs::quant {

namespace {

constexpr int kMseSteps = 100;      // shrink factors searched by mse_range
constexpr float kMinShrink = 0.2f;  // the last (smallest) shrink factor

std::string shape_string(std::int64_t rows, std::int64_t cols) {
  return "[" + std::to_string(rows) + ", " + std::to_string(cols) + "]";
}

Grid make_grid(float lo, float hi, float max_abs, float shrink, const WeightSpec& spec) {
  return spec.symmetric ? symmetric_grid(max_abs * shrink, spec.bits)
                        : asymmetric_grid(lo * shrink, hi * shrink, spec.bits, false);
}

double squared_error(const float* x, std::int64_t n, const Grid& g) {
  double sum = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double e = static_cast<double>(x[i]) - static_cast<double>(fake_quantize(x[i], g));
    sum += e * e;
  }
  return sum;
}

// The grid for the n contiguous weights x (every grid of a row-major matrix covers a
// contiguous range: the whole tensor, one row or a group of consecutive columns of one row).
Grid fit_grid(const float* x, std::int64_t n, const WeightSpec& spec) {
  float lo = x[0], hi = x[0];
  for (std::int64_t i = 1; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  const float max_abs = std::max(-lo, hi);
  Grid best = make_grid(lo, hi, max_abs, 1.0f, spec);
  if (!spec.mse_range) return best;
  double best_error = squared_error(x, n, best);
  for (int step = 1; step < kMseSteps; ++step) {
    const float shrink =
        1.0f - (1.0f - kMinShrink) * static_cast<float>(step) / static_cast<float>(kMseSteps - 1);
    const Grid g = make_grid(lo, hi, max_abs, shrink, spec);
    const double error = squared_error(x, n, g);
    if (error < best_error) {
      best_error = error;
      best = g;
    }
  }
  return best;
}

}  // namespace

std::int64_t grid_columns(const WeightSpec& spec, std::int64_t cols) {
  return spec.granularity == Granularity::per_group ? std::min(spec.group_size, cols) : cols;
}

const Grid& QuantizedMatrix::grid(std::int64_t row, std::int64_t col) const {
  if (row < 0 || row >= rows || col < 0 || col >= cols || group_size <= 0 ||
      groups_per_row != groups_in_row(cols, group_size) ||
      static_cast<std::int64_t>(grids.size()) != rows * groups_per_row)
    throw Error("QuantizedMatrix::grid: element (" + std::to_string(row) + ", " +
                std::to_string(col) + ") is outside the matrix " + shape_string(rows, cols) +
                " or the grids do not match its shape");
  return grids[static_cast<std::size_t>(row * groups_per_row + col / group_size)];
}

void check_weight_spec(const WeightSpec& spec, std::int64_t rows, std::int64_t cols) {
  if (rows <= 0 || cols <= 0)
    throw Error("weight quantization: the weight matrix " + shape_string(rows, cols) +
                " is empty; rows and cols must be > 0");
  if (spec.bits < 2 || spec.bits > 8)
    throw Error("weight quantization: bits must be 2..8, got " + std::to_string(spec.bits));
  switch (spec.granularity) {
    case Granularity::per_tensor:
    case Granularity::per_channel:
      break;
    case Granularity::per_group:
      if (spec.group_size <= 0)
        throw Error("weight quantization: per_group needs group_size > 0, got " +
                    std::to_string(spec.group_size));
      break;
    default:
      throw Error("weight quantization: unknown granularity " +
                  std::to_string(static_cast<int>(spec.granularity)));
  }
}

std::vector<Grid> weight_grids(const float* w, std::int64_t rows, std::int64_t cols,
                               const WeightSpec& spec) {
  check_weight_spec(spec, rows, cols);
  for (std::int64_t i = 0; i < rows * cols; ++i) {
    if (!std::isfinite(w[i]))
      throw Error("weight quantization: weight (" + std::to_string(i / cols) + ", " +
                  std::to_string(i % cols) + ") of " + shape_string(rows, cols) +
                  " is not finite (" + std::to_string(w[i]) + ")");
  }
  const std::int64_t group = grid_columns(spec, cols);
  const std::int64_t gpr = groups_in_row(cols, group);
  std::vector<Grid> grids(static_cast<std::size_t>(rows * gpr));
  switch (spec.granularity) {
    case Granularity::per_tensor: {
      const Grid g = fit_grid(w, rows * cols, spec);
      for (Grid& e : grids) e = g;
      break;
    }
    case Granularity::per_channel:
      for (std::int64_t r = 0; r < rows; ++r)
        grids[static_cast<std::size_t>(r)] = fit_grid(w + r * cols, cols, spec);
      break;
    case Granularity::per_group:
      for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t g = 0; g < gpr; ++g)
          grids[static_cast<std::size_t>(r * gpr + g)] =
              fit_grid(w + r * cols + g * group, std::min(group, cols - g * group), spec);
      break;
  }
  return grids;
}

QuantizedMatrix quantize_rtn(const float* w, std::int64_t rows, std::int64_t cols,
                             const WeightSpec& spec) {
  QuantizedMatrix q;
  q.grids = weight_grids(w, rows, cols, spec);
  q.rows = rows;
  q.cols = cols;
  q.group_size = grid_columns(spec, cols);
  q.groups_per_row = groups_in_row(cols, q.group_size);
  q.codes.resize(static_cast<std::size_t>(rows * cols));
  q.dequantized.resize(static_cast<std::size_t>(rows * cols));
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t c = 0; c < cols; ++c) {
      const Grid& g = q.grids[static_cast<std::size_t>(r * q.groups_per_row + c / q.group_size)];
      const std::size_t i = static_cast<std::size_t>(r * cols + c);
      const std::int32_t code = quantize(w[i], g);
      q.codes[i] = static_cast<std::int8_t>(code);
      q.dequantized[i] = dequantize(code, g);
    }
  }
  return q;
}

std::vector<float> bias_correction(const float* w, const float* wq, std::int64_t rows,
                                   std::int64_t cols, const std::vector<double>& mean_x) {
  if (rows <= 0 || cols <= 0)
    throw Error("bias_correction: the weight matrix " + shape_string(rows, cols) + " is empty");
  if (static_cast<std::int64_t>(mean_x.size()) != cols)
    throw Error("bias_correction: mean_x has " + std::to_string(mean_x.size()) +
                " entries, the weight matrix " + shape_string(rows, cols) + " needs " +
                std::to_string(cols));
  std::vector<float> delta(static_cast<std::size_t>(rows));
  for (std::int64_t r = 0; r < rows; ++r) {
    double sum = 0;
    for (std::int64_t c = 0; c < cols; ++c) {
      const std::size_t i = static_cast<std::size_t>(r * cols + c);
      sum += (static_cast<double>(w[i]) - static_cast<double>(wq[i])) *
             mean_x[static_cast<std::size_t>(c)];
    }
    delta[static_cast<std::size_t>(r)] = static_cast<float>(sum);
  }
  return delta;
}

}  // namespace qs::quant
