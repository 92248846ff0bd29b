// Weight quantization: round-to-nearest grids, GPTQ against RTN on the layer-wise
// reconstruction error, and bias correction. Every expected number is computed here.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>

#include "quant/weight_quant.h"
#include "quantscope/error.h"
#include "quantscope/job.h"

using namespace qs;
using namespace qs::quant;

namespace {

std::vector<float> normal_matrix(std::int64_t rows, std::int64_t cols, unsigned seed,
                                 float stddev = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<float> w(static_cast<std::size_t>(rows * cols));
  for (float& x : w) x = dist(rng);
  return w;
}

// Heavy-tailed weights: Student's t with 2 degrees of freedom (infinite variance).
std::vector<float> heavy_tailed_matrix(std::int64_t rows, std::int64_t cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::student_t_distribution<float> dist(2.0f);
  std::vector<float> w(static_cast<std::size_t>(rows * cols));
  for (float& x : w) x = dist(rng);
  return w;
}

// Inputs X [cols, n] with strongly correlated features: a few shared factors plus a little
// independent noise (and a per-feature offset, so that the mean input is not zero).
Eigen::MatrixXd correlated_inputs(std::int64_t cols, std::int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> dist(0.0, 1.0);
  constexpr int kFactors = 6;
  Eigen::MatrixXd mix(cols, kFactors), factors(kFactors, n), noise(cols, n);
  for (Eigen::Index i = 0; i < mix.size(); ++i) mix.data()[i] = dist(rng);
  for (Eigen::Index i = 0; i < factors.size(); ++i) factors.data()[i] = dist(rng);
  for (Eigen::Index i = 0; i < noise.size(); ++i) noise.data()[i] = 0.2 * dist(rng);
  Eigen::MatrixXd x = mix * factors + noise;
  for (Eigen::Index i = 0; i < cols; ++i) x.row(i).array() += 0.5 * dist(rng);
  return x;
}

Eigen::MatrixXd hessian(const Eigen::MatrixXd& x) {
  return 2.0 * x * x.transpose() / static_cast<double>(x.cols());
}

double squared_error(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double e = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    sum += e * e;
  }
  return sum;
}

WeightSpec spec_of(int bits, bool symmetric, Granularity granularity, std::int64_t group_size = 0,
                   bool mse_range = false) {
  WeightSpec s;
  s.bits = bits;
  s.symmetric = symmetric;
  s.granularity = granularity;
  s.group_size = group_size;
  s.mse_range = mse_range;
  return s;
}

std::string describe(const WeightSpec& s) {
  const char* g = s.granularity == Granularity::per_tensor    ? "per_tensor"
                  : s.granularity == Granularity::per_channel ? "per_channel"
                                                              : "per_group";
  return std::to_string(s.bits) + " bits " + (s.symmetric ? "symmetric " : "asymmetric ") + g +
         (s.granularity == Granularity::per_group ? " " + std::to_string(s.group_size) : "") +
         (s.mse_range ? " mse" : "");
}

// Checks the invariants of a quantized matrix: codes in range, dequantized == grid.h's.
void expect_consistent(const QuantizedMatrix& q) {
  ASSERT_EQ(q.codes.size(), static_cast<std::size_t>(q.rows * q.cols));
  ASSERT_EQ(q.dequantized.size(), q.codes.size());
  ASSERT_EQ(q.grids.size(), static_cast<std::size_t>(q.rows * q.groups_per_row));
  for (std::int64_t r = 0; r < q.rows; ++r) {
    for (std::int64_t c = 0; c < q.cols; ++c) {
      const std::size_t i = static_cast<std::size_t>(r * q.cols + c);
      const Grid& g = q.grid(r, c);
      ASSERT_GE(q.codes[i], g.qmin);
      ASSERT_LE(q.codes[i], g.qmax);
      ASSERT_EQ(q.dequantized[i], dequantize(q.codes[i], g)) << r << ", " << c;
    }
  }
}

const Granularity kGranularities[] = {Granularity::per_tensor, Granularity::per_channel,
                                      Granularity::per_group};

}  // namespace

TEST(QuantWeights, RtnCodesInRangeAndDequantizedMatchesGrid) {
  const std::int64_t rows = 12, cols = 48;
  const std::vector<float> w = normal_matrix(rows, cols, 1);
  for (int bits : {2, 3, 4, 8}) {
    for (bool symmetric : {true, false}) {
      for (Granularity granularity : kGranularities) {
        for (bool mse : {false, true}) {
          const WeightSpec spec = spec_of(bits, symmetric, granularity, 16, mse);
          SCOPED_TRACE(describe(spec));
          const QuantizedMatrix q = quantize_rtn(w.data(), rows, cols, spec);
          EXPECT_EQ(q.rows, rows);
          EXPECT_EQ(q.cols, cols);
          expect_consistent(q);
          // Round to nearest: each code is grid.h's quantize of the float weight.
          for (std::int64_t r = 0; r < rows; ++r)
            for (std::int64_t c = 0; c < cols; ++c)
              ASSERT_EQ(q.codes[static_cast<std::size_t>(r * cols + c)],
                        quantize(w[static_cast<std::size_t>(r * cols + c)], q.grid(r, c)));
          // The grids are weight_grids'.
          const std::vector<Grid> grids = weight_grids(w.data(), rows, cols, spec);
          ASSERT_EQ(grids.size(), q.grids.size());
          for (std::size_t i = 0; i < grids.size(); ++i) {
            EXPECT_EQ(grids[i].scale, q.grids[i].scale);
            EXPECT_EQ(grids[i].zero_point, q.grids[i].zero_point);
          }
        }
      }
    }
  }
}

TEST(QuantWeights, GridCountsPerGranularity) {
  const std::int64_t rows = 5, cols = 24;
  const std::vector<float> w = normal_matrix(rows, cols, 2);

  const QuantizedMatrix t =
      quantize_rtn(w.data(), rows, cols, spec_of(4, true, Granularity::per_tensor));
  EXPECT_EQ(t.groups_per_row, 1);
  ASSERT_EQ(t.grids.size(), static_cast<std::size_t>(rows));
  for (const Grid& g : t.grids) {
    EXPECT_EQ(g.scale, t.grids[0].scale);
    EXPECT_EQ(g.zero_point, t.grids[0].zero_point);
  }

  const QuantizedMatrix ch =
      quantize_rtn(w.data(), rows, cols, spec_of(4, true, Granularity::per_channel));
  EXPECT_EQ(ch.groups_per_row, 1);
  EXPECT_EQ(ch.grids.size(), static_cast<std::size_t>(rows));
  for (std::int64_t r = 0; r < rows; ++r) EXPECT_EQ(&ch.grid(r, cols - 1), &ch.grids[r]);

  // Groups that divide the row, a short last group (24 = 5 + 5 + 5 + 5 + 4; 10 + 10 + 4), and
  // a group wider than the row (one grid per row).
  for (std::int64_t group_size : {1, 3, 8, 24, 5, 10, 100}) {
    const QuantizedMatrix g =
        quantize_rtn(w.data(), rows, cols, spec_of(4, false, Granularity::per_group, group_size));
    const std::int64_t size = std::min(group_size, cols);
    const std::int64_t per_row = (cols + size - 1) / size;
    EXPECT_EQ(g.group_size, size);
    EXPECT_EQ(g.groups_per_row, per_row);
    EXPECT_EQ(g.grids.size(), static_cast<std::size_t>(rows * per_row));
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < cols; ++c)
        EXPECT_EQ(&g.grid(r, c), &g.grids[static_cast<std::size_t>(r * per_row + c / size)]);
  }
  EXPECT_THROW(ch.grid(rows, 0), Error);
  EXPECT_THROW(ch.grid(0, cols), Error);
}

TEST(QuantWeights, SymmetricGridsHaveZeroPointZero) {
  const std::int64_t rows = 6, cols = 32;
  std::vector<float> w = normal_matrix(rows, cols, 3);
  for (float& x : w) x += 0.7f;  // skewed: symmetric grids must still be centred on 0
  for (int bits : {2, 4, 8}) {
    for (Granularity granularity : kGranularities) {
      for (bool mse : {false, true}) {
        const WeightSpec spec = spec_of(bits, true, granularity, 8, mse);
        SCOPED_TRACE(describe(spec));
        for (const Grid& g : weight_grids(w.data(), rows, cols, spec)) {
          EXPECT_EQ(g.zero_point, 0);
          EXPECT_EQ(g.qmin, -g.qmax);
          EXPECT_EQ(g.qmax, (1 << (bits - 1)) - 1);
        }
      }
    }
  }
}

TEST(QuantWeights, AsymmetricGridsCoverMinAndMax) {
  const std::int64_t rows = 6, cols = 32;
  std::vector<float> w = normal_matrix(rows, cols, 4);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] += (i % 3 == 0) ? 1.5f : 0.2f;
  for (int bits : {2, 3, 4, 8}) {
    for (Granularity granularity : {Granularity::per_channel, Granularity::per_group}) {
      // Groups of 7 over 32 columns: four of 7 and a last one of 4 (its own min and max).
      const WeightSpec spec = spec_of(bits, false, granularity, 7);
      SCOPED_TRACE(describe(spec));
      const QuantizedMatrix q = quantize_rtn(w.data(), rows, cols, spec);
      const std::int64_t group_size = q.group_size;
      for (std::int64_t r = 0; r < rows; ++r) {
        for (std::int64_t g = 0; g < q.groups_per_row; ++g) {
          const Grid& grid = q.grids[static_cast<std::size_t>(r * q.groups_per_row + g)];
          EXPECT_EQ(grid.qmin, -(1 << (bits - 1)));
          EXPECT_EQ(grid.qmax, (1 << (bits - 1)) - 1);
          float lo = 0, hi = 0;  // the grid's range contains 0
          for (std::int64_t c = g * group_size; c < std::min(cols, (g + 1) * group_size); ++c) {
            lo = std::min(lo, w[static_cast<std::size_t>(r * cols + c)]);
            hi = std::max(hi, w[static_cast<std::size_t>(r * cols + c)]);
          }
          // The min and max are not clipped: at most half a step away from the grid (the
          // rounded zero point shifts the range by up to half a step), and 0 is exact.
          const float half_step = 0.5f * grid.scale * (1.0f + 1e-5f);
          EXPECT_LE(dequantize(grid.qmin, grid), lo + half_step);
          EXPECT_GE(dequantize(grid.qmax, grid), hi - half_step);
          EXPECT_LE(std::fabs(fake_quantize(lo, grid) - lo), half_step);
          EXPECT_LE(std::fabs(fake_quantize(hi, grid) - hi), half_step);
          EXPECT_EQ(fake_quantize(0.0f, grid), 0.0f);
        }
      }
    }
  }
}

TEST(QuantWeights, MseRangeBeatsMinMaxOnHeavyTailedWeights) {
  const std::int64_t rows = 16, cols = 128;
  const std::vector<float> w = heavy_tailed_matrix(rows, cols, 5);
  for (bool symmetric : {true, false}) {
    for (Granularity granularity : kGranularities) {
      WeightSpec spec = spec_of(3, symmetric, granularity, 32);
      SCOPED_TRACE(describe(spec));
      const double minmax = squared_error(w, quantize_rtn(w.data(), rows, cols, spec).dequantized);
      spec.mse_range = true;
      const QuantizedMatrix q = quantize_rtn(w.data(), rows, cols, spec);
      const double mse = squared_error(w, q.dequantized);
      std::printf("  %-28s ||W-Wq||^2 min/max %.2f  mse %.2f  ratio %.3f\n", describe(spec).c_str(),
                  minmax, mse, mse / minmax);
      EXPECT_LT(mse, minmax);
      // Per grid too: the search includes the min/max range, so it is never worse.
      const std::vector<Grid> plain = weight_grids(
          w.data(), rows, cols, spec_of(3, symmetric, granularity, 32, /*mse_range=*/false));
      for (std::size_t i = 0; i < plain.size(); ++i)
        EXPECT_LE(q.grids[i].scale, plain[i].scale * (1.0f + 1e-6f));
    }
  }
}

TEST(QuantWeights, GptqNeverWorseThanRtnAndBetterOnAverage) {
  const std::int64_t rows = 32, cols = 64, samples = 512;
  double ratio_sum = 0;
  int cases = 0;
  for (unsigned seed : {11u, 12u, 13u, 14u}) {
    const std::vector<float> w = normal_matrix(rows, cols, seed, 0.1f);
    const Eigen::MatrixXd h = hessian(correlated_inputs(cols, samples, 100 + seed));
    for (int bits : {2, 3, 4}) {
      for (Granularity granularity : {Granularity::per_channel, Granularity::per_group}) {
        for (bool symmetric : {true, false}) {
          const WeightSpec spec = spec_of(bits, symmetric, granularity, 16);
          const QuantizedMatrix rtn = quantize_rtn(w.data(), rows, cols, spec);
          const double rtn_error =
              reconstruction_error(w.data(), rtn.dequantized.data(), rows, cols, h);
          for (bool act_order : {false, true}) {
            SCOPED_TRACE(describe(spec) + (act_order ? " act_order" : "") + " seed " +
                         std::to_string(seed));
            GptqOptions options;
            options.act_order = act_order;
            options.block = 16;  // several blocks: exercises the lazy batch updates
            const QuantizedMatrix gptq = quantize_gptq(w.data(), rows, cols, h, spec, options);
            expect_consistent(gptq);
            // Same (static) grids as RTN.
            for (std::size_t i = 0; i < rtn.grids.size(); ++i) {
              EXPECT_EQ(gptq.grids[i].scale, rtn.grids[i].scale);
              EXPECT_EQ(gptq.grids[i].zero_point, rtn.grids[i].zero_point);
            }
            const double gptq_error =
                reconstruction_error(w.data(), gptq.dequantized.data(), rows, cols, h);
            EXPECT_LE(gptq_error, rtn_error);
            ratio_sum += gptq_error / rtn_error;
            ++cases;
            if (seed == 11u)
              std::printf("  %-32s act_order %d  rtn %.4g  gptq %.4g  ratio %.3f\n",
                          describe(spec).c_str(), act_order ? 1 : 0, rtn_error, gptq_error,
                          gptq_error / rtn_error);
          }
        }
      }
    }
  }
  const double mean_ratio = ratio_sum / cases;
  std::printf("  mean gptq/rtn error ratio over %d cases: %.3f\n", cases, mean_ratio);
  EXPECT_LT(mean_ratio, 0.9);
}

TEST(QuantWeights, GptqBlockSizeDoesNotChangeTheResult) {
  // Lazy batching only reorders the same updates: the result must not depend on the block size
  // beyond rounding (which may flip a rare code, hence the tolerance on the error).
  const std::int64_t rows = 16, cols = 40;
  const std::vector<float> w = normal_matrix(rows, cols, 21, 0.1f);
  const Eigen::MatrixXd h = hessian(correlated_inputs(cols, 256, 22));
  const WeightSpec spec = spec_of(3, true, Granularity::per_channel);
  GptqOptions options;
  options.block = 1;
  const QuantizedMatrix one = quantize_gptq(w.data(), rows, cols, h, spec, options);
  const double one_error = reconstruction_error(w.data(), one.dequantized.data(), rows, cols, h);
  for (std::int64_t block : {3, 16, 40, 128}) {
    options.block = block;
    const QuantizedMatrix q = quantize_gptq(w.data(), rows, cols, h, spec, options);
    std::size_t differing = 0;
    for (std::size_t i = 0; i < q.codes.size(); ++i) differing += q.codes[i] != one.codes[i];
    EXPECT_LE(differing, q.codes.size() / 100) << "block " << block;
    EXPECT_NEAR(reconstruction_error(w.data(), q.dequantized.data(), rows, cols, h), one_error,
                0.01 * one_error)
        << "block " << block;
  }
}

TEST(QuantWeights, GptqMatchesTheObsRecursion) {
  // The Cholesky/lazy-batch formulation must equal the plain OBS recursion it reformulates:
  // quantize column j, spread its error over the later columns with the inverse Hessian of the
  // remaining columns, then eliminate j from that inverse.
  const std::int64_t rows = 12, cols = 24;
  const std::vector<float> w = normal_matrix(rows, cols, 23, 0.1f);
  const Eigen::MatrixXd h = hessian(correlated_inputs(cols, 200, 24));
  const WeightSpec spec = spec_of(3, false, Granularity::per_group, 8);
  GptqOptions options;
  options.block = 5;
  const QuantizedMatrix q = quantize_gptq(w.data(), rows, cols, h, spec, options);

  Eigen::MatrixXd damped = h;
  damped.diagonal().array() += options.damp * h.diagonal().mean();
  Eigen::MatrixXd hinv = damped.inverse();
  Eigen::MatrixXd work(rows, cols);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) work(r, c) = w[static_cast<std::size_t>(r * cols + c)];
  std::vector<float> expected(w.size());
  for (std::int64_t j = 0; j < cols; ++j) {
    for (std::int64_t r = 0; r < rows; ++r) {
      const Grid& g = q.grid(r, j);
      const float v = fake_quantize(static_cast<float>(work(r, j)), g);
      expected[static_cast<std::size_t>(r * cols + j)] = v;
      const double err = (work(r, j) - v) / hinv(j, j);
      for (std::int64_t k = j + 1; k < cols; ++k) work(r, k) -= err * hinv(j, k);
    }
    const Eigen::VectorXd pivot = hinv.col(j);
    hinv -= pivot * pivot.transpose() / pivot(j);
  }
  std::size_t differing = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) differing += expected[i] != q.dequantized[i];
  std::printf("  codes differing from the OBS recursion: %zu of %zu\n", differing, expected.size());
  EXPECT_LE(differing, expected.size() / 100);
  const double expected_error = reconstruction_error(w.data(), expected.data(), rows, cols, h);
  EXPECT_NEAR(reconstruction_error(w.data(), q.dequantized.data(), rows, cols, h), expected_error,
              0.01 * expected_error);
}

TEST(QuantWeights, GptqWithIdentityHessianEqualsRtn) {
  const std::int64_t rows = 10, cols = 36;
  const std::vector<float> w = normal_matrix(rows, cols, 6);
  const Eigen::MatrixXd identity = Eigen::MatrixXd::Identity(cols, cols);
  for (int bits : {2, 4, 8}) {
    for (Granularity granularity : kGranularities) {
      for (bool act_order : {false, true}) {
        const WeightSpec spec = spec_of(bits, bits != 4, granularity, 16, bits == 2);
        SCOPED_TRACE(describe(spec) + (act_order ? " act_order" : ""));
        GptqOptions options;
        options.act_order = act_order;
        options.block = 8;
        const QuantizedMatrix rtn = quantize_rtn(w.data(), rows, cols, spec);
        const QuantizedMatrix gptq = quantize_gptq(w.data(), rows, cols, identity, spec, options);
        EXPECT_EQ(gptq.codes, rtn.codes);
        EXPECT_EQ(gptq.dequantized, rtn.dequantized);
        EXPECT_EQ(gptq.groups_per_row, rtn.groups_per_row);
        EXPECT_EQ(gptq.group_size, rtn.group_size);
      }
    }
  }
}

TEST(QuantWeights, GptqDeadColumnsAreZeroed) {
  const std::int64_t rows = 8, cols = 32;
  const std::vector<float> w = normal_matrix(rows, cols, 7, 0.1f);
  Eigen::MatrixXd x = correlated_inputs(cols, 256, 8);
  x.row(5).setZero();  // input 5 is always zero: H(5, :) = 0
  x.row(17).setZero();
  const Eigen::MatrixXd h = hessian(x);
  ASSERT_EQ(h(5, 5), 0.0);
  for (bool act_order : {false, true}) {
    const WeightSpec spec = spec_of(3, false, Granularity::per_group, 8);
    GptqOptions options;
    options.act_order = act_order;
    const QuantizedMatrix q = quantize_gptq(w.data(), rows, cols, h, spec, options);
    expect_consistent(q);
    for (std::int64_t r = 0; r < rows; ++r) {
      EXPECT_EQ(q.dequantized[static_cast<std::size_t>(r * cols + 5)], 0.0f);
      EXPECT_EQ(q.dequantized[static_cast<std::size_t>(r * cols + 17)], 0.0f);
    }
    const QuantizedMatrix rtn = quantize_rtn(w.data(), rows, cols, spec);
    EXPECT_LE(reconstruction_error(w.data(), q.dequantized.data(), rows, cols, h),
              reconstruction_error(w.data(), rtn.dequantized.data(), rows, cols, h));
  }
}

TEST(QuantWeights, GptqChecksCancellationPerBlock) {
  const std::int64_t rows = 4, cols = 16;
  const std::vector<float> w = normal_matrix(rows, cols, 9);
  const Eigen::MatrixXd h = hessian(correlated_inputs(cols, 64, 10));
  std::atomic<bool> cancel{false};
  JobControl job;
  job.cancel = &cancel;
  EXPECT_NO_THROW(quantize_gptq(w.data(), rows, cols, h, WeightSpec{}, GptqOptions{}, &job));
  cancel = true;
  EXPECT_THROW(quantize_gptq(w.data(), rows, cols, h, WeightSpec{}, GptqOptions{}, &job),
               Cancelled);
}

// The factor GPTQ's updates read, over several of the triangular inverse's column blocks.
TEST(QuantWeights, InverseCholeskyFactorIsUpperAndInvertsTheDampenedHessian) {
  const std::int64_t cols = 300;
  const Eigen::MatrixXd h = hessian(correlated_inputs(cols, 400, 31));
  const double damp = 0.01;
  const Eigen::MatrixXd u = inverse_cholesky_upper(h, damp);
  ASSERT_EQ(u.rows(), cols);
  EXPECT_EQ(u.triangularView<Eigen::StrictlyLower>().toDenseMatrix().norm(), 0.0);
  EXPECT_TRUE((u.diagonal().array() > 0).all());
  Eigen::MatrixXd hd = h;
  hd.diagonal().array() += damp * h.diagonal().mean();
  const Eigen::MatrixXd should_be_identity = u.transpose() * u * hd;
  EXPECT_LT((should_be_identity - Eigen::MatrixXd::Identity(cols, cols)).cwiseAbs().maxCoeff(),
            1e-8);
  // The same factor as the two-step route (invert, then factor the inverse).
  const Eigen::MatrixXd hinv = hd.llt().solve(Eigen::MatrixXd::Identity(cols, cols));
  const Eigen::MatrixXd u2 = hinv.llt().matrixU();
  EXPECT_LT((u - u2).cwiseAbs().maxCoeff(), 1e-8 * u2.cwiseAbs().maxCoeff());
}

TEST(QuantWeights, GptqRejectsBadHessians) {
  const std::int64_t rows = 4, cols = 2;
  const std::vector<float> w = normal_matrix(rows, cols, 11);
  const WeightSpec spec;
  EXPECT_THROW(quantize_gptq(w.data(), rows, cols, Eigen::MatrixXd::Identity(3, 3), spec), Error);
  Eigen::MatrixXd nan = Eigen::MatrixXd::Identity(2, 2);
  nan(0, 1) = nan(1, 0) = std::nan("");
  EXPECT_THROW(quantize_gptq(w.data(), rows, cols, nan, spec), Error);
  Eigen::MatrixXd negative = Eigen::MatrixXd::Identity(2, 2);
  negative(1, 1) = -1;
  EXPECT_THROW(quantize_gptq(w.data(), rows, cols, negative, spec), Error);
  // Strongly indefinite (eigenvalues 1 +- 1e6): no reasonable dampening makes it definite.
  Eigen::MatrixXd indefinite{{1.0, 1e6}, {1e6, 1.0}};
  try {
    quantize_gptq(w.data(), rows, cols, indefinite, spec);
    FAIL() << "expected qs::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("positive semi-definite"), std::string::npos) << e.what();
  }
  // Mildly indefinite (eigenvalues 1.2 and -0.02): the raised dampening rescues it.
  Eigen::MatrixXd mild{{0.59, 0.61}, {0.61, 0.59}};
  EXPECT_NO_THROW(quantize_gptq(w.data(), rows, cols, mild, spec));
}

TEST(QuantWeights, ReconstructionErrorIsTheOutputError) {
  // tr(E H E^T) with H = 2 X X^T / n is 2/n ||E X||^2: the layer's output error.
  const std::int64_t rows = 6, cols = 20, samples = 50;
  const std::vector<float> w = normal_matrix(rows, cols, 12);
  const Eigen::MatrixXd x = correlated_inputs(cols, samples, 13);
  const QuantizedMatrix q =
      quantize_rtn(w.data(), rows, cols, spec_of(3, true, Granularity::per_channel));
  Eigen::MatrixXd e(rows, cols);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c)
      e(r, c) = static_cast<double>(w[static_cast<std::size_t>(r * cols + c)]) -
                static_cast<double>(q.dequantized[static_cast<std::size_t>(r * cols + c)]);
  const double expected = 2.0 * (e * x).squaredNorm() / static_cast<double>(samples);
  EXPECT_NEAR(reconstruction_error(w.data(), q.dequantized.data(), rows, cols, hessian(x)),
              expected, 1e-9 * expected);
  EXPECT_EQ(reconstruction_error(w.data(), w.data(), rows, cols, hessian(x)), 0.0);
}

TEST(QuantWeights, BiasCorrectionRestoresTheMeanOutput) {
  const std::int64_t rows = 16, cols = 48, samples = 200;
  const std::vector<float> w = normal_matrix(rows, cols, 14);
  const Eigen::MatrixXd x = correlated_inputs(cols, samples, 15);
  const Eigen::VectorXd mean = x.rowwise().mean();
  const std::vector<double> mean_x(mean.data(), mean.data() + cols);
  const QuantizedMatrix q =
      quantize_rtn(w.data(), rows, cols, spec_of(3, false, Granularity::per_channel));
  const std::vector<float> delta =
      bias_correction(w.data(), q.dequantized.data(), rows, cols, mean_x);
  ASSERT_EQ(delta.size(), static_cast<std::size_t>(rows));
  double max_shift = 0, max_residual = 0, scale = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    double exact = 0, quantized = 0;  // W mean_x and Wq mean_x: the mean outputs
    for (std::int64_t c = 0; c < cols; ++c) {
      const std::size_t i = static_cast<std::size_t>(r * cols + c);
      exact += static_cast<double>(w[i]) * mean(c);
      quantized += static_cast<double>(q.dequantized[i]) * mean(c);
    }
    max_shift = std::max(max_shift, std::fabs(exact - quantized));
    max_residual = std::max(max_residual, std::fabs(exact - (quantized + delta[r])));
    scale = std::max(scale, std::fabs(exact));
  }
  EXPECT_GT(max_shift, 1e-3 * scale);     // quantization did shift the mean output...
  EXPECT_LT(max_residual, 1e-5 * scale);  // ...and the correction restores it
  EXPECT_THROW(bias_correction(w.data(), q.dequantized.data(), rows, cols, {1.0, 2.0}), Error);
}

TEST(QuantWeights, BadSpecsThrow) {
  const std::int64_t rows = 4, cols = 12;
  const std::vector<float> w = normal_matrix(rows, cols, 16);
  const Eigen::MatrixXd h = Eigen::MatrixXd::Identity(cols, cols);
  auto expect_error = [&](const WeightSpec& spec, const std::string& fragment) {
    SCOPED_TRACE(describe(spec));
    for (int which = 0; which < 4; ++which) {
      try {
        if (which == 0) check_weight_spec(spec, rows, cols);
        if (which == 1) weight_grids(w.data(), rows, cols, spec);
        if (which == 2) quantize_rtn(w.data(), rows, cols, spec);
        if (which == 3) quantize_gptq(w.data(), rows, cols, h, spec);
        ADD_FAILURE() << "expected qs::Error (" << which << ")";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
      }
    }
  };
  expect_error(spec_of(1, true, Granularity::per_channel), "bits must be 2..8, got 1");
  expect_error(spec_of(9, true, Granularity::per_channel), "bits must be 2..8, got 9");
  expect_error(spec_of(4, true, Granularity::per_group, 0), "group_size > 0");
  expect_error(spec_of(4, true, Granularity::per_group, -4), "group_size > 0");
  EXPECT_THROW(check_weight_spec(WeightSpec{}, 0, cols), Error);
  // Valid edge cases.
  EXPECT_NO_THROW(check_weight_spec(spec_of(2, true, Granularity::per_group, cols), rows, cols));
  EXPECT_NO_THROW(check_weight_spec(spec_of(4, true, Granularity::per_group, 5), rows, cols));
  EXPECT_NO_THROW(check_weight_spec(spec_of(8, false, Granularity::per_tensor), rows, cols));
  // Non-finite weights and bad options are named too.
  std::vector<float> bad = w;
  bad[7] = std::nanf("");
  EXPECT_THROW(quantize_rtn(bad.data(), rows, cols, WeightSpec{}), Error);
  GptqOptions options;
  options.block = 0;
  EXPECT_THROW(quantize_gptq(w.data(), rows, cols, h, WeightSpec{}, options), Error);
  options.block = 128;
  options.damp = -1;
  EXPECT_THROW(quantize_gptq(w.data(), rows, cols, h, WeightSpec{}, options), Error);
}
