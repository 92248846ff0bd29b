// The Pareto front is exact: it equals the brute-force front on small random problems.
#include <gtest/gtest.h>

#include <random>

#include "quantscope/error.h"
#include "quantscope/search.h"

using namespace qs;

namespace {

std::vector<LayerOptions> random_problem(std::mt19937& rng, int layers, int options) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<LayerOptions> out;
  for (int l = 0; l < layers; ++l) {
    LayerOptions lo;
    lo.layer = "layer" + std::to_string(l);
    for (int o = 0; o < options; ++o) {
      // Integer costs make ties (equal cost, different loss) likely: pruning must handle them.
      lo.options.push_back({2 + o, double(1 + rng() % 6), u(rng)});
    }
    out.push_back(lo);
  }
  return out;
}

// Every assignment, then the points no other beats in both cost and loss.
std::vector<std::pair<double, double>> brute_force(const std::vector<LayerOptions>& layers) {
  std::vector<std::pair<double, double>> all{{0.0, 0.0}};
  for (const LayerOptions& l : layers) {
    std::vector<std::pair<double, double>> next;
    for (const auto& [c, s] : all)
      for (const BitOption& o : l.options) next.push_back({c + o.cost, s + o.loss});
    all = next;
  }
  std::vector<std::pair<double, double>> front;
  for (const auto& p : all) {
    bool dominated = false;
    for (const auto& q : all)
      dominated = dominated || (q.first <= p.first && q.second < p.second) ||
                  (q.first < p.first && q.second <= p.second);
    if (!dominated) front.push_back(p);
  }
  std::sort(front.begin(), front.end());
  front.erase(std::unique(front.begin(), front.end(),
                          [](const auto& a, const auto& b) {
                            return a.first == b.first && std::abs(a.second - b.second) < 1e-12;
                          }),
              front.end());
  return front;
}

}  // namespace

TEST(Search, ParetoFrontEqualsBruteForce) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 40; ++trial) {
    const std::vector<LayerOptions> layers = random_problem(rng, 2 + trial % 5, 2 + trial % 4);
    const std::vector<ParetoPoint> front = pareto_front(layers, 10.0);
    const auto expected = brute_force(layers);
    ASSERT_EQ(front.size(), expected.size()) << "trial " << trial;
    for (std::size_t i = 0; i < front.size(); ++i) {
      EXPECT_DOUBLE_EQ(front[i].cost, expected[i].first + 10.0);
      EXPECT_NEAR(front[i].predicted_loss, expected[i].second, 1e-9);
      // The assignment adds up to the point.
      double cost = 10.0, loss = 0.0;
      for (const LayerOptions& l : layers)
        for (const BitOption& o : l.options)
          if (o.bits == front[i].bits.at(l.layer)) {
            cost += o.cost;
            loss += o.loss;
          }
      EXPECT_DOUBLE_EQ(cost, front[i].cost);
      EXPECT_NEAR(loss, front[i].predicted_loss, 1e-9);
    }
  }
}

TEST(Search, SpearmanAndErrors) {
  EXPECT_DOUBLE_EQ(spearman({1, 2, 3, 4}, {10, 20, 30, 40}), 1.0);
  EXPECT_DOUBLE_EQ(spearman({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0);
  EXPECT_NEAR(spearman({1, 2, 2, 3}, {1, 2, 3, 4}), 0.9486832980505138, 1e-12);
  EXPECT_TRUE(std::isnan(spearman({1}, {1})));
  EXPECT_THROW(pareto_front({LayerOptions{"empty", {}}}), Error);
}
