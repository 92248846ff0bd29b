// The per-layer sensitivity sweep (see quantscope/analysis.h).
#include <algorithm>
#include <cmath>

#include "quant/layers.h"
#include "quantscope/analysis.h"
#include "quantscope/error.h"
#include "quantscope/language_model.h"
#include "quantscope/memory.h"
#include "quantscope/model_info.h"
#include "quantscope/quant_format.h"
#include "runtime/output_compare.h"

namespace qs {

namespace {

// `base` with every layer's weight and activation bits replaced.
QuantConfig with_bits(const QuantConfig& base, int weight_bits, int act_bits) {
  QuantConfig c = base;
  c.defaults.weight_bits = weight_bits;
  c.defaults.act_bits = act_bits;
  for (auto& [node, o] : c.overrides) {
    o.weight_bits = weight_bits;
    o.act_bits = act_bits;
  }
  return c;
}

// The 8-bit calibrated range on a grid of `bits`.
ActQuantParams regrid(const ActQuantParams& a, int bits) {
  const quant::Grid g = a.is_signed
                            ? quant::symmetric_grid(std::max(std::abs(a.lo), std::abs(a.hi)), bits)
                            : quant::asymmetric_grid(a.lo, a.hi, bits, true);
  ActQuantParams p = a;
  p.bits = bits;
  p.scale = g.scale;
  p.zero_point = g.zero_point;
  return p;
}

// The float model's outputs over the evaluation data, kept for every comparison.
struct Reference {
  std::vector<Tensor> inputs, outputs;
  std::vector<std::vector<std::int64_t>> labels;
};

// ||Q(W) - W||^2 of one layer's quantized weights against the float ones.
double squared_error(const Graph& graph, const quant::QuantLayer& layer,
                     const WeightQuantParams& q) {
  const std::vector<float> w = quant::weight_to_matrix(layer, graph.initializers.at(layer.weight));
  const std::vector<float> dq = dequantize_weights(q);
  double sum = 0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    const double d = double(dq[i]) - w[i];
    sum += d * d;
  }
  return sum;
}

std::int64_t correct(const Tensor& logits, const std::vector<std::int64_t>& labels) {
  if (labels.empty() || logits.rank() != 2) return 0;
  const std::int64_t classes = logits.dim(1);
  std::int64_t n = 0;
  for (std::int64_t i = 0; i < logits.dim(0); ++i) {
    const float* l = logits.data<float>() + i * classes;
    n += std::max_element(l, l + classes) - l == labels[static_cast<std::size_t>(i)];
  }
  return n;
}

}  // namespace

SensitivityResult sensitivity_sweep(const Graph& graph, const QuantConfig& base, Dataset& calib,
                                    Dataset& eval, Device& device,
                                    const SensitivityOptions& options, const JobControl& job) {
  const bool weights = options.what != SensitivityTarget::acts;
  const bool acts = options.what != SensitivityTarget::weights;
  if (options.bits.empty()) throw Error("no bit widths to sweep");
  for (int b : options.bits)
    if (b < 2 || b > (weights ? 8 : 16))
      throw Error("bit width " + std::to_string(b) + " out of range: 2 to " +
                  (weights ? "8 for weights" : "16 for activations"));
  if (graph.inputs.empty() || graph.outputs.empty()) throw Error("the model has no inputs");
  if (options.shard_count < 1 || options.shard_index < 0 ||
      options.shard_index >= options.shard_count)
    throw Error("shard " + std::to_string(options.shard_index) + "/" +
                std::to_string(options.shard_count) + " is not valid: i/n with 0 <= i < n");
  if (eval.size() <= 0) throw Error("the evaluation data are empty");
  // A decoder reads windows of token ids (one a run) with the rest of its inputs made for them;
  // its logits [1, T, V] compare as T next-token distributions.
  const std::optional<DecoderLayout> decoder = decoder_layout(graph);
  if (decoder && acts)
    throw Error(
        "the sensitivity of a language model's activations is not there yet: sweep its weights "
        "(--what weights)");
  const std::int64_t step = decoder ? 1 : options.batch;
  // The float model, the model with one layer quantized, and the calibration run with every
  // intermediate tensor observed.
  check_memory("the sensitivity sweep",
               estimate_run_bytes(graph, std::min(step, std::max(eval.size(), calib.size())), 3));

  SensitivityResult result;
  const std::vector<quant::QuantLayer> layers = quant::find_quant_layers(graph);
  const ModelInfo info = describe_model(graph);
  const double calib_share = 0.2;
  const std::size_t stages = options.bits.size() * (weights ? 1 : 0) + (acts ? 1 : 0);
  std::size_t stage = 0;
  auto sub_job = [&](const std::string& what) {
    JobControl j = job;
    const double start = calib_share * double(stage) / double(std::max<std::size_t>(1, stages));
    const double span = calib_share / double(std::max<std::size_t>(1, stages));
    j.progress = [&job, start, span, what](double f, const std::string& m) {
      job.report(start + span * f, what + ": " + m);
    };
    ++stage;
    return j;
  };

  // Weights at each bit width, all layers at once (each layer's rounding is independent).
  std::map<int, QuantizedModel> by_bits;
  CalibrationOptions calib_options;
  calib_options.batch = options.batch;
  if (weights)
    for (int b : options.bits)
      by_bits[b] = quantize_model(graph, with_bits(base, b, 0), calib, device, calib_options,
                                  sub_job("weights at " + std::to_string(b) + " bits"));
  // Activation ranges, calibrated once at 8 bits.
  QuantizedModel act_ranges;
  if (acts) {
    act_ranges = quantize_model(graph, with_bits(base, 0, 8), calib, device, calib_options,
                                sub_job("activation ranges"));
    result.notes.push_back(
        "activation ranges are calibrated once for 8 bits and re-gridded at each bit width");
  }
  for (const std::string& n : act_ranges.notes) result.notes.push_back(n);
  if (!by_bits.empty())
    for (const std::string& n : by_bits.begin()->second.notes) result.notes.push_back(n);

  // The float model over the evaluation data, once.
  Reference ref;
  const std::string input = graph.inputs[0].name;
  const std::string output = decoder ? decoder->logits : graph.outputs[0].name;
  auto feeds = [&](const Tensor& x) {
    return decoder ? decoder_inputs(*decoder, x) : TensorMap{{input, x}};
  };
  // A window's positions but the last (which predicts a token past the window), as eval's KLD.
  auto distributions = [&](const Tensor& y) {
    if (!decoder) return y;
    const std::int64_t vocab = y.dim(y.rank() - 1), rows = y.numel() / vocab;
    const std::int64_t kept = std::max<std::int64_t>(1, rows - 1);
    Tensor t(DType::f32, {kept, vocab});
    std::copy(y.data<float>(), y.data<float>() + kept * vocab, t.data<float>());
    return t;
  };
  {
    std::unique_ptr<CompiledGraph> run = compile_any_batch(device, graph);
    std::int64_t top1 = 0;
    for (std::int64_t first = 0; first < eval.size(); first += step) {
      job.check();
      Batch batch = eval.read(first, std::min(step, eval.size() - first));
      TensorMap out = run->run(feeds(batch.inputs));
      top1 += correct(out.at(output), batch.labels);
      // A decoder's float logits are kept for every window (T x vocabulary floats each).
      if (decoder && first == 0)
        check_memory("the sensitivity sweep (the float model's logits of " +
                         std::to_string(eval.size()) + " windows; fewer with --limit)",
                     out.at(output).numel() * 4 * eval.size());
      ref.outputs.push_back(distributions(out.at(output)));
      ref.labels.push_back(batch.labels);
      ref.inputs.push_back(batch.inputs);
    }
    result.samples = eval.size();
    result.has_labels = eval.has_labels();
    result.classifier =
        decoder ||
        is_classifier_output(ref.outputs[0].shape(), ref.inputs[0].dim(0), ref.inputs[0].shape());
    result.language_model = decoder.has_value();
    if (result.has_labels && result.classifier)
      result.fp32_top1 = 100.0 * double(top1) / double(result.samples);
  }

  std::size_t points = 0, done = 0, index = 0;
  for (const quant::QuantLayer& l : layers)
    if (acts || l.kind != quant::LayerKind::matmul_acts) points += options.bits.size();
  points = (points + static_cast<std::size_t>(options.shard_count) - 1) /
           static_cast<std::size_t>(options.shard_count);
  for (const quant::QuantLayer& l : layers) {
    const std::string& name = l.node->name;
    if (!acts && l.kind == quant::LayerKind::matmul_acts) continue;  // no weights
    LayerSensitivity ls;
    ls.name = name;
    ls.op = l.node->op_type;
    for (const LayerInfo& li : info.layers)
      if (li.name == name) ls.params = li.params;
    const LayerHessian* trace = nullptr;
    if (options.hessian)
      for (const LayerHessian& h : options.hessian->layers)
        if (h.name == name && h.params > 0) trace = &h;
    for (int b : options.bits) {
      if (index++ % static_cast<std::size_t>(options.shard_count) !=
          static_cast<std::size_t>(options.shard_index))
        continue;
      job.check();
      job.report(calib_share + (1 - calib_share) * double(done++) / double(points),
                 name + " at " + std::to_string(b) + " bits");
      QuantizedModel q;
      q.config.defaults.weight_bits = 0;
      q.config.defaults.act_bits = 0;
      LayerOverride& o = q.config.overrides[name];
      o.weight_bits = weights && l.kind != quant::LayerKind::matmul_acts ? b : 0;
      o.act_bits = acts ? 8 : 0;  // a marker only: the grid comes from the parameters
      if (*o.weight_bits > 0) q.weights[name] = by_bits.at(b).weights.at(name);
      if (acts)
        for (const std::string& t : l.act_inputs)
          q.activations[t] = regrid(act_ranges.activations.at(t), b);
      const Graph quantized = apply_quantization(graph, q);
      std::unique_ptr<CompiledGraph> run = compile_any_batch(device, quantized);
      OutputComparison cmp;
      std::int64_t top1 = 0;
      for (std::size_t i = 0; i < ref.inputs.size(); ++i) {
        job.check();
        TensorMap out = run->run(feeds(ref.inputs[i]));
        const Tensor y = distributions(out.at(output));
        cmp.add(ref.outputs[i], y, result.classifier);
        top1 += correct(y, ref.labels[i]);
      }
      BitSensitivity s;
      s.kl = cmp.kl();
      s.sqnr_db = cmp.sqnr_db();
      s.agreement = cmp.agreement();
      if (result.fp32_top1 >= 0) s.top1 = 100.0 * double(top1) / double(result.samples);
      if (trace && *o.weight_bits > 0)
        s.hawq = trace->trace / double(trace->params) * squared_error(graph, l, q.weights[name]);
      ls.bits[b] = s;
    }
    result.layers.push_back(std::move(ls));
  }
  if (options.hessian)
    result.notes.push_back("HAWQ-V2 estimate: tr(H)/n x ||Q(W) - W||^2 from Hessian traces (" +
                           options.hessian->loss + ", " + std::to_string(options.hessian->probes) +
                           " probes on " + std::to_string(options.hessian->samples) + " samples)");
  job.report(1.0, "done");
  return result;
}

SensitivityResult merge_sensitivity(const std::vector<SensitivityResult>& shards) {
  if (shards.empty()) throw Error("no shards to merge");
  SensitivityResult merged = shards[0];
  for (std::size_t s = 1; s < shards.size(); ++s) {
    const SensitivityResult& part = shards[s];
    if (part.layers.size() != merged.layers.size() || part.samples != merged.samples)
      throw Error("shard " + std::to_string(s) + " is of another sweep (layers or samples differ)");
    for (std::size_t i = 0; i < part.layers.size(); ++i) {
      if (part.layers[i].name != merged.layers[i].name)
        throw Error("shard " + std::to_string(s) + " has layer '" + part.layers[i].name +
                    "' where the others have '" + merged.layers[i].name + "'");
      for (const auto& [bits, m] : part.layers[i].bits)
        if (!merged.layers[i].bits.emplace(bits, m).second)
          throw Error("layer '" + part.layers[i].name + "' at " + std::to_string(bits) +
                      " bits is in two shards");
    }
  }
  return merged;
}

}  // namespace qs
