// Weight quantization of one layer's weight matrix W [rows, cols] (rows = output channels,
// cols = the reduction dimension), row-major, onto the grids of grid.h.
//
// Cost (n = rows * cols):
//   weight_grids / quantize_rtn: O(rows*cols) time (x100 with mse_range: one error evaluation
//     per shrink step), O(rows*cols) memory for the result.
//   quantize_gptq: O(cols^3 + rows*cols^2) time (a Cholesky factorization and a triangular
//     inverse, 2 cols^3 / 3 flops, then the error feedback over all columns), O(cols^2) memory
//     for H and its factors (a few cols x cols double matrices) and O(rows*cols) for a double
//     working copy of W.
//   reconstruction_error: O(rows*cols^2) time. bias_correction: O(rows*cols) time.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <vector>

#include "quantscope/job.h"
#include "quantscope/quant.h"
#include "quantscope/quant_format.h"
#include "quantscope/rounding.h"

namespace qs::quant {

struct GptqOptions {
  double damp = 0.01;        // dampening: add damp * mean(diag H) to the diagonal
  std::int64_t block = 128;  // lazy batch block size
  bool act_order = false;    // process columns by decreasing diag(H)
};

// GPTQ (Frantar et al. 2022). H: the layer-wise Hessian [cols, cols] = 2 X X^T / n_samples, X
// the layer's inputs (one column per sample); its symmetric part is used. Grids are fixed up
// front from the float weights (weight_grids, i.e. "static groups"), so act_order and groups
// combine. Dead columns (H_ii == 0) get H_ii = 1 and their W column set to 0 (codes = zero
// point), as in the GPTQ reference. When the Cholesky factorization fails, the dampening is
// raised x10 up to 4 times before qs::Error is thrown. `job` may be null; when given,
// job->check() is called once per block (throws qs::Cancelled).
QuantizedMatrix quantize_gptq(const float* w, std::int64_t rows, std::int64_t cols,
                              const Eigen::MatrixXd& H, const WeightSpec& spec,
                              const GptqOptions& options = {}, const JobControl* job = nullptr);

// The upper Cholesky factor U of (H + d I)^-1 (H^-1 = U^T U), d = damp * mean(diag H): the
// factor GPTQ's updates read. Raises the dampening x10 up to 4 times when the factorization
// fails, then throws qs::Error.
Eigen::MatrixXd inverse_cholesky_upper(const Eigen::MatrixXd& H, double damp);

// tr((W - Wq) H (W - Wq)^T): the layer-wise output reconstruction error GPTQ minimises.
double reconstruction_error(const float* w, const float* wq, std::int64_t rows, std::int64_t cols,
                            const Eigen::MatrixXd& H);

// Bias correction (Nagel et al., data-free quantization): given the mean input mean_x [cols],
// returns per-row delta = (W - Wq) mean_x, to be ADDED to the bias so that the expected output
// is unchanged.
std::vector<float> bias_correction(const float* w, const float* wq, std::int64_t rows,
                                   std::int64_t cols, const std::vector<double>& mean_x);

}  // namespace qs::quant
