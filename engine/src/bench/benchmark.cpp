#include <chrono>
#include <map>
#include <random>

#include "quantscope/bench.h"
#include "quantscope/memory.h"

namespace qs {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

TensorMap random_inputs(const Graph& graph, std::int64_t batch, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  TensorMap inputs;
  for (const ValueInfo& in : graph.inputs) {
    if (in.dtype != DType::f32)
      throw Error("input '" + in.name + "' is " + dtype_name(in.dtype) +
                  "; bench feeds float32 only");
    Shape shape = in.shape;
    for (std::size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] >= 0) continue;
      if (d != 0)
        throw Error("input '" + in.name + "' has a dynamic dimension " + std::to_string(d) +
                    "; only the first (batch) dimension may be dynamic");
      shape[d] = batch;
    }
    Tensor t(DType::f32, shape);
    for (float& v : std::span(t.data<float>(), static_cast<std::size_t>(t.numel())))
      v = normal(rng);
    inputs[in.name] = t;
  }
  return inputs;
}

}  // namespace

BenchResult benchmark(const Graph& graph, Device& device, const BenchOptions& options,
                      const JobControl& job) {
  if (options.batch < 1 || options.runs < 1 || options.warmup < 0)
    throw Error("batch and runs must be at least 1, warmup at least 0");
  BenchResult result;
  result.device = device.name();
  // A model with a fixed batch is measured at its own batch.
  const std::int64_t batch = fixed_batch(graph) > 0 ? fixed_batch(graph) : options.batch;
  result.batch = batch;
  result.threads = device.set_threads(options.threads);
  result.environment = device.environment();
  result.environment["cpu_model"] = cpu_model_name();
  check_memory("the benchmark", estimate_run_bytes(graph, batch));
  const TensorMap inputs = random_inputs(graph, batch, options.seed);

  auto start = Clock::now();
  std::unique_ptr<CompiledGraph> compiled = device.compile(graph);
  compiled->run(inputs);
  result.cold_ms = ms_since(start);
  job.report(0.0, "warming up");
  for (int i = 0; i < options.warmup; ++i) {
    job.check();
    compiled->run(inputs);
  }

  std::vector<double> samples, device_samples;
  const auto began = Clock::now();
  while (static_cast<int>(samples.size()) < options.runs ||
         std::chrono::duration<double>(Clock::now() - began).count() < options.min_seconds) {
    job.check();
    const auto t0 = Clock::now();
    compiled->run(inputs);
    samples.push_back(ms_since(t0));
    if (const double d = compiled->last_device_ms(); d >= 0) device_samples.push_back(d);
    const double elapsed = std::chrono::duration<double>(Clock::now() - began).count();
    job.report(
        std::min(1.0, std::max(double(samples.size()) / options.runs,
                               options.min_seconds > 0 ? elapsed / options.min_seconds : 1.0)),
        std::to_string(samples.size()) + " runs");
  }
  result.end_to_end = latency_stats(samples);
  if (!device_samples.empty()) result.device_time = latency_stats(device_samples);
  result.unstable = result.end_to_end.cv > kUnstableCv;
  result.throughput_per_s =
      result.end_to_end.median_ms > 0 ? 1000.0 * double(batch) / result.end_to_end.median_ms : 0;

  if (options.per_layer) {
    // Kept apart from the end-to-end numbers: profiling adds a clock read per node.
    compiled->set_profiling(true);
    LayerTimes times;
    for (int i = 0; i < std::max(options.runs, 5); ++i) {
      job.check();
      compiled->run(inputs);
      times.add(compiled->last_timings());
    }
    compiled->set_profiling(false);
    result.layers = times.medians();
  }
  job.report(1.0, "done");
  return result;
}

}  // namespace qs
