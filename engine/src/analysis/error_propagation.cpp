// error_propagation(): error introduced vs accumulated per layer (see quantscope/analysis.h).
#include <algorithm>
#include <cmath>
#include <set>

#include "graph/passes.h"
#include "quant/layers.h"
#include "quantscope/analysis.h"
#include "quantscope/error.h"
#include "quantscope/memory.h"
#include "runtime/output_compare.h"

namespace qs {

namespace {

// The part of `q` that quantizes `node` alone.
QuantizedModel only(const QuantizedModel& q, const quant::QuantLayer& layer) {
  QuantizedModel one;
  one.config.defaults.weight_bits = 0;
  one.config.defaults.act_bits = 0;
  const LayerQuantSettings s = q.config.settings_for(layer.node->name);
  LayerOverride& o = one.config.overrides[layer.node->name];
  o.weight_bits = s.weight_bits;
  o.act_bits = s.act_bits;
  auto w = q.weights.find(layer.node->name);
  if (w != q.weights.end()) one.weights[w->first] = w->second;
  if (s.act_bits > 0)
    for (const std::string& t : layer.act_inputs) {
      auto a = q.activations.find(t);
      if (a != q.activations.end()) one.activations[t] = a->second;
    }
  return one;
}

}  // namespace

std::vector<LayerError> error_propagation(const Graph& graph, const QuantizedModel& q,
                                          Dataset& data, Device& device, std::int64_t batch,
                                          const JobControl& job, std::int64_t weights_budget) {
  if (batch <= 0) throw Error("batch size must be positive");
  if (graph.inputs.empty()) throw Error("the model has no inputs");
  std::vector<const quant::QuantLayer*> chosen;
  const std::vector<quant::QuantLayer> layers = quant::find_quant_layers(graph);
  std::vector<std::string> outputs;
  for (const quant::QuantLayer& l : layers)
    if (q.config.settings_for(l.node->name).quantized() &&
        (q.weights.count(l.node->name) || !l.act_inputs.empty())) {
      chosen.push_back(&l);
      outputs.push_back(l.node->outputs[0]);
    }
  if (chosen.empty()) throw Error("the configuration quantizes no layer of this model");
  // Batches whose observed outputs fit kBatchBudgetBytes; the sums below do not depend on them.
  const std::int64_t step = batch_within(graph, batch);
  // Each compiled graph holds the model's weights (in the device's layout): the layers quantized
  // alone are compiled a group at a time, the float model rerun once per group.
  const std::int64_t constants = estimate_run_bytes(graph, 0);  // the weights alone
  const std::size_t group = static_cast<std::size_t>(
      std::max<std::int64_t>(1, weights_budget / std::max<std::int64_t>(1, 2 * constants)));
  // The float, the quantized and a group of layers' runs, each with its observed outputs.
  check_memory("tracing the error per layer",
               estimate_run_bytes(graph, step, 2) +
                   static_cast<std::int64_t>(std::min(group, chosen.size())) *
                       estimate_run_bytes(graph, step, 1));

  // Compiled graphs refer to their Graph: each is kept alive while it runs.
  const Graph observed = with_observed_outputs(graph, outputs);
  std::unique_ptr<CompiledGraph> fp = compile_any_batch(device, observed);
  const Graph full = with_observed_outputs(apply_quantization(graph, q), outputs);
  std::unique_ptr<CompiledGraph> qrun = compile_any_batch(device, full);

  std::vector<OutputComparison> introduced(chosen.size()), accumulated(chosen.size());
  const std::string input = graph.inputs[0].name;
  const std::int64_t total = data.size();
  const std::size_t groups = (chosen.size() + group - 1) / group;
  for (std::size_t g0 = 0; g0 < chosen.size(); g0 += group) {
    const std::size_t g1 = std::min(chosen.size(), g0 + group);
    std::vector<Graph> alone;
    alone.reserve(g1 - g0);
    for (std::size_t i = g0; i < g1; ++i)
      alone.push_back(with_observed_outputs(apply_quantization(graph, only(q, *chosen[i])),
                                            {chosen[i]->node->outputs[0]}));
    std::vector<std::unique_ptr<CompiledGraph>> alone_runs;
    for (const Graph& g : alone) alone_runs.push_back(compile_any_batch(device, g));
    for (std::int64_t first = 0; first < total; first += step) {
      job.check();
      job.report((double(g0 / group) + double(first) / double(total)) / double(groups),
                 "layers " + std::to_string(g0 + 1) + "-" + std::to_string(g1) + " of " +
                     std::to_string(chosen.size()) + ", " + std::to_string(first) + "/" +
                     std::to_string(total) + " samples");
      Batch b = data.read(first, std::min(step, total - first));
      const TensorMap ref = fp->run({{input, b.inputs}});
      // A cancel is checked before every whole-batch run, not once per batch of runs.
      if (g0 == 0) {
        job.check();
        const TensorMap all = qrun->run({{input, b.inputs}});
        for (std::size_t i = 0; i < chosen.size(); ++i) {
          const std::string& out = chosen[i]->node->outputs[0];
          accumulated[i].add(ref.at(out), all.at(out), false);
        }
      }
      for (std::size_t i = g0; i < g1; ++i) {
        job.check();
        const std::string& out = chosen[i]->node->outputs[0];
        const TensorMap one = alone_runs[i - g0]->run({{input, b.inputs}});
        introduced[i].add(ref.at(out), one.at(out), false);
      }
    }
    if (g0 == 0) qrun.reset();
  }
  std::vector<LayerError> result;
  for (std::size_t i = 0; i < chosen.size(); ++i)
    result.push_back({chosen[i]->node->name, chosen[i]->node->op_type, introduced[i].sqnr_db(),
                      accumulated[i].sqnr_db()});
  job.report(1.0, "done");
  return result;
}

}  // namespace qs
