// quantize_model(): calibration of activations and rounding of weights for a configuration.
//   pass 1: min/max of each quantized activation, and the layer inputs' statistics (GPTQ's
//           Hessian, bias correction's mean) where a layer needs them;
//   pass 2: histograms, only when a calibrator needs one (percentile, MSE, entropy);
//   then each layer's weights: RTN or GPTQ, optional bias correction.
// The float model runs on the given device with the observed tensors as extra outputs.
#include <algorithm>
#include <memory>
#include <set>

#include "graph/passes.h"
#include "quant/layer_stats.h"
#include "quant/layers.h"
#include "quant/observer.h"
#include "quant/roundings/roundings.h"
#include "quant/weight_quant.h"
#include "quantscope/error.h"
#include "quantscope/language_model.h"
#include "quantscope/memory.h"
#include "quantscope/quant.h"
#include "quantscope/quant_format.h"
#include "quantscope/registry.h"

namespace qs {

namespace {

quant::WeightSpec weight_spec(const LayerQuantSettings& s) {
  quant::WeightSpec spec;
  spec.bits = s.weight_bits;
  spec.symmetric = s.weight_symmetric;
  spec.granularity = s.granularity;
  spec.group_size = s.group_size;
  spec.mse_range = s.weight_range == "mse";
  return spec;
}

}  // namespace

QuantizedModel quantize_model(const Graph& graph, const QuantConfig& config, Dataset& data,
                              Device& device, const CalibrationOptions& options,
                              const JobControl& job) {
  const Registry& registry = options.registry ? *options.registry : builtin_registry();
  const std::vector<std::string> problems = config_problems(config, graph, &registry);
  if (!problems.empty()) {
    std::string text = "the quantization configuration does not fit the model:";
    for (const std::string& p : problems) text += "\n  " + p;
    throw Error(text);
  }
  if (graph.inputs.empty()) throw Error("the model has no inputs");
  if (options.batch <= 0) throw Error("batch size must be positive");
  if (data.size() <= 0) throw Error("the calibration data is empty");
  // Calibration runs the model with every intermediate tensor observed, and its statistics do
  // not depend on how the samples are split: at most kBatchBudgetBytes of them per step.
  // A decoder's sample is a window of tokens, which the model's declared shapes (and so
  // batch_within's estimate) count as one: a window at a time.
  const std::optional<DecoderLayout> decoder = decoder_layout(graph);
  const std::int64_t step = decoder ? 1 : batch_within(graph, std::min(options.batch, data.size()));
  {
    // A rounding method that reads the Hessian keeps one (inputs x inputs, doubles) per layer.
    std::int64_t hessians = 0;
    for (const quant::QuantLayer& l : quant::find_quant_layers(graph))
      if (registry.create_rounding(config.settings_for(l.node->name).rounding)->needs_hessian())
        hessians += l.cols * l.cols * 8;
    check_memory("calibration", estimate_run_bytes(graph, step, 2) + hessians);
  }

  QuantizedModel q;
  q.config = config;
  q.model_name = graph.name;
  q.calibration_data = data.describe();
  q.calibration_samples = data.size();

  const std::vector<quant::QuantLayer> layers = quant::find_quant_layers(graph);
  // Activation observers, one per tensor (the first quantized reader's settings decide).
  std::map<std::string, std::unique_ptr<quant::ActivationObserver>> observers;
  std::map<std::string, std::string> observer_owner;
  std::map<std::string, std::unique_ptr<quant::LayerInputStats>> stats;  // by node
  std::vector<std::string> observed;
  std::map<std::string, std::shared_ptr<const Rounding>> rounding;  // by node
  for (const quant::QuantLayer& l : layers) {
    const LayerQuantSettings s = config.settings_for(l.node->name);
    rounding[l.node->name] = registry.create_rounding(s.rounding);
    const Rounding& method = *rounding[l.node->name];
    if (s.act_bits > 0) {
      std::shared_ptr<const Calibrator> calibrator = registry.create_calibrator(s.calibrator);
      const GridTarget target{s.act_bits, s.act_symmetric};
      for (const std::string& t : l.act_inputs) {
        if (observers.count(t)) {
          const quant::ActivationObserver& other = *observers[t];
          if (other.target().bits != target.bits || other.target().symmetric != target.symmetric ||
              other.calibrator().text() != calibrator->text())
            q.notes.push_back("tensor '" + t + "' is read by '" + observer_owner[t] + "' and '" +
                              l.node->name + "' with different activation settings; '" +
                              observer_owner[t] + "''s apply to both");
          continue;
        }
        observers[t] = std::make_unique<quant::ActivationObserver>(calibrator, target);
        observer_owner[t] = l.node->name;
        observed.push_back(t);
      }
    }
    const bool needs_stats = s.weight_bits > 0 && l.kind != quant::LayerKind::matmul_acts &&
                             (method.needs_hessian() || s.bias_correction);
    if (needs_stats) {
      auto st = std::make_unique<quant::LayerInputStats>(graph, l);
      if (!st->unsupported().empty()) {
        q.notes.push_back("node '" + l.node->name + "': " + st->unsupported() +
                          (method.needs_hessian()
                               ? "; rounded to nearest instead of " + method.text()
                               : std::string()) +
                          (s.bias_correction ? "; no bias correction" : ""));
        continue;
      }
      stats[l.node->name] = std::move(st);
      if (std::find(observed.begin(), observed.end(), l.act_inputs[0]) == observed.end())
        observed.push_back(l.act_inputs[0]);
    }
  }

  const Graph g = with_observed_outputs(graph, observed);
  // A decoder reads windows of token ids, with the rest of its inputs made for them.
  std::unique_ptr<CompiledGraph> run = observed.empty() ? nullptr : compile_any_batch(device, g);
  const std::string input = graph.inputs[0].name;
  const std::int64_t total = data.size();
  const std::int64_t batches = (total + step - 1) / step;
  bool histograms = false;
  for (auto& [t, o] : observers) histograms = histograms || o->needs_histogram();
  const int passes = observed.empty() ? 0 : (histograms ? 2 : 1);
  const double weight_share = 0.3;  // of the progress bar, for the weights
  const std::int64_t n_weight_layers = static_cast<std::int64_t>(layers.size());

  auto run_pass = [&](int pass) {
    for (std::int64_t b = 0; b < batches; ++b) {
      job.check();
      job.report((1 - weight_share) * (pass * batches + b) / double(passes * batches),
                 "calibration pass " + std::to_string(pass + 1) + "/" + std::to_string(passes) +
                     ", batch " + std::to_string(b + 1) + "/" + std::to_string(batches));
      const std::int64_t first = b * step;
      Batch batch = data.read(first, std::min(step, total - first));
      TensorMap out = run->run(decoder ? decoder_inputs(*decoder, batch.inputs)
                                       : TensorMap{{input, batch.inputs}});
      out[input] = batch.inputs;
      for (const std::string& t : observed) {
        auto it = out.find(t);
        if (it == out.end()) throw Error("calibration: tensor '" + t + "' was not computed");
        const Tensor& x = it->second;
        if (x.dtype() != DType::f32) throw Error("calibration: tensor '" + t + "' is not float");
        auto o = observers.find(t);
        if (o != observers.end()) {
          if (pass == 0)
            o->second->observe_minmax(x.data<float>(), static_cast<std::size_t>(x.numel()));
          else
            o->second->observe_histogram(x.data<float>(), static_cast<std::size_t>(x.numel()));
        }
      }
      if (pass == 0)
        for (auto& [node, st] : stats) {
          const Node* n = graph.find_node(node);
          st->add(out.at(n->inputs[0]));
        }
    }
  };
  if (passes >= 1) run_pass(0);
  if (passes == 2) {
    for (auto& [t, o] : observers)
      if (o->needs_histogram()) o->begin_histogram();
    run_pass(1);
  }
  run.reset();

  for (auto& [t, o] : observers) {
    const GridTarget& target = o->target();
    const quant::Range r = o->range();
    const quant::Grid grid =
        target.symmetric
            ? quant::symmetric_grid(std::max(std::abs(r.lo), std::abs(r.hi)), target.bits)
            : quant::asymmetric_grid(r.lo, r.hi, target.bits, true);
    ActQuantParams p;
    p.bits = target.bits;
    p.is_signed = target.symmetric;
    p.scale = grid.scale;
    p.zero_point = grid.zero_point;
    p.lo = r.lo;
    p.hi = r.hi;
    p.calibrator = o->calibrator().text();
    if (o->nan_count() > 0)
      q.notes.push_back("tensor '" + t + "': " + std::to_string(o->nan_count()) +
                        " NaN values seen in calibration");
    q.activations[t] = p;
  }

  std::int64_t done = 0;
  for (const quant::QuantLayer& l : layers) {
    job.check();
    job.report((1 - weight_share) +
                   weight_share * done++ / double(std::max<std::int64_t>(1, n_weight_layers)),
               "weights of " + l.node->name);
    const LayerQuantSettings s = config.settings_for(l.node->name);
    if (s.weight_bits == 0 || l.kind == quant::LayerKind::matmul_acts) continue;
    const Tensor& w = graph.initializers.at(l.weight);
    const std::vector<float> m = quant::weight_to_matrix(l, w);
    const quant::WeightSpec spec = weight_spec(s);
    quant::check_weight_spec(spec, l.rows, l.cols);
    auto st = stats.find(l.node->name);
    const quant::LayerInputStats* input_stats = st == stats.end() ? nullptr : st->second.get();

    WeightQuantParams p;
    p.weight = l.weight;
    p.bits = s.weight_bits;
    p.symmetric = s.weight_symmetric;
    p.granularity = s.granularity;
    p.rows = l.rows;
    p.cols = l.cols;
    const std::int64_t groups = input_stats ? input_stats->groups() : 1;
    // A method that reads the Hessian falls back to round-to-nearest where there is none.
    static const std::unique_ptr<Rounding> nearest = roundings::make_rtn("");
    const Rounding* method = rounding.at(l.node->name).get();
    const bool hessian = method->needs_hessian() && input_stats && input_stats->samples() > 0;
    if (method->needs_hessian() && !hessian) method = nearest.get();
    if (hessian && groups > 1 && s.granularity == QuantGranularity::per_tensor) {
      q.notes.push_back("node '" + l.node->name + "': " + method->text() +
                        " on a grouped convolution with one per-tensor scale is not "
                        "supported; rounded to nearest");
      method = nearest.get();
    }
    p.rounding = method->text();
    std::vector<float> dequantized(m.size());
    // A Hessian method works per convolution group (each has its own inputs); others on the
    // whole matrix.
    const std::int64_t parts = method->needs_hessian() ? groups : 1;
    const std::int64_t rows_per_part = l.rows / parts;
    for (std::int64_t part = 0; part < parts; ++part) {
      RoundingInput in{
          m.data() + part * rows_per_part * l.cols, rows_per_part, l.cols, spec, nullptr, &job};
      Eigen::MatrixXd h;
      if (method->needs_hessian()) {
        h = input_stats->hessian(part);
        in.hessian = &h;
      }
      quant::QuantizedMatrix qm = method->round(in);
      const std::int64_t group = quant::grid_columns(spec, l.cols);
      if (qm.group_size != group || qm.groups_per_row != quant::groups_in_row(l.cols, group) ||
          qm.grids.size() != static_cast<std::size_t>(rows_per_part * qm.groups_per_row) ||
          qm.codes.size() != static_cast<std::size_t>(rows_per_part * l.cols) ||
          qm.dequantized.size() != qm.codes.size())
        throw Error("node '" + l.node->name + "': rounding " + method->text() +
                    " returned weights that do not have the shape or groups asked for");
      p.groups_per_row = qm.groups_per_row;
      p.group_size = qm.group_size;
      p.codes.insert(p.codes.end(), qm.codes.begin(), qm.codes.end());
      for (const quant::Grid& gr : qm.grids) {
        p.scales.push_back(gr.scale);
        p.zero_points.push_back(gr.zero_point);
      }
      std::copy(qm.dequantized.begin(), qm.dequantized.end(),
                dequantized.begin() + part * rows_per_part * l.cols);
    }
    const std::int64_t rows_per_group = l.rows / groups;
    if (s.bias_correction && input_stats && input_stats->samples() > 0) {
      if (l.bias.empty()) {
        q.notes.push_back("node '" + l.node->name + "' has no bias to correct");
      } else {
        const std::vector<float> b = graph.initializers.at(l.bias).to_f32();
        p.bias = b;
        for (std::int64_t grp = 0; grp < groups; ++grp) {
          const std::int64_t r0 = grp * rows_per_group;
          const std::vector<float> delta =
              quant::bias_correction(m.data() + r0 * l.cols, dequantized.data() + r0 * l.cols,
                                     rows_per_group, l.cols, input_stats->mean(grp));
          for (std::int64_t r = 0; r < rows_per_group; ++r) p.bias[r0 + r] += delta[r];
        }
      }
    }
    q.weights[l.node->name] = std::move(p);
  }
  job.report(1.0, "quantized");
  return q;
}

}  // namespace qs
