// OutputComparison (runtime/output_compare.h): KL divergence of the softmax rows against a
// direct computation, agreement of the top class, and masked logits (-inf in both models)
// that add nothing instead of making everything NaN.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "runtime/output_compare.h"

using namespace qs;

namespace {

double kl_of(const std::vector<float>& a, const std::vector<float>& b) {
  auto softmax = [](const std::vector<float>& x) {
    double z = 0;
    for (float v : x) z += std::exp(double(v));
    std::vector<double> p;
    for (float v : x) p.push_back(std::exp(double(v)) / z);
    return p;
  };
  const std::vector<double> p = softmax(a), q = softmax(b);
  double kl = 0;
  for (std::size_t i = 0; i < p.size(); ++i) kl += p[i] * std::log(p[i] / q[i]);
  return kl;
}

}  // namespace

TEST(OutputComparison, KlDivergenceAndAgreementPerRow) {
  const std::vector<float> a = {1.0f, 2.0f, 0.5f, -1.0f, 0.0f, 3.0f};
  const std::vector<float> b = {1.5f, 1.0f, 0.5f, -0.5f, 0.2f, 2.0f};
  OutputComparison cmp;
  cmp.add(Tensor::from_vector<float>({2, 3}, a), Tensor::from_vector<float>({2, 3}, b), true);
  const double want = (kl_of({1.0f, 2.0f, 0.5f}, {1.5f, 1.0f, 0.5f}) +
                       kl_of({-1.0f, 0.0f, 3.0f}, {-0.5f, 0.2f, 2.0f})) /
                      2;
  EXPECT_NEAR(cmp.kl(), want, 1e-9);
  EXPECT_DOUBLE_EQ(cmp.agreement(), 50.0);  // row 0: 1 vs 0; row 1: 2 and 2
  OutputComparison same;
  same.add(Tensor::from_vector<float>({2, 3}, a), Tensor::from_vector<float>({2, 3}, a), true);
  EXPECT_EQ(same.kl(), 0.0);
  EXPECT_DOUBLE_EQ(same.agreement(), 100.0);
}

TEST(OutputComparison, MaskedLogitsAddNothing) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> a = {1.0f, -inf, 2.0f}, b = {1.5f, -inf, 1.0f};
  OutputComparison cmp;
  cmp.add(Tensor::from_vector<float>({1, 3}, a), Tensor::from_vector<float>({1, 3}, b), true);
  EXPECT_NEAR(cmp.kl(), kl_of({1.0f, 2.0f}, {1.5f, 1.0f}), 1e-9);
  EXPECT_TRUE(std::isfinite(cmp.sqnr_db()));
}
