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

// Two costs: the front equals the brute-force set of points no other beats in cost, cost2 and
// loss, among those whose cost2 fits the budget.
TEST(Search, TwoCostFrontEqualsBruteForce) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 30; ++trial) {
    std::vector<LayerOptions> layers = random_problem(rng, 2 + trial % 4, 2 + trial % 3);
    for (LayerOptions& l : layers)
      for (BitOption& o : l.options) o.cost2 = double(1 + rng() % 5);
    const double budget2 = 2.0 + double(trial % 7) * double(layers.size()) / 2.0;
    struct P {
      double c1, c2, loss;
    };
    std::vector<P> all{{0, 0, 0}};
    for (const LayerOptions& l : layers) {
      std::vector<P> next;
      for (const P& p : all)
        for (const BitOption& o : l.options)
          next.push_back({p.c1 + o.cost, p.c2 + o.cost2, p.loss + o.loss});
      all = next;
    }
    std::vector<P> expected;
    for (const P& p : all) {
      if (p.c2 + 1.0 > budget2) continue;  // the fixed second cost is 1
      bool beaten = false;
      for (const P& q : all)
        beaten =
            beaten || (q.c2 + 1.0 <= budget2 && q.c1 <= p.c1 && q.c2 <= p.c2 && q.loss <= p.loss &&
                       (q.c1 < p.c1 || q.c2 < p.c2 || q.loss < p.loss - 1e-12));
      const bool seen = std::any_of(expected.begin(), expected.end(), [&](const P& e) {
        return e.c1 == p.c1 && e.c2 == p.c2 && std::abs(e.loss - p.loss) < 1e-12;
      });
      if (!beaten && !seen) expected.push_back(p);
    }
    const std::vector<ParetoPoint> front = pareto_front(layers, 0.0, 1.0, budget2);
    ASSERT_EQ(front.size(), expected.size()) << "trial " << trial;
    for (const ParetoPoint& f : front) {
      EXPECT_LE(f.cost2, budget2);
      const bool found = std::any_of(expected.begin(), expected.end(), [&](const P& e) {
        return e.c1 == f.cost && e.c2 + 1.0 == f.cost2 &&
               std::abs(e.loss - f.predicted_loss) < 1e-9;
      });
      EXPECT_TRUE(found) << "trial " << trial << ": " << f.cost << " " << f.cost2;
    }
  }
}

TEST(Search, LatencyTableRoundTripsAndRefusesBadFiles) {
  LatencyTable t;
  t.device = "cpu-onednn";
  t.environment = {{"isa", "avx512_core_vnni"}};
  t.batch = 4;
  t.act_bits = 8;
  t.integer_kernels = true;
  t.layer_ms["conv"] = {{4, 0.25}, {8, 0.5}};
  t.layer_ms["fc"] = {{4, 0.125}, {8, 0.0625}};
  t.rest_ms = {{4, 0.75}, {8, 1.0}};
  t.total_ms = {{4, 1.5}, {8, 2.0}};
  const LatencyTable u = latency_table_from_json(latency_table_to_json(t));
  EXPECT_EQ(u.device, t.device);
  EXPECT_EQ(u.environment, t.environment);
  EXPECT_EQ(u.batch, 4);
  EXPECT_TRUE(u.integer_kernels);
  EXPECT_EQ(u.layer_ms, t.layer_ms);
  EXPECT_EQ(u.rest_ms, t.rest_ms);
  EXPECT_EQ(u.total_ms, t.total_ms);
  EXPECT_THROW(latency_table_from_json("{"), Error);
  EXPECT_THROW(latency_table_from_json("{\"kind\": \"something else\"}"), Error);
  std::string bad = latency_table_to_json(t);
  bad.replace(bad.find("\"8\": 0.5"), 8, "\"x\": 0.5");
  EXPECT_THROW(latency_table_from_json(bad), Error);
}
