// Memory a job needs, checked against the machine before the job starts, so that a job too large
// for it ends in a clear message instead of an out-of-memory kill.
#pragma once

#include <cstdint>
#include <string>

#include "quantscope/graph.h"

namespace qs {

// Bytes to run `graph` on `batch` samples: its constants plus every tensor it computes at that
// batch (an upper bound: executors free a tensor after its last reader), times `copies` (the
// float and the quantized model side by side: 2). A model that fixes its batch is run that
// many samples at a time, whatever `batch` (0 still counts the constants alone).
std::int64_t estimate_run_bytes(const Graph& graph, std::int64_t batch, int copies = 1);

// The largest batch, at most `wanted` and at least 1, at which the tensors `graph` computes (its
// value_info at that batch) take at most `budget` bytes. Jobs whose results do not depend on how
// the samples are split (calibration statistics, sums over samples) step through their data in
// such batches: a run that keeps every intermediate tensor of a 224x224 model holds tens of MB
// per sample, and beyond a few hundred MB a larger batch buys no speed, only page faults.
inline constexpr std::int64_t kBatchBudgetBytes = std::int64_t{512} << 20;
std::int64_t batch_within(const Graph& graph, std::int64_t wanted,
                          std::int64_t budget = kBatchBudgetBytes);

// What jobs may use now: MemAvailable from /proc/meminfo, or QUANTSCOPE_MEMORY_LIMIT (bytes, or
// with a K/M/G suffix) when that is set and smaller. -1 when neither is known.
std::int64_t available_memory_bytes();

// Throws Error when `need` exceeds `available` (>= 0), naming the job, both amounts and what to
// change ("use a smaller --batch or --limit").
void check_memory(const std::string& job, std::int64_t need,
                  std::int64_t available = available_memory_bytes());

// Asks the C library to keep freed memory (up to 256 MiB) for reuse instead of returning it to the
// kernel. Kernels allocate and free tensors of a few MiB per node; glibc unmaps or trims each
// one and the next run faults the pages in again, which was a third of the time of a gradient
// pass on LeNet. Programs call it once at start; a no-op where the C library has no such knob.
void keep_freed_memory();

}  // namespace qs
