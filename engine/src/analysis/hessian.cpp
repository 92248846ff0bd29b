// hessian_traces(): Hutchinson's estimator of per-layer Hessian traces over the engine's own
// gradients, and GPTQ's layer-wise trace (see quantscope/analysis.h).
#include <algorithm>
#include <cmath>
#include <exception>
#include <random>
#include <set>
#include <thread>

#include "quant/layer_stats.h"
#include "quant/layers.h"
#include "quantscope/analysis.h"
#include "quantscope/autograd.h"
#include "quantscope/device.h"
#include "quantscope/error.h"
#include "quantscope/executor.h"
#include "quantscope/memory.h"

namespace qs {

namespace {

// One batch of the data with everything the probes reuse: the loss, g(w) and the pieces at w.
struct BatchState {
  TensorMap inputs;
  Loss loss;
  double share = 0;  // samples in the batch / all samples
  std::map<std::string, Tensor> g0;
  Pieces pieces;
};

// The Rademacher vector of one probe and weight: a function of (seed, probe, weight index) only,
// so that results do not depend on how probes are spread over threads.
std::vector<float> rademacher(std::uint64_t seed, int probe, std::size_t weight, std::int64_t n) {
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                    static_cast<std::uint32_t>(probe), static_cast<std::uint32_t>(weight)};
  std::mt19937_64 rng(seq);
  std::vector<float> v(static_cast<std::size_t>(n));
  std::uint64_t bits = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    if (i % 64 == 0) bits = rng();
    v[static_cast<std::size_t>(i)] = (bits >> (i % 64)) & 1 ? 1.0f : -1.0f;
  }
  return v;
}

bool is_classification(const Tensor& out, const std::vector<std::int64_t>& labels) {
  if (out.rank() != 2 || labels.size() != static_cast<std::size_t>(out.dim(0))) return false;
  return std::all_of(labels.begin(), labels.end(),
                     [&](std::int64_t l) { return l >= 0 && l < out.dim(1); });
}

void check_options(const HessianOptions& o) {
  if (o.max_probes < 1) throw Error("the number of probes must be at least 1");
  if (o.min_probes < 1 || o.min_probes > o.max_probes)
    throw Error("the minimum number of probes must be between 1 and the maximum (" +
                std::to_string(o.max_probes) + ")");
  if (!(o.tol >= 0)) throw Error("the tolerance must be >= 0");
  if (!(o.step > 0 && o.step < 1)) throw Error("the step must be in (0, 1)");
  if (o.batch < 1) throw Error("batch size must be positive");
}

}  // namespace

HessianResult hessian_traces(const Graph& graph, Dataset& data, const HessianOptions& options,
                             const JobControl& job) {
  check_options(options);
  if (graph.inputs.empty() || graph.outputs.empty()) throw Error("the model has no inputs");
  if (data.size() <= 0) throw Error("the data are empty");
  const std::vector<quant::QuantLayer> layers = quant::find_quant_layers(graph);
  std::vector<const quant::QuantLayer*> weighted;
  std::vector<std::string> weights;  // distinct initializers, in graph order
  for (const quant::QuantLayer& l : layers) {
    if (l.weight.empty()) continue;
    weighted.push_back(&l);
    if (std::find(weights.begin(), weights.end(), l.weight) == weights.end())
      weights.push_back(l.weight);
  }
  if (weighted.empty()) throw Error("the model has no layers with weights");
  // Per batch: one run of every activation, kept pieces; all batches stay in memory.
  check_memory("the Hessian traces", estimate_run_bytes(graph, options.batch, 3) +
                                         estimate_run_bytes(graph, data.size(), 1));

  // A model with a fixed batch B takes B samples at a time; a last partial batch is left out
  // (the gradient of a padded batch would count its repeated samples twice).
  const std::int64_t fixed = fixed_batch(graph);
  const std::int64_t batch = fixed > 0 ? fixed : options.batch;
  const std::int64_t count = fixed > 0 ? data.size() / fixed * fixed : data.size();
  if (count == 0)
    throw Error("the model fixes its batch to " + std::to_string(fixed) +
                " samples; the data have " + std::to_string(data.size()));

  const GradientEngine engine(graph);
  HessianResult result;
  result.samples = count;
  const std::string input = graph.inputs[0].name, output = graph.outputs[0].name;

  // Layer inputs for the layer-wise trace, observed in the same float run that gives the
  // KL target.
  std::vector<std::unique_ptr<quant::LayerInputStats>> stats;
  std::vector<std::string> observed;
  if (options.layerwise)
    for (const quant::QuantLayer* l : weighted) {
      stats.push_back(std::make_unique<quant::LayerInputStats>(
          graph, *l, quant::LayerInputStats::Collect::trace));
      observed.push_back(l->act_inputs.at(0));
    }
  ReferenceExecutor exec(graph);
  exec.keep(observed);

  // g(w) and the pieces at w, per batch.
  std::vector<BatchState> batches;
  bool classification = true;
  for (std::int64_t first = 0; first < count; first += batch) {
    job.check();
    job.report(0.0, "the float run");
    Batch b = data.read(first, std::min(batch, count - first));
    BatchState s;
    s.inputs = {{input, b.inputs}};
    s.share = double(b.inputs.dim(0)) / double(count);
    TensorMap out = exec.run(s.inputs);
    for (std::size_t i = 0; i < stats.size(); ++i)
      if (stats[i]->unsupported().empty()) stats[i]->add(out.at(observed[i]));
    const Tensor& y = out.at(output);
    classification = classification && is_classification(y, b.labels);
    if (classification) {
      s.loss.kind = Loss::cross_entropy;
      s.loss.labels = b.labels;
    }
    s.loss.target_logits = y;  // kept in case a later batch has no labels
    batches.push_back(std::move(s));
  }
  for (std::size_t i = 0; i < batches.size(); ++i) {
    job.check();
    job.report(0.05 * double(i) / double(batches.size()), "gradients at the float weights");
    BatchState& s = batches[i];
    if (!classification) {
      s.loss.kind = Loss::kl_to_target;
      s.loss.labels.clear();
    } else {
      s.loss.target_logits = Tensor();
    }
    GradientOptions record;
    record.record_pieces = true;
    Gradients g = engine.run(s.inputs, s.loss, weights, {}, record);
    s.g0 = std::move(g.wrt);
    s.pieces = std::move(g.pieces);
  }
  result.loss = classification ? "cross-entropy" : "kl-to-float";

  // eps from the RMS of all the weights together: one step for every layer keeps the other
  // layers' terms unweighted (as with an exact Hessian-vector product).
  double sum_sq = 0;
  std::int64_t n_all = 0;
  for (const std::string& w : weights) {
    const Tensor& t = graph.initializers.at(w);
    for (std::int64_t i = 0; i < t.numel(); ++i)
      sum_sq += double(t.data<float>()[i]) * t.data<float>()[i];
    n_all += t.numel();
  }
  const double rms = std::sqrt(sum_sq / double(std::max<std::int64_t>(1, n_all)));
  const double eps = options.step * (rms > 0 ? rms : 1.0);
  result.step = eps;

  // One probe: v_w . (Hv)_w for each weight.
  auto probe = [&](int k) {
    std::vector<std::vector<float>> v(weights.size());
    TensorMap moved;
    for (std::size_t i = 0; i < weights.size(); ++i) {
      const Tensor& w = graph.initializers.at(weights[i]);
      v[i] = rademacher(options.seed, k, i, w.numel());
      Tensor p = w.clone();
      float* pp = p.data<float>();
      for (std::int64_t j = 0; j < p.numel(); ++j)
        pp[j] += static_cast<float>(eps) * v[i][static_cast<std::size_t>(j)];
      moved[weights[i]] = std::move(p);
    }
    std::vector<double> q(weights.size(), 0.0);
    GradientOptions hold;
    for (const BatchState& s : batches) {
      job.check();
      hold.hold = &s.pieces;
      const Gradients g = engine.run(s.inputs, s.loss, weights, moved, hold);
      for (std::size_t i = 0; i < weights.size(); ++i) {
        const float* a = g.wrt.at(weights[i]).data<float>();
        const float* b = s.g0.at(weights[i]).data<float>();
        double dot = 0;
        for (std::size_t j = 0; j < v[i].size(); ++j) dot += double(v[i][j]) * (a[j] - b[j]);
        q[i] += s.share * dot / eps;
      }
    }
    return q;
  };

  const int threads = std::max(
      1, options.threads > 0 ? options.threads
                             : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  std::vector<std::vector<double>> samples;  // per probe, per weight
  std::vector<double> mean(weights.size(), 0.0), previous(weights.size(), 0.0);
  while (static_cast<int>(samples.size()) < options.max_probes && !result.converged) {
    const int first = static_cast<int>(samples.size());
    const int round = std::min(threads, options.max_probes - first);
    std::vector<std::vector<double>> got(static_cast<std::size_t>(round));
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(round));
    std::vector<std::thread> pool;
    for (int t = 1; t < round; ++t)
      pool.emplace_back([&, t] {
        try {
          got[t] = probe(first + t);
        } catch (...) {
          errors[t] = std::current_exception();
        }
      });
    try {
      got[0] = probe(first);
    } catch (...) {
      errors[0] = std::current_exception();
    }
    for (std::thread& t : pool) t.join();
    for (const std::exception_ptr& e : errors)
      if (e) std::rethrow_exception(e);
    // In probe order, so that the stopping point does not depend on the thread count.
    for (std::vector<double>& q : got) {
      samples.push_back(std::move(q));
      const double k = double(samples.size());
      double change = 0;
      for (std::size_t i = 0; i < weights.size(); ++i) {
        previous[i] = mean[i];
        mean[i] += (samples.back()[i] - mean[i]) / k;
        const double scale = std::abs(mean[i]);
        change = std::max(change, scale > 0 ? std::abs(mean[i] - previous[i]) / scale : 0.0);
      }
      if (static_cast<int>(samples.size()) >= options.min_probes && change < options.tol) {
        result.converged = true;
        break;
      }
    }
    job.report(0.05 + 0.95 * double(samples.size()) / double(options.max_probes),
               "probe " + std::to_string(samples.size()) + " of at most " +
                   std::to_string(options.max_probes));
  }
  result.probes = static_cast<int>(samples.size());
  result.method =
      "Hutchinson, Rademacher probes over all layers at once; Hv by forward differences of "
      "gradients, step " +
      std::to_string(options.step) + " x RMS of the weights, piecewise ops held at w";

  for (std::size_t li = 0; li < weighted.size(); ++li) {
    const quant::QuantLayer& l = *weighted[li];
    const std::size_t wi = static_cast<std::size_t>(
        std::find(weights.begin(), weights.end(), l.weight) - weights.begin());
    LayerHessian h;
    h.name = l.node->name;
    h.op = l.node->op_type;
    h.weight = l.weight;
    h.params = graph.initializers.at(l.weight).numel();
    h.probes = result.probes;
    double m = 0, m2 = 0;
    for (const std::vector<double>& s : samples) m += s[wi];
    m /= double(samples.size());
    for (const std::vector<double>& s : samples) m2 += (s[wi] - m) * (s[wi] - m);
    h.trace = m;
    h.std_error = samples.size() > 1 ? std::sqrt(m2 / double(samples.size() - 1)) /
                                           std::sqrt(double(samples.size()))
                                     : NAN;
    if (options.layerwise) {
      const quant::LayerInputStats& st = *stats[li];
      if (!st.unsupported().empty()) {
        result.notes.push_back(h.name + ": no layer-wise trace (" + st.unsupported() + ")");
      } else if (st.samples() > 0) {
        double t = 0;
        for (std::int64_t g = 0; g < st.groups(); ++g) t += st.hessian_trace(g);
        h.layerwise_trace = t * double(l.rows) / double(std::max<std::int64_t>(1, st.groups()));
      }
    }
    result.layers.push_back(std::move(h));
  }
  if (weights.size() < weighted.size())
    result.notes.push_back("layers that share a weight report the same trace");
  job.report(1.0, "done");
  return result;
}

}  // namespace qs
