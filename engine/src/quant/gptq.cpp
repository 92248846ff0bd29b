// GPTQ (Frantar et al. 2022, "GPTQ: Accurate Post-Training Quantization for Generative
// Pre-trained Transformers"), following the reference implementation (IST-DASLab/gptq):
//
//   1. Dead columns (H_ii == 0: the input is always zero) get H_ii = 1 and W[:, i] = 0.
//   2. act_order: permute the columns (of W and both sides of H) by decreasing diag(H).
//   3. Dampen: H += damp * mean(diag H) * I. U = the upper Cholesky factor of H^-1
//      (H^-1 = U^T U); row j of U holds, for the columns still to be quantized after j, the
//      OBS update direction scaled so that U_jj^2 = [H_F^-1]_jj (the Cholesky reformulation).
//   4. For each block of `block` columns: quantize column j onto its (fixed) grid, err =
//      (w_j - q_j) / U_jj, update the rest of the block W[:, j+1..] -= err U[j, j+1..];
//      after the block, one lazy batch update W[:, i2..] -= Err U[i1..i2, i2..].
//
// All the Hessian math and the working copy of W are in double; the values quantized are the
// working weights rounded to float, so that codes and dequantized values match grid.h exactly.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>
#include <string>

#include "quant/weight_quant.h"
#include "quantscope/error.h"

namespace qs::quant {

namespace {

using RowMajorFloat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

constexpr int kDampRetries = 4;  // raise the dampening x10 this many times before giving up

std::string shape_string(std::int64_t rows, std::int64_t cols) {
  return "[" + std::to_string(rows) + ", " + std::to_string(cols) + "]";
}

void check_hessian(const char* what, const Eigen::MatrixXd& H, std::int64_t cols) {
  if (H.rows() != cols || H.cols() != cols)
    throw Error(std::string(what) + ": the Hessian is " + shape_string(H.rows(), H.cols()) +
                ", the weight matrix has " + std::to_string(cols) + " columns so it must be " +
                shape_string(cols, cols));
  if (!H.allFinite()) throw Error(std::string(what) + ": the Hessian has non-finite entries");
}

// The inverse of the lower triangle of `l` (what is above the diagonal is not read), a block of
// columns at a time: column k of the inverse is zero above row k, so each block solves only the
// rows from its first column down (n^3/3 flops where a solve against the whole identity takes n^3).
Eigen::MatrixXd lower_inverse(const Eigen::MatrixXd& l) {
  const Eigen::Index n = l.rows();
  constexpr Eigen::Index kBlock = 128;
  Eigen::MatrixXd inv = Eigen::MatrixXd::Zero(n, n);
  for (Eigen::Index k = 0; k < n; k += kBlock) {
    const Eigen::Index b = std::min(kBlock, n - k);
    auto x = inv.block(k, k, n - k, b);
    x.topRows(b).setIdentity();
    l.bottomRightCorner(n - k, n - k).triangularView<Eigen::Lower>().solveInPlace(x);
  }
  return inv;
}

}  // namespace

// With J the reversal permutation and J (h + d I) J = L L^T, (h + d I)^-1 = (J L^-1 J)^T (J L^-1
// J), and J L^-1 J is upper triangular with a positive diagonal: by uniqueness it is U. One
// factorization and one triangular inverse (2n^3/3 flops) instead of an inverse and a second
// factorization (8n^3/3): for a 4608-column layer (ResNet-50's 3x3 convolutions of 512
// channels) this is most of GPTQ's time.
Eigen::MatrixXd inverse_cholesky_upper(const Eigen::MatrixXd& h, double damp_fraction) {
  const double mean_diag = h.diagonal().mean();
  double damp = damp_fraction * mean_diag;
  for (int attempt = 0; attempt <= kDampRetries; ++attempt) {
    Eigen::MatrixXd reversed = h.reverse();
    reversed.diagonal().array() += damp;
    const Eigen::LLT<Eigen::MatrixXd> llt(reversed);
    if (llt.info() == Eigen::Success) {
      reversed.resize(0, 0);
      Eigen::MatrixXd u = lower_inverse(llt.matrixLLT()).reverse();
      if (u.allFinite() && (u.diagonal().array() > 0).all()) return u;
    }
    if (attempt == kDampRetries) break;
    damp = damp > 0 ? damp * 10 : 1e-3 * mean_diag;
  }
  std::ostringstream message;
  message << "quantize_gptq: the Cholesky factorization of the dampened Hessian failed even "
             "with dampening "
          << damp / mean_diag
          << " * mean(diag H): H is not positive semi-definite or is badly conditioned (expected "
             "H = 2 X X^T / n_samples from the layer's inputs)";
  throw Error(message.str());
}

QuantizedMatrix quantize_gptq(const float* w, std::int64_t rows, std::int64_t cols,
                              const Eigen::MatrixXd& H, const WeightSpec& spec,
                              const GptqOptions& options, const JobControl* job) {
  check_weight_spec(spec, rows, cols);
  check_hessian("quantize_gptq", H, cols);
  if (!std::isfinite(options.damp) || options.damp < 0)
    throw Error("quantize_gptq: damp must be finite and >= 0, got " + std::to_string(options.damp));
  if (options.block <= 0)
    throw Error("quantize_gptq: block must be > 0, got " + std::to_string(options.block));
  for (std::int64_t i = 0; i < cols; ++i) {
    if (H(i, i) < 0)
      throw Error("quantize_gptq: the Hessian has a negative diagonal entry H(" +
                  std::to_string(i) + ", " + std::to_string(i) + ") = " + std::to_string(H(i, i)) +
                  "; expected H = 2 X X^T / n_samples");
  }

  QuantizedMatrix out;
  out.grids = weight_grids(w, rows, cols, spec);  // from the float weights, up front
  out.rows = rows;
  out.cols = cols;
  out.groups_per_row = static_cast<std::int64_t>(out.grids.size()) / rows;
  out.group_size = grid_columns(spec, cols);
  out.codes.resize(static_cast<std::size_t>(rows * cols));
  out.dequantized.resize(static_cast<std::size_t>(rows * cols));
  const std::int64_t group_size = out.group_size;

  // Dead columns.
  Eigen::MatrixXd h = 0.5 * (H + H.transpose());
  Eigen::MatrixXd weights = Eigen::Map<const RowMajorFloat>(w, rows, cols).cast<double>();
  for (std::int64_t i = 0; i < cols; ++i) {
    if (h(i, i) == 0) {
      h(i, i) = 1;
      weights.col(i).setZero();
    }
  }

  // Column order: perm[j] = the original column processed j-th.
  std::vector<std::int64_t> perm(static_cast<std::size_t>(cols));
  std::iota(perm.begin(), perm.end(), std::int64_t{0});
  if (options.act_order) {
    std::stable_sort(perm.begin(), perm.end(),
                     [&](std::int64_t a, std::int64_t b) { return h(a, a) > h(b, b); });
  }
  Eigen::MatrixXd wp(rows, cols);  // W with permuted columns, the working copy
  Eigen::MatrixXd hp(cols, cols);  // P^T H P
  for (std::int64_t j = 0; j < cols; ++j) {
    const std::int64_t pj = perm[static_cast<std::size_t>(j)];
    wp.col(j) = weights.col(pj);
    for (std::int64_t i = 0; i < cols; ++i) hp(i, j) = h(perm[static_cast<std::size_t>(i)], pj);
  }
  weights.resize(0, 0);
  h.resize(0, 0);

  const Eigen::MatrixXd u = inverse_cholesky_upper(hp, options.damp);
  hp.resize(0, 0);

  const std::int64_t block = std::min(options.block, cols);
  Eigen::MatrixXd err(rows, block);  // scaled errors of the current block's columns
  for (std::int64_t i1 = 0; i1 < cols; i1 += block) {
    if (job) job->check();
    const std::int64_t i2 = std::min(i1 + block, cols);
    const std::int64_t count = i2 - i1;
    for (std::int64_t j = i1; j < i2; ++j) {
      const double d = u(j, j);
      const std::int64_t c = perm[static_cast<std::size_t>(j)];
      const std::int64_t group = c / group_size;
      for (std::int64_t r = 0; r < rows; ++r) {
        const Grid& g = out.grids[static_cast<std::size_t>(r * out.groups_per_row + group)];
        const std::int32_t code = quantize(static_cast<float>(wp(r, j)), g);
        const float q = dequantize(code, g);
        const std::size_t i = static_cast<std::size_t>(r * cols + c);
        out.codes[i] = static_cast<std::int8_t>(code);
        out.dequantized[i] = q;
        err(r, j - i1) = (wp(r, j) - static_cast<double>(q)) / d;
      }
      // Error feedback to the rest of the block.
      const std::int64_t rest = i2 - j - 1;
      if (rest > 0)
        wp.middleCols(j + 1, rest).noalias() -= err.col(j - i1) * u.row(j).segment(j + 1, rest);
    }
    // Lazy batch update of the columns after the block.
    if (i2 < cols)
      wp.rightCols(cols - i2).noalias() -= err.leftCols(count) * u.block(i1, i2, count, cols - i2);
  }
  return out;
}

double reconstruction_error(const float* w, const float* wq, std::int64_t rows, std::int64_t cols,
                            const Eigen::MatrixXd& H) {
  if (rows <= 0 || cols <= 0)
    throw Error("reconstruction_error: the weight matrix " + shape_string(rows, cols) +
                " is empty");
  check_hessian("reconstruction_error", H, cols);
  const Eigen::MatrixXd e = Eigen::Map<const RowMajorFloat>(w, rows, cols).cast<double>() -
                            Eigen::Map<const RowMajorFloat>(wq, rows, cols).cast<double>();
  return (e * H).cwiseProduct(e).sum();
}

}  // namespace qs::quant
