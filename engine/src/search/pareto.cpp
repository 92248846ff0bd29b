// The exact Pareto front by layer-wise merging with dominance pruning.
#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>

#include "quant/layers.h"
#include "quantscope/error.h"
#include "quantscope/model_info.h"
#include "quantscope/search.h"

namespace qs {

namespace {

// A partial assignment: its totals and the option chosen per layer so far (shared prefixes).
struct Partial {
  double cost = 0, cost2 = 0, loss = 0;
  std::shared_ptr<const std::vector<int>> choice;
};

// Keeps the points no other beats in both cost and loss; sorted by cost.
std::vector<Partial> prune(std::vector<Partial> points) {
  std::sort(points.begin(), points.end(), [](const Partial& a, const Partial& b) {
    return a.cost != b.cost ? a.cost < b.cost : a.loss < b.loss;
  });
  std::vector<Partial> front;
  for (Partial& p : points)
    if (front.empty() || p.loss < front.back().loss) front.push_back(std::move(p));
  return front;
}

// Keeps the points no other beats in all of cost, cost2 and loss; sorted by cost. A point is
// only compared with those before it in (cost, cost2, loss) order: no later one can beat it.
std::vector<Partial> prune3(std::vector<Partial> points) {
  std::sort(points.begin(), points.end(), [](const Partial& a, const Partial& b) {
    if (a.cost != b.cost) return a.cost < b.cost;
    if (a.cost2 != b.cost2) return a.cost2 < b.cost2;
    return a.loss < b.loss;
  });
  std::vector<Partial> front;
  for (Partial& p : points) {
    bool beaten = false;
    for (const Partial& q : front)
      if (q.cost2 <= p.cost2 && q.loss <= p.loss) {
        beaten = true;
        break;
      }
    if (!beaten) front.push_back(std::move(p));
    if (front.size() > kMaxFront)
      throw Error("the front of two costs passed " + std::to_string(kMaxFront) +
                  " points: allow fewer bit widths, pin layers, or search one cost");
  }
  return front;
}

}  // namespace

std::vector<ParetoPoint> pareto_front(const std::vector<LayerOptions>& layers, double fixed,
                                      double fixed2, double budget2) {
  bool two = false;
  for (const LayerOptions& l : layers)
    for (const BitOption& o : l.options) two = two || o.cost2 != 0;
  // The least cost2 the remaining layers add, to drop partial assignments that cannot fit.
  std::vector<double> rest2(layers.size() + 1, 0.0);
  for (std::size_t i = layers.size(); i-- > 0;) {
    double least = INFINITY;
    for (const BitOption& o : layers[i].options) least = std::min(least, o.cost2);
    rest2[i] = rest2[i + 1] + (layers[i].options.empty() ? 0.0 : least);
  }
  std::vector<Partial> front{{fixed, fixed2, 0.0, std::make_shared<const std::vector<int>>()}};
  for (std::size_t li = 0; li < layers.size(); ++li) {
    const LayerOptions& l = layers[li];
    if (l.options.empty()) throw Error("layer '" + l.layer + "' has no bit-width options");
    std::vector<Partial> next;
    next.reserve(front.size() * l.options.size());
    for (const Partial& p : front)
      for (std::size_t i = 0; i < l.options.size(); ++i) {
        const double c2 = p.cost2 + l.options[i].cost2;
        if (c2 + rest2[li + 1] > budget2) continue;
        auto choice = std::make_shared<std::vector<int>>(*p.choice);
        choice->push_back(static_cast<int>(i));
        next.push_back(
            {p.cost + l.options[i].cost, c2, p.loss + l.options[i].loss, std::move(choice)});
      }
    front = two ? prune3(std::move(next)) : prune(std::move(next));
  }
  std::vector<ParetoPoint> out;
  for (const Partial& p : front) {
    ParetoPoint q;
    q.cost = p.cost;
    q.cost2 = p.cost2;
    q.predicted_loss = p.loss;
    for (std::size_t i = 0; i < layers.size(); ++i)
      q.bits[layers[i].layer] = layers[i].options[static_cast<std::size_t>((*p.choice)[i])].bits;
    out.push_back(std::move(q));
  }
  return out;
}

std::vector<LayerOptions> layer_options(const Graph& graph, const SensitivityResult& sensitivity,
                                        SearchObjective objective, int act_bits,
                                        const std::map<std::string, int>& pinned,
                                        const LatencyTable* latency, SearchEstimate estimate) {
  if (objective == SearchObjective::latency && !latency)
    throw Error("the latency objective needs a latency table");
  const ModelInfo info = describe_model(graph);
  std::map<std::string, std::int64_t> macs;
  for (const LayerInfo& l : info.layers) macs[l.name] = l.macs;
  std::map<std::string, const quant::QuantLayer*> by_name;
  const std::vector<quant::QuantLayer> qlayers = quant::find_quant_layers(graph);
  for (const quant::QuantLayer& l : qlayers) by_name[l.node->name] = &l;
  std::vector<LayerOptions> out;
  for (const LayerSensitivity& s : sensitivity.layers) {
    auto q = by_name.find(s.name);
    if (q == by_name.end() || q->second->weight.empty()) continue;
    LayerOptions lo;
    lo.layer = s.name;
    const std::int64_t weights = q->second->rows * q->second->cols;
    for (const auto& [bits, m] : s.bits) {
      auto pin = pinned.find(s.name);
      if (pin != pinned.end() && pin->second != bits) continue;
      BitOption o;
      o.bits = bits;
      if (estimate == SearchEstimate::hawq) {
        if (!std::isfinite(m.hawq))
          throw Error("layer '" + s.name + "' has no HAWQ estimate at " + std::to_string(bits) +
                      " bits: its Hessian trace is missing");
        o.loss = std::max(0.0, m.hawq);
      } else {
        o.loss = std::isfinite(m.kl) ? std::max(0.0, m.kl) : 0.0;
      }
      if (objective == SearchObjective::latency) {
        const auto layer = latency->layer_ms.find(s.name);
        if (layer == latency->layer_ms.end() || !layer->second.count(bits))
          throw Error("the latency table of " + latency->device + " has no time for layer '" +
                      s.name + "' at " + std::to_string(bits) +
                      " bits: build it for the same model and bit widths");
        o.cost = layer->second.at(bits);
      } else {
        o.cost = objective == SearchObjective::size
                     ? double((weights * bits + 7) / 8 + q->second->rows * 4)
                     : double(macs[s.name]) * bits * (act_bits > 0 ? act_bits : 32);
      }
      lo.options.push_back(o);
    }
    if (lo.options.empty())
      throw Error("layer '" + s.name + "' is pinned to a bit width that was not swept");
    out.push_back(std::move(lo));
  }
  return out;
}

double fixed_cost(const Graph& graph, const std::vector<LayerOptions>& layers,
                  SearchObjective objective, const LatencyTable* latency) {
  if (objective == SearchObjective::latency) {
    std::vector<double> rest;
    if (latency)
      for (const auto& [bits, ms] : latency->rest_ms) rest.push_back(ms);
    if (rest.empty()) return 0;
    std::sort(rest.begin(), rest.end());
    return rest[rest.size() / 2];
  }
  if (objective != SearchObjective::size) return 0;
  std::map<std::string, bool> covered;
  for (const quant::QuantLayer& l : quant::find_quant_layers(graph))
    for (const LayerOptions& o : layers)
      if (o.layer == l.node->name) covered[l.weight] = true;
  double bytes = 0;
  for (const auto& [name, t] : graph.initializers)
    if (!covered.count(name)) bytes += double(t.size_bytes());
  return bytes;
}

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size() || a.size() < 2) return NAN;
  auto ranks = [](const std::vector<double>& v) {
    std::vector<std::size_t> idx(v.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::sort(idx.begin(), idx.end(), [&](std::size_t i, std::size_t j) { return v[i] < v[j]; });
    std::vector<double> r(v.size());
    for (std::size_t i = 0; i < idx.size();) {
      std::size_t j = i;
      while (j + 1 < idx.size() && v[idx[j + 1]] == v[idx[i]]) ++j;
      for (std::size_t k = i; k <= j; ++k) r[idx[k]] = 0.5 * double(i + j);
      i = j + 1;
    }
    return r;
  };
  const std::vector<double> ra = ranks(a), rb = ranks(b);
  const double n = double(a.size());
  const double ma = std::accumulate(ra.begin(), ra.end(), 0.0) / n;
  const double mb = std::accumulate(rb.begin(), rb.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < ra.size(); ++i) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) * (ra[i] - ma);
    sbb += (rb[i] - mb) * (rb[i] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : NAN;
}

}  // namespace qs
