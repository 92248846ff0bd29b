// Latency measurement: warm-up, repeated runs, statistics, per-layer profiles.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "quantscope/device.h"
#include "quantscope/graph.h"
#include "quantscope/job.h"

namespace qs {

struct BenchOptions {
  std::int64_t batch = 1;    // the first dimension of dynamic inputs
  int threads = 0;           // 0: the device's default
  int warmup = 10;           // runs discarded after the cold one
  int runs = 50;             // at least this many timed runs...
  double min_seconds = 1.0;  // ...and at least this long
  bool per_layer = false;    // also time each node (in separate, profiled runs)
  std::uint64_t seed = 1;    // for the random inputs
};

struct LatencyStats {
  double median_ms = 0, p90_ms = 0, p99_ms = 0, min_ms = 0, max_ms = 0, mean_ms = 0;
  double cv = 0;  // standard deviation / mean
  std::int64_t runs = 0;
};

struct LayerLatency {
  std::string name;
  std::string op;
  double median_ms = 0;
  std::string kernel;  // NodeTiming::kernel
};

struct BenchResult {
  std::string device;
  std::int64_t batch = 1;
  int threads = 1;
  double cold_ms = 0;  // the first run, apart: it includes one-time preparation
  LatencyStats end_to_end;
  // The same runs on the device's own clock (GPU timestamps: the kernels without the host's
  // submission and copies); runs == 0 when the device keeps no such clock.
  LatencyStats device_time;
  double throughput_per_s = 0;       // samples per second at the median
  bool unstable = false;             // cv above kUnstableCv: the machine was busy, rerun
  std::vector<LayerLatency> layers;  // with per_layer
  std::map<std::string, std::string> environment;  // device's (isa, versions) plus cpu_model
};

constexpr double kUnstableCv = 0.05;

// Statistics of a list of durations (ms). Percentiles by nearest rank.
LatencyStats latency_stats(std::vector<double> samples_ms);

// Per-node times of several profiled runs, gathered into each node's median in graph order.
class LayerTimes {
 public:
  void add(const std::vector<NodeTiming>& run);
  std::vector<LayerLatency> medians() const;

 private:
  std::vector<std::string> order_;
  std::map<std::string, std::pair<NodeTiming, std::vector<double>>> times_;
};

// Times the graph on the device with random inputs of the declared shapes (dynamic first
// dimension = batch). Throws Error when an input has a dynamic dimension other than the first,
// Cancelled when the job is cancelled.
BenchResult benchmark(const Graph& graph, Device& device, const BenchOptions& options,
                      const JobControl& job = {});

// "Intel(R) Xeon(R) ..." from /proc/cpuinfo, or "unknown".
std::string cpu_model_name();

}  // namespace qs
