#include "quantscope/evaluate.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "quantscope/executor.h"
#include "quantscope/memory.h"
#include "runtime/output_compare.h"

namespace qs {

namespace {

// Position of the label among the logits, ordered as argmax/topk order them (a tie goes to
// the lower index, like torch.argmax).
std::int64_t label_rank(const float* logits, std::int64_t classes, std::int64_t label) {
  const float target = logits[label];
  std::int64_t rank = 0;
  for (std::int64_t j = 0; j < classes; ++j)
    if (logits[j] > target || (j < label && logits[j] == target)) ++rank;
  return rank;
}

void check_sample_shape(const Graph& graph, const Dataset& data) {
  if (graph.inputs.empty()) throw Error("the model has no inputs");
  const ValueInfo& input = graph.inputs[0];
  const Shape sample = data.sample_shape();
  if (!input.has_shape) return;
  Shape expected(input.shape.begin() + (input.shape.empty() ? 0 : 1), input.shape.end());
  bool fits = expected.size() == sample.size();
  for (std::size_t i = 0; fits && i < sample.size(); ++i)
    fits = expected[i] < 0 || expected[i] == sample[i];
  if (!fits)
    throw Error("the data's samples have shape " + shape_to_string(sample) + " but input '" +
                input.name + "' expects " + shape_to_string(input.shape));
}

// Accumulates one model's score over batches.
class Scorer {
 public:
  Scorer(const std::string& output, bool has_labels) : output_(output) {
    result_.has_labels = has_labels;
  }
  void add(const Tensor& out, const Batch& batch, std::int64_t first) {
    const std::int64_t count = batch.inputs.dim(0);
    hits_.clear();
    if (out.dtype() != DType::f32) throw Error("output '" + output_ + "' is not float32");
    if (out.shape() == batch.inputs.shape()) {
      result_.image_output = true;
      const float* po = out.data<float>();
      const float* pi = batch.inputs.data<float>();
      for (std::int64_t i = 0; i < out.numel(); ++i)
        squared_error_ += double(po[i] - pi[i]) * (po[i] - pi[i]);
      pixels_ += out.numel();
    } else if (result_.has_labels) {
      if (out.rank() != 2 || out.dim(0) != count)
        throw Error("output '" + output_ + "' has shape " + shape_to_string(out.shape()) +
                    "; expected [batch, classes] for a classifier");
      const std::int64_t classes = out.dim(1);
      for (std::int64_t i = 0; i < count; ++i) {
        const std::int64_t label = batch.labels.at(static_cast<std::size_t>(i));
        if (label < 0 || label >= classes)
          throw Error("label " + std::to_string(label) + " of sample " + std::to_string(first + i) +
                      " is outside the model's " + std::to_string(classes) + " classes");
        const std::int64_t rank = label_rank(out.data<float>() + i * classes, classes, label);
        top1_ += rank < 1;
        hits_.push_back(rank < 1);
        if (result_.class_samples.size() < static_cast<std::size_t>(classes)) {
          result_.class_samples.resize(static_cast<std::size_t>(classes));
          result_.class_correct.resize(static_cast<std::size_t>(classes));
        }
        ++result_.class_samples[static_cast<std::size_t>(label)];
        result_.class_correct[static_cast<std::size_t>(label)] += rank < 1;
        top5_ += rank < 5;
        ++scored_;
      }
    }
    result_.samples += count;
  }
  // Per sample of the last batch added: whether its top-1 is its label (classifiers with labels).
  const std::vector<bool>& hits() const { return hits_; }
  EvalResult finish(double seconds, const std::string& device) {
    if (scored_ > 0) {
      result_.top1 = 100.0 * double(top1_) / double(scored_);
      result_.top5 = 100.0 * double(top5_) / double(scored_);
    }
    if (pixels_ > 0) {
      const double mse = squared_error_ / double(pixels_);
      result_.psnr_db = mse > 0 ? 10.0 * std::log10(1.0 / mse) : INFINITY;
    }
    result_.seconds = seconds;
    result_.device = device;
    return result_;
  }

 private:
  std::string output_;
  EvalResult result_;
  std::int64_t top1_ = 0, top5_ = 0, scored_ = 0, pixels_ = 0;
  double squared_error_ = 0;
  std::vector<bool> hits_;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

double PairEvalResult::mcnemar_z() const {
  const std::int64_t discordant = only_reference + only_candidate;
  return discordant > 0 ? double(only_candidate - only_reference) / std::sqrt(double(discordant))
                        : 0.0;
}

EvalResult evaluate(const Graph& graph, Dataset& data, Device& device, const EvalOptions& options,
                    const JobControl& job) {
  if (options.batch <= 0) throw Error("batch size must be positive");
  check_sample_shape(graph, data);
  check_memory(
      "evaluating the model",
      estimate_run_bytes(graph, std::min(options.batch, std::max<std::int64_t>(data.size(), 1))));
  std::unique_ptr<CompiledGraph> executor = compile_any_batch(device, graph);
  const std::string input = graph.inputs[0].name, output = graph.outputs[0].name;
  Scorer scorer(output, data.has_labels());
  const std::int64_t total = data.size();
  double seconds = 0;
  for (std::int64_t first = 0; first < total; first += options.batch) {
    job.check();
    const std::int64_t count = std::min(options.batch, total - first);
    Batch batch = data.read(first, count);
    auto start = std::chrono::steady_clock::now();
    TensorMap outputs = executor->run({{input, batch.inputs}});
    seconds += seconds_since(start);
    scorer.add(outputs.at(output), batch, first);
    job.report(double(first + count) / double(total),
               std::to_string(first + count) + "/" + std::to_string(total) + " samples");
  }
  return scorer.finish(seconds, device.name());
}

PairEvalResult evaluate_pair(const Graph& reference, const Graph& candidate, Dataset& data,
                             Device& reference_device, Device& candidate_device,
                             const EvalOptions& options, const JobControl& job) {
  if (options.batch <= 0) throw Error("batch size must be positive");
  check_sample_shape(reference, data);
  check_sample_shape(candidate, data);
  const std::int64_t largest_batch =
      std::min(options.batch, std::max<std::int64_t>(data.size(), 1));
  check_memory(
      "evaluating the float and the quantized model",
      estimate_run_bytes(reference, largest_batch) + estimate_run_bytes(candidate, largest_batch));
  std::unique_ptr<CompiledGraph> ref_exec = compile_any_batch(reference_device, reference);
  std::unique_ptr<CompiledGraph> cand_exec = compile_any_batch(candidate_device, candidate);
  const std::string input = reference.inputs[0].name, output = reference.outputs[0].name;
  const std::string cand_input = candidate.inputs[0].name, cand_output = candidate.outputs[0].name;
  Scorer ref_scorer(output, data.has_labels()), cand_scorer(cand_output, data.has_labels());
  PairEvalResult r;
  OutputComparison comparison;
  double ref_seconds = 0, cand_seconds = 0;
  const std::int64_t total = data.size();
  for (std::int64_t first = 0; first < total; first += options.batch) {
    job.check();
    const std::int64_t count = std::min(options.batch, total - first);
    Batch batch = data.read(first, count);
    auto start = std::chrono::steady_clock::now();
    TensorMap ref_out = ref_exec->run({{input, batch.inputs}});
    ref_seconds += seconds_since(start);
    start = std::chrono::steady_clock::now();
    TensorMap cand_out = cand_exec->run({{cand_input, batch.inputs}});
    cand_seconds += seconds_since(start);
    const Tensor& a = ref_out.at(output);
    const Tensor& b = cand_out.at(cand_output);
    ref_scorer.add(a, batch, first);
    cand_scorer.add(b, batch, first);
    if (ref_scorer.hits().size() == cand_scorer.hits().size())
      for (std::size_t i = 0; i < ref_scorer.hits().size(); ++i) {
        r.only_reference += ref_scorer.hits()[i] && !cand_scorer.hits()[i];
        r.only_candidate += cand_scorer.hits()[i] && !ref_scorer.hits()[i];
      }
    comparison.add(a, b, is_classifier_output(a.shape(), count, batch.inputs.shape()));
    job.report(double(first + count) / double(total),
               std::to_string(first + count) + "/" + std::to_string(total) + " samples");
  }
  r.reference = ref_scorer.finish(ref_seconds, reference_device.name());
  r.candidate = cand_scorer.finish(cand_seconds, candidate_device.name());
  r.classifier = comparison.classifier();
  r.agreement = comparison.agreement();
  r.kl = comparison.kl();
  r.sqnr_db = comparison.sqnr_db();
  return r;
}

}  // namespace qs
