#include "quantscope/memory.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

#include "quantscope/device.h"
#include "quantscope/error.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace qs {

void keep_freed_memory() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}

namespace {

std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  return a > std::numeric_limits<std::int64_t>::max() - b ? std::numeric_limits<std::int64_t>::max()
                                                          : a + b;
}

std::int64_t saturating_mul(std::int64_t a, std::int64_t b) {
  if (a == 0 || b == 0) return 0;
  return a > std::numeric_limits<std::int64_t>::max() / b ? std::numeric_limits<std::int64_t>::max()
                                                          : a * b;
}

std::string gib(std::int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", double(bytes) / double(std::int64_t{1} << 30));
  return buf;
}

// "512M", "2G", "1000000": bytes, or -1 when it is not such a number.
std::int64_t parse_size(const char* text) {
  char* end = nullptr;
  const double v = std::strtod(text, &end);
  if (end == text || !(v > 0)) return -1;
  double scale = 1;
  if (*end == 'K' || *end == 'k')
    scale = 1024.0, ++end;
  else if (*end == 'M' || *end == 'm')
    scale = 1024.0 * 1024, ++end;
  else if (*end == 'G' || *end == 'g')
    scale = 1024.0 * 1024 * 1024, ++end;
  if (*end != '\0') return -1;
  return static_cast<std::int64_t>(v * scale);
}

// The computed tensors of one run; value_info holds every tensor's shape at batch 1.
std::int64_t per_sample_bytes(const Graph& graph) {
  std::int64_t bytes = 0;
  for (const auto& [name, t] : graph.value_info)
    if (!graph.initializers.count(name))
      bytes = saturating_add(bytes, static_cast<std::int64_t>(t.size_bytes()));
  return bytes;
}

}  // namespace

std::int64_t estimate_run_bytes(const Graph& graph, std::int64_t batch, int copies) {
  std::int64_t constants = 0;
  for (const auto& [name, t] : graph.initializers)
    constants = saturating_add(constants, static_cast<std::int64_t>(t.size_bytes()));
  const std::int64_t per_sample = per_sample_bytes(graph);
  // A model that fixes its batch runs that many samples at a time (compile_any_batch), whatever
  // the job's batch; its value_info is already at that batch.
  if (batch > 0 && fixed_batch(graph) >= 1) batch = 1;
  const std::int64_t one = saturating_add(constants, saturating_mul(per_sample, batch));
  return saturating_mul(one, copies);
}

std::int64_t batch_within(const Graph& graph, std::int64_t wanted, std::int64_t budget) {
  if (wanted <= 1) return 1;
  const std::int64_t per_sample = per_sample_bytes(graph);
  if (per_sample <= 0) return wanted;
  return std::clamp<std::int64_t>(budget / per_sample, 1, wanted);
}

std::int64_t available_memory_bytes() {
  std::int64_t available = -1;
  std::ifstream in("/proc/meminfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    std::istringstream s(line.substr(13));
    std::int64_t kib = 0;
    if (s >> kib) available = kib * 1024;
    break;
  }
  if (const char* limit = std::getenv("QUANTSCOPE_MEMORY_LIMIT")) {
    const std::int64_t cap = parse_size(limit);
    if (cap > 0 && (available < 0 || cap < available)) available = cap;
  }
  return available;
}

void check_memory(const std::string& job, std::int64_t need, std::int64_t available) {
  if (available < 0 || need <= available) return;
  throw Error(job + " needs about " + gib(need) + " of memory, and " + gib(available) +
              " is available; use a smaller --batch or --limit, or close other programs");
}

}  // namespace qs
