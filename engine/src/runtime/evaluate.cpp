#include "quantscope/evaluate.h"

#include <chrono>
#include <cmath>

#include "quantscope/executor.h"

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

}  // namespace

EvalResult evaluate(const Graph& graph, Dataset& data, Device& device, const EvalOptions& options,
                    const JobControl& job) {
  if (graph.inputs.empty()) throw Error("the model has no inputs");
  if (options.batch <= 0) throw Error("batch size must be positive");
  const ValueInfo& input = graph.inputs[0];
  const Shape sample = data.sample_shape();
  if (input.has_shape) {
    Shape expected(input.shape.begin() + (input.shape.empty() ? 0 : 1), input.shape.end());
    bool fits = expected.size() == sample.size();
    for (std::size_t i = 0; fits && i < sample.size(); ++i)
      fits = expected[i] < 0 || expected[i] == sample[i];
    if (!fits)
      throw Error("the data's samples have shape " + shape_to_string(sample) + " but input '" +
                  input.name + "' expects " + shape_to_string(input.shape));
  }
  std::unique_ptr<CompiledGraph> executor = device.compile(graph);
  EvalResult result;
  result.device = device.name();
  result.has_labels = data.has_labels();
  const std::string output_name = graph.outputs[0].name;
  const std::int64_t total = data.size();
  std::int64_t top1 = 0, top5 = 0, scored = 0;
  double squared_error = 0;
  std::int64_t pixels = 0;
  double seconds = 0;
  for (std::int64_t first = 0; first < total; first += options.batch) {
    job.check();
    const std::int64_t count = std::min(options.batch, total - first);
    Batch batch = data.read(first, count);
    auto start = std::chrono::steady_clock::now();
    TensorMap outputs = executor->run({{input.name, batch.inputs}});
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const Tensor& out = outputs.at(output_name);
    if (out.dtype() != DType::f32) throw Error("output '" + output_name + "' is not float32");
    if (out.shape() == batch.inputs.shape()) {
      result.image_output = true;
      const float* po = out.data<float>();
      const float* pi = batch.inputs.data<float>();
      for (std::int64_t i = 0; i < out.numel(); ++i)
        squared_error += double(po[i] - pi[i]) * (po[i] - pi[i]);
      pixels += out.numel();
    } else if (result.has_labels) {
      if (out.rank() != 2 || out.dim(0) != count)
        throw Error("output '" + output_name + "' has shape " + shape_to_string(out.shape()) +
                    "; expected [batch, classes] for a classifier");
      const std::int64_t classes = out.dim(1);
      for (std::int64_t i = 0; i < count; ++i) {
        const std::int64_t label = batch.labels.at(i);
        if (label < 0 || label >= classes)
          throw Error("label " + std::to_string(label) + " of sample " + std::to_string(first + i) +
                      " is outside the model's " + std::to_string(classes) + " classes");
        const std::int64_t rank = label_rank(out.data<float>() + i * classes, classes, label);
        top1 += rank < 1;
        top5 += rank < 5;
        ++scored;
      }
    }
    result.samples += count;
    job.report(double(first + count) / double(total),
               std::to_string(first + count) + "/" + std::to_string(total) + " samples");
  }
  if (scored > 0) {
    result.top1 = 100.0 * double(top1) / double(scored);
    result.top5 = 100.0 * double(top5) / double(scored);
  }
  if (pixels > 0) {
    const double mse = squared_error / double(pixels);
    result.psnr_db = mse > 0 ? 10.0 * std::log10(1.0 / mse) : INFINITY;
  }
  result.seconds = seconds;
  return result;
}

}  // namespace qs
