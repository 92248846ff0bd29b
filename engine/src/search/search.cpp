// mixed_precision_search(): sweep, front, baselines, verification (see quantscope/search.h).
#include <algorithm>
#include <chrono>
#include <set>

#include "quantscope/error.h"
#include "quantscope/evaluate.h"
#include "quantscope/model_info.h"
#include "quantscope/search.h"

namespace qs {

QuantConfig config_for_bits(const QuantConfig& base, const std::map<std::string, int>& bits,
                            int act_bits) {
  QuantConfig c = base;
  // Layers outside `bits` have no weights to choose for (attention's activation-only MatMuls):
  // their inputs take the activation width like every other layer's.
  c.defaults.weight_bits = 0;
  c.defaults.act_bits = act_bits;
  c.overrides.clear();
  for (const auto& [layer, b] : bits) {
    LayerOverride o = base.overrides.count(layer) ? base.overrides.at(layer) : LayerOverride{};
    o.weight_bits = b;
    o.act_bits = act_bits;
    c.overrides[layer] = o;
  }
  return c;
}

namespace {

// The point's costs and predicted loss under the options, with `bits` per layer.
SearchPoint evaluate_choice(const std::vector<LayerOptions>& layers, double fixed, double fixed2,
                            const std::map<std::string, int>& bits, const std::string& label) {
  SearchPoint p;
  p.label = label;
  p.cost = fixed;
  p.cost2 = fixed2;
  p.bits = bits;
  for (const LayerOptions& l : layers) {
    const int b = bits.at(l.layer);
    auto o = std::find_if(l.options.begin(), l.options.end(),
                          [&](const BitOption& x) { return x.bits == b; });
    if (o == l.options.end()) throw Error("no option of " + std::to_string(b) + " bits");
    p.cost += o->cost;
    p.cost2 += o->cost2;
    p.predicted_loss += o->loss;
  }
  return p;
}

}  // namespace

SearchResult mixed_precision_search(const Graph& graph, const QuantConfig& base, Dataset& calib,
                                    Dataset& eval, Device& device, const SearchOptions& options,
                                    const JobControl& job) {
  if (options.act_bits != 0 && options.act_bits != 8 && options.act_bits != 16)
    throw Error("activation bits must be 8, 16 or float");
  SearchResult r;
  JobControl sweep_job = job;
  sweep_job.progress = [&job](double f, const std::string& m) { job.report(0.5 * f, m); };
  SensitivityOptions so;
  so.bits = options.bits;
  so.what = SensitivityTarget::weights;
  so.batch = options.batch;
  if (options.estimate == SearchEstimate::hawq) {
    if (!options.hessian) throw Error("the HAWQ estimate needs Hessian traces");
    so.hessian = options.hessian;
  }
  const SensitivityResult sens = sensitivity_sweep(graph, base, calib, eval, device, so, sweep_job);
  r.fp32_top1 = sens.fp32_top1;
  r.notes = sens.notes;
  r.notes.push_back(options.estimate == SearchEstimate::hawq
                        ? "predicted loss: the sum over layers of HAWQ-V2's tr(H)/n x ||Q(W) - "
                          "W||^2 (additive model; the verified points show how well it holds)"
                        : "predicted loss: the sum over layers of each layer's KL when quantized "
                          "alone (additive model; the verified points show how well it holds)");

  std::map<std::string, int> pinned = options.pinned;
  std::vector<LayerOptions> probe = layer_options(graph, sens, options.objective, options.act_bits,
                                                  {}, options.latency, options.estimate);
  if (options.keep_ends_at_8 && !probe.empty()) {
    if (std::find(options.bits.begin(), options.bits.end(), 8) == options.bits.end())
      throw Error("keeping the first and last layers at 8 bits needs 8 among the bit widths");
    pinned[probe.front().layer] = 8;
    pinned[probe.back().layer] = 8;
  }
  std::vector<LayerOptions> layers = layer_options(graph, sens, options.objective, options.act_bits,
                                                   pinned, options.latency, options.estimate);
  const double fixed = fixed_cost(graph, layers, options.objective, options.latency);
  double fixed2 = 0;
  if (options.has_second) {
    // The second cost's options: the same layers and widths, other costs.
    const std::vector<LayerOptions> second = layer_options(
        graph, sens, options.second, options.act_bits, pinned, options.latency, options.estimate);
    for (std::size_t i = 0; i < layers.size(); ++i)
      for (std::size_t k = 0; k < layers[i].options.size(); ++k)
        layers[i].options[k].cost2 = second[i].options[k].cost;
    fixed2 = fixed_cost(graph, second, options.second, options.latency);
  }
  if (options.objective == SearchObjective::latency ||
      (options.has_second && options.second == SearchObjective::latency))
    r.notes.push_back(
        "latency: the sum of each layer's time on " + options.latency->device + " (batch " +
        std::to_string(options.latency->batch) +
        ") in the uniform run at its width, plus the rest of those runs' end-to-end time "
        "(median over widths; additive model; verified points are timed end to end)");
  {
    // The float model's cost: 4 bytes per weight, or BOPs at 32 x 32 bits.
    const ModelInfo info = describe_model(graph);
    if (options.objective == SearchObjective::size) {
      r.fp32_cost = double(info.weight_bytes);
    } else if (options.objective == SearchObjective::latency) {
      r.fp32_cost = NAN;  // the table times quantized runs only
    } else {
      for (const LayerOptions& l : layers)
        for (const LayerInfo& li : info.layers)
          if (li.name == l.layer) r.fp32_cost += double(li.macs) * 32 * 32;
    }
  }
  const double budget2 = options.has_second && options.budget2 >= 0 ? options.budget2 : INFINITY;
  const auto front_start = std::chrono::steady_clock::now();
  for (const ParetoPoint& p : pareto_front(layers, fixed, fixed2, budget2))
    r.front.push_back({"front", p.cost, p.cost2, p.predicted_loss, p.bits, {}});
  r.front_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - front_start).count();

  // Baselines on the same costs.
  for (int b : options.bits) {
    std::map<std::string, int> uniform, ends;
    bool fits = true;
    for (std::size_t i = 0; i < layers.size(); ++i) {
      auto pin = pinned.find(layers[i].layer);
      const int want = pin != pinned.end() ? pin->second : b;
      uniform[layers[i].layer] = want;
      ends[layers[i].layer] = (i == 0 || i + 1 == layers.size()) ? 8 : want;
      fits = fits && (pin == pinned.end() || pin->second == b);
    }
    if (fits)
      r.baselines.push_back(
          evaluate_choice(layers, fixed, fixed2, uniform, "uniform " + std::to_string(b)));
    if (b != 8 && std::find(options.bits.begin(), options.bits.end(), 8) != options.bits.end() &&
        !options.keep_ends_at_8)
      r.baselines.push_back(
          evaluate_choice(layers, fixed, fixed2, ends, "8-first-last " + std::to_string(b)));
  }

  // Which points to verify: spread along the front, the best under the budget, and the best at
  // each baseline's cost.
  std::set<std::size_t> chosen;
  const std::size_t n = r.front.size();
  // The front point of least predicted loss whose costs are within (cost, cost2), or -1.
  auto least_loss_within = [&](double cost, double cost2) {
    int best = -1;
    for (std::size_t i = 0; i < n; ++i)
      if (r.front[i].cost <= cost && (!options.has_second || r.front[i].cost2 <= cost2) &&
          (best < 0 ||
           r.front[i].predicted_loss < r.front[static_cast<std::size_t>(best)].predicted_loss))
        best = static_cast<int>(i);
    return best;
  };
  if (options.verify_at_baselines)
    for (SearchPoint& b : r.baselines) {
      // A relative slack: the front's sums and the baseline's may differ in the last bits.
      b.front_match = least_loss_within(b.cost * (1 + 1e-12), b.cost2 * (1 + 1e-12));
      if (b.front_match >= 0) chosen.insert(static_cast<std::size_t>(b.front_match));
    }
  if (options.verify > 0 && n > 0) {
    const std::size_t k = std::min<std::size_t>(static_cast<std::size_t>(options.verify), n);
    for (std::size_t i = 0; i < k; ++i) chosen.insert(k == 1 ? n - 1 : i * (n - 1) / (k - 1));
  }
  if (options.budget >= 0) {
    r.best = least_loss_within(options.budget, INFINITY);
    if (r.best < 0)
      r.notes.push_back("no configuration fits the budget " + std::to_string(options.budget));
    else
      chosen.insert(static_cast<std::size_t>(r.best));
  }
  const std::size_t total = chosen.size() + r.baselines.size();
  std::size_t done = 0;
  auto measure = [&](SearchPoint& p) {
    job.check();
    job.report(0.5 + 0.5 * double(done++) / double(std::max<std::size_t>(1, total)),
               "verifying " + p.label);
    const QuantConfig c = config_for_bits(base, p.bits, options.act_bits);
    CalibrationOptions co;
    co.batch = options.batch;
    const QuantizedModel q = quantize_model(graph, c, calib, device, co);
    const Graph g = apply_quantization(graph, q);
    EvalOptions eo;
    eo.batch = options.batch;
    const PairEvalResult e = evaluate_pair(graph, g, eval, device, device, eo);
    p.measured.measured = true;
    p.measured.top1 = e.candidate.has_labels && e.classifier ? e.candidate.top1 : -1;
    p.measured.agreement = e.agreement;
    p.measured.kl = e.kl;
    p.measured.sqnr_db = e.sqnr_db;
    if (options.latency_device) {
      options.latency_device->use_integer_kernels(true);
      const BenchResult b = benchmark(g, *options.latency_device, options.latency_bench);
      options.latency_device->use_integer_kernels(false);
      p.measured.latency_ms = b.end_to_end.median_ms;
    }
  };
  for (std::size_t i : chosen) measure(r.front[i]);
  for (SearchPoint& p : r.baselines) measure(p);

  std::vector<double> predicted, measured;
  for (const SearchPoint& p : r.front)
    if (p.measured.measured) {
      predicted.push_back(p.predicted_loss);
      measured.push_back(p.measured.kl);
    }
  r.rank_correlation = spearman(predicted, measured);
  job.report(1.0, "done");
  return r;
}

}  // namespace qs
