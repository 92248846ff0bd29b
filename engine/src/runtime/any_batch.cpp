// Models whose batch dimension is a number (torch.onnx.export without dynamic_axes writes 1):
// run() is fed any number of samples, in chunks of the model's batch.
#include <algorithm>
#include <cstring>

#include "quantscope/device.h"

namespace qs {

namespace {

// Rows [first, first + count) of `t` along axis 0, padded to `rows` by repeating the last row
// (a padded row is computed and dropped: it never reaches a score or a statistic).
Tensor chunk_rows(const Tensor& t, std::int64_t first, std::int64_t count, std::int64_t rows) {
  Shape shape = t.shape();
  shape[0] = rows;
  Tensor out(t.dtype(), shape);
  const std::size_t row_bytes = t.size_bytes() / static_cast<std::size_t>(t.dim(0));
  const auto* src = static_cast<const std::byte*>(t.raw());
  auto* dst = static_cast<std::byte*>(out.raw());
  if (row_bytes == 0) return out;
  std::memcpy(dst, src + first * row_bytes, static_cast<std::size_t>(count) * row_bytes);
  for (std::int64_t r = count; r < rows; ++r)
    std::memcpy(dst + r * row_bytes, src + (first + count - 1) * row_bytes, row_bytes);
  return out;
}

class AnyBatchGraph : public CompiledGraph {
 public:
  AnyBatchGraph(const Graph& graph, std::unique_ptr<CompiledGraph> inner, std::int64_t batch)
      : graph_(graph), inner_(std::move(inner)), batch_(batch) {}

  TensorMap run(const TensorMap& inputs) override {
    const std::int64_t samples = sample_count(inputs);
    if (samples == batch_ || samples < 0) return inner_->run(inputs);
    std::map<std::string, std::vector<Tensor>> rows;  // each output's real rows, by chunk
    double device_ms = 0;
    for (std::int64_t first = 0; first < samples; first += batch_) {
      const std::int64_t count = std::min(batch_, samples - first);
      TensorMap chunk = inputs;
      for (const std::string& name : batched_inputs_)
        chunk[name] = chunk_rows(inputs.at(name), first, count, batch_);
      TensorMap out = inner_->run(chunk);
      if (inner_->last_device_ms() >= 0) device_ms += inner_->last_device_ms();
      for (auto& [name, t] : out) rows[name].push_back(real_rows(name, t, count));
    }
    device_ms_ = inner_->last_device_ms() >= 0 ? device_ms : -1.0;
    TensorMap result;
    for (auto& [name, parts] : rows) result[name] = concat_rows(parts);
    return result;
  }
  void set_profiling(bool on) override { inner_->set_profiling(on); }
  std::vector<NodeTiming> last_timings() const override { return inner_->last_timings(); }
  double last_device_ms() const override { return device_ms_; }

 private:
  // The samples given, from the inputs whose first dimension the model fixes to batch_; -1
  // when they disagree (the inner graph then reports the mismatch, naming the input).
  std::int64_t sample_count(const TensorMap& inputs) {
    batched_inputs_.clear();
    std::int64_t samples = -1;
    for (const ValueInfo& info : graph_.inputs) {
      if (!info.has_shape || info.shape.empty() || info.shape[0] != batch_) continue;
      auto it = inputs.find(info.name);
      if (it == inputs.end() || it->second.rank() != static_cast<int>(info.shape.size()) ||
          it->second.dim(0) < 1)
        return -1;
      if (samples >= 0 && it->second.dim(0) != samples) return -1;
      samples = it->second.dim(0);
      batched_inputs_.push_back(info.name);
    }
    return samples;
  }

  // The rows of output `t` that belong to the first `count` samples of a chunk: an output of
  // k * batch rows holds k rows per sample.
  Tensor real_rows(const std::string& name, const Tensor& t, std::int64_t count) const {
    if (t.rank() == 0 || t.dim(0) % batch_ != 0)
      throw Error("output '" + name + "' has shape " + shape_to_string(t.shape()) +
                  ", which does not split by sample: the model fixes its batch to " +
                  std::to_string(batch_) + "; give it exactly " + std::to_string(batch_) +
                  " samples at a time");
    if (count == batch_) return t;
    const std::int64_t per_sample = t.dim(0) / batch_;
    return chunk_rows(t, 0, count * per_sample, count * per_sample);
  }

  static Tensor concat_rows(const std::vector<Tensor>& parts) {
    if (parts.size() == 1) return parts[0];
    Shape shape = parts[0].shape();
    shape[0] = 0;
    for (const Tensor& p : parts) shape[0] += p.dim(0);
    Tensor out(parts[0].dtype(), shape);
    auto* dst = static_cast<std::byte*>(out.raw());
    for (const Tensor& p : parts) {
      if (p.shape().size() != shape.size() || p.dtype() != out.dtype())
        throw Error("an output changes shape between chunks of the fixed batch");
      std::memcpy(dst, p.raw(), p.size_bytes());
      dst += p.size_bytes();
    }
    return out;
  }

  const Graph& graph_;
  std::unique_ptr<CompiledGraph> inner_;
  std::int64_t batch_;
  std::vector<std::string> batched_inputs_;
  double device_ms_ = -1.0;
};

}  // namespace

std::int64_t fixed_batch(const Graph& graph) {
  if (graph.inputs.empty()) return 0;
  const ValueInfo& in = graph.inputs[0];
  if (!in.has_shape || in.shape.empty() || in.shape[0] < 1) return 0;
  return in.shape[0];
}

std::unique_ptr<CompiledGraph> compile_any_batch(Device& device, const Graph& graph) {
  std::unique_ptr<CompiledGraph> inner = device.compile(graph);
  const std::int64_t batch = fixed_batch(graph);
  if (batch < 1) return inner;
  return std::make_unique<AnyBatchGraph>(graph, std::move(inner), batch);
}

}  // namespace qs
