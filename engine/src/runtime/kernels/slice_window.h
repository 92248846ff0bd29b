// Slice's per-axis arithmetic, shared by its kernel and by strided_window (reference.h).
#pragma once

#include <cstdint>

namespace qs {

// One axis of a slice: the first input index, the step and the number of elements taken.
struct SliceAxis {
  std::int64_t start = 0;
  std::int64_t step = 1;
  std::int64_t count = 0;
};

// Clamps start/end as the ONNX Slice spec does (negative values count from the back, then
// [0, dim] for positive steps, [-1, dim-1] for ends and [0, dim-1] for starts of negative steps)
// and counts the elements. Safe for INT64_MIN/INT64_MAX bounds and steps.
SliceAxis resolve_slice_axis(std::int64_t start, std::int64_t end, std::int64_t step,
                             std::int64_t dim);

}  // namespace qs
