#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>

#include "quantscope/bench.h"

namespace qs {

LatencyStats latency_stats(std::vector<double> samples) {
  LatencyStats s;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  const std::size_t n = samples.size();
  auto rank = [&](double p) {
    std::size_t r = static_cast<std::size_t>(std::ceil(p * static_cast<double>(n)));
    return samples[std::min(n - 1, r == 0 ? 0 : r - 1)];
  };
  s.runs = static_cast<std::int64_t>(n);
  s.min_ms = samples.front();
  s.max_ms = samples.back();
  s.median_ms = n % 2 ? samples[n / 2] : 0.5 * (samples[n / 2 - 1] + samples[n / 2]);
  s.p90_ms = rank(0.90);
  s.p99_ms = rank(0.99);
  s.mean_ms = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(n);
  double var = 0;
  for (double x : samples) var += (x - s.mean_ms) * (x - s.mean_ms);
  var /= static_cast<double>(std::max<std::size_t>(n - 1, 1));
  s.cv = s.mean_ms > 0 ? std::sqrt(var) / s.mean_ms : 0;
  return s;
}

void LayerTimes::add(const std::vector<NodeTiming>& run) {
  for (const NodeTiming& t : run) {
    auto [it, inserted] = times_.try_emplace(t.name, t, std::vector<double>{});
    if (inserted) order_.push_back(t.name);
    it->second.second.push_back(t.ms);
  }
}

std::vector<LayerLatency> LayerTimes::medians() const {
  std::vector<LayerLatency> layers;
  for (const std::string& name : order_) {
    const auto& [t, times] = times_.at(name);
    layers.push_back({name, t.op, latency_stats(times).median_ms, t.kernel});
  }
  return layers;
}

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  return "unknown";
}

}  // namespace qs
