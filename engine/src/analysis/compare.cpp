// compare_sample(): one sample through the float and the quantized model (see
// quantscope/compare.h).
#include "quantscope/compare.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "graph/passes.h"
#include "quant/layers.h"
#include "quantscope/error.h"
#include "quantscope/memory.h"
#include "runtime/output_compare.h"

namespace qs {

namespace {

std::vector<ClassScore> top_k(const Tensor& logits, int k) {
  const std::int64_t classes = logits.dim(1);
  const float* z = logits.data<float>();
  const double m = *std::max_element(z, z + classes);
  double sum = 0;
  for (std::int64_t c = 0; c < classes; ++c) sum += std::exp(z[c] - m);
  std::vector<ClassScore> all;
  for (std::int64_t c = 0; c < classes; ++c) all.push_back({c, std::exp(z[c] - m) / sum});
  std::stable_sort(all.begin(), all.end(), [](const ClassScore& a, const ClassScore& b) {
    return a.probability > b.probability;
  });
  all.resize(std::min<std::size_t>(all.size(), static_cast<std::size_t>(k)));
  return all;
}

// The common range of two sets of values (finite ones).
std::pair<double, double> range_of(const std::vector<const Tensor*>& tensors) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const Tensor* t : tensors)
    for (std::int64_t i = 0; i < t->numel(); ++i) {
      const float v = t->data<float>()[i];
      if (!std::isfinite(v)) continue;
      lo = std::min(lo, double(v));
      hi = std::max(hi, double(v));
    }
  if (lo > hi) lo = hi = 0;
  return {lo, hi};
}

WeightComparison compare_weights(const Graph& graph, const quant::QuantLayer& layer,
                                 const WeightQuantParams& wq, int bins) {
  WeightComparison w;
  w.layer = layer.node->name;
  w.bits = wq.bits;
  w.granularity = quant_granularity_name(wq.granularity);
  const std::vector<float> fw = quant::weight_to_matrix(layer, graph.initializers.at(wq.weight));
  const std::vector<float> dq = dequantize_weights(wq);
  const std::size_t widest = static_cast<std::size_t>(
      std::max_element(wq.scales.begin(), wq.scales.end()) - wq.scales.begin());
  const Tensor ft = Tensor::from_vector<float>({std::int64_t(fw.size())}, fw);
  const Tensor qt = Tensor::from_vector<float>({std::int64_t(dq.size())}, dq);
  const auto [lo, hi] = range_of({&ft, &qt});
  w.float_hist = histogram(fw.data(), std::int64_t(fw.size()), lo, hi, bins);
  w.quant_hist = histogram(dq.data(), std::int64_t(dq.size()), lo, hi, bins);
  // Codes span -(2^(b-1) - 1)..2^(b-1) - 1 symmetric, -2^(b-1)..2^(b-1) - 1 otherwise.
  const int qmax = (1 << (wq.bits - 1)) - 1;
  const int qmin = wq.symmetric ? -qmax : -(1 << (wq.bits - 1));
  for (int code = qmin; code <= qmax; ++code)
    w.grid.push_back(double(code - wq.zero_points[widest]) * wq.scales[widest]);
  return w;
}

}  // namespace

Histogram histogram(const float* values, std::int64_t n, double lo, double hi, int bins) {
  Histogram h;
  h.lo = lo;
  h.hi = hi;
  h.counts.assign(static_cast<std::size_t>(std::max(1, bins)), 0);
  const double width = (hi - lo) / double(h.counts.size());
  for (std::int64_t i = 0; i < n; ++i) {
    const float v = values[i];
    if (!std::isfinite(v) || v < lo || v > hi) continue;
    std::size_t b = width > 0 ? static_cast<std::size_t>((v - lo) / width) : 0;
    ++h.counts[std::min(b, h.counts.size() - 1)];
  }
  return h;
}

SampleComparison compare_sample(const Graph& graph, const QuantizedModel& q, Dataset& data,
                                std::int64_t index, Device& device, const CompareOptions& options) {
  if (index < 0 || index >= data.size())
    throw Error("sample " + std::to_string(index) + " is out of range: the data have " +
                std::to_string(data.size()) + " samples (0 to " + std::to_string(data.size() - 1) +
                ")");
  if (options.bins < 1 || options.bins > 4096) throw Error("bins must be between 1 and 4096");
  if (options.topk < 1) throw Error("top-k must be at least 1");
  if (graph.inputs.empty() || graph.outputs.empty()) throw Error("the model has no inputs");
  check_memory("comparing a sample", estimate_run_bytes(graph, 1, 2));
  const std::vector<quant::QuantLayer> layers = quant::find_quant_layers(graph);
  std::vector<const quant::QuantLayer*> chosen;
  std::vector<std::string> observed;
  for (const quant::QuantLayer& l : layers)
    if (q.config.settings_for(l.node->name).quantized()) {
      chosen.push_back(&l);
      observed.push_back(l.node->outputs[0]);
    }
  // Compiled graphs refer to their Graph: both are kept alive here.
  const Graph fg = with_observed_outputs(graph, observed);
  const Graph qg = with_observed_outputs(apply_quantization(graph, q), observed);
  std::unique_ptr<CompiledGraph> frun = compile_any_batch(device, fg);
  std::unique_ptr<CompiledGraph> qrun = compile_any_batch(device, qg);

  SampleComparison r;
  r.sample = index;
  Batch b = data.read(index, 1);
  if (!b.labels.empty()) r.label = b.labels[0];
  r.input = b.inputs;
  const std::string input = graph.inputs[0].name, output = graph.outputs[0].name;
  const TensorMap f = frun->run({{input, b.inputs}});
  const TensorMap qo = qrun->run({{input, b.inputs}});
  r.float_output = f.at(output);
  r.quant_output = qo.at(output);
  if (r.float_output.dtype() != DType::f32 || r.quant_output.shape() != r.float_output.shape())
    throw Error("the outputs of the float and the quantized model differ in type or shape");
  r.classifier = is_classifier_output(r.float_output.shape(), 1, b.inputs.shape());
  OutputComparison cmp;
  cmp.add(r.float_output, r.quant_output, r.classifier);
  r.sqnr_db = cmp.sqnr_db();
  r.kl = r.classifier ? cmp.kl() : 0.0;
  r.error_map = Tensor(DType::f32, r.float_output.shape());
  for (std::int64_t i = 0; i < r.float_output.numel(); ++i) {
    const float e = std::abs(r.quant_output.data<float>()[i] - r.float_output.data<float>()[i]);
    r.error_map.data<float>()[i] = e;
    r.max_abs_error = std::max(r.max_abs_error, double(e));
  }
  if (r.classifier) {
    r.float_topk = top_k(r.float_output, options.topk);
    r.quant_topk = top_k(r.quant_output, options.topk);
  }

  for (std::size_t i = 0; i < chosen.size(); ++i) {
    const Tensor& a = f.at(observed[i]);
    const Tensor& c = qo.at(observed[i]);
    ActivationComparison ac;
    ac.layer = chosen[i]->node->name;
    ac.tensor = observed[i];
    const auto [lo, hi] = range_of({&a, &c});
    ac.float_hist = histogram(a.data<float>(), a.numel(), lo, hi, options.bins);
    ac.quant_hist = histogram(c.data<float>(), c.numel(), lo, hi, options.bins);
    OutputComparison layer_cmp;
    layer_cmp.add(a, c, false);
    ac.sqnr_db = layer_cmp.sqnr_db();
    r.activations.push_back(std::move(ac));
    auto wq = q.weights.find(chosen[i]->node->name);
    if (wq != q.weights.end() && !wq->second.codes.empty())
      r.weights.push_back(compare_weights(graph, *chosen[i], wq->second, options.bins));
  }
  return r;
}

}  // namespace qs
