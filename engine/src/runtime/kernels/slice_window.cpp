// The arithmetic of Slice, and the strided box a Slice or a one-index Gather reads (used by
// devices that run such nodes as views: reference.h).
#include <algorithm>
#include <limits>

#include "quantscope/reference.h"
#include "runtime/kernels/slice_window.h"

namespace qs {

SliceAxis resolve_slice_axis(std::int64_t start, std::int64_t end, std::int64_t step,
                             std::int64_t dim) {
  SliceAxis a;
  a.step = step;
  if (dim == 0) return a;       // nothing to take (and the clamp ranges below would be empty)
  if (start < 0) start += dim;  // cannot overflow: start is negative and dim >= 0
  if (end < 0) end += dim;
  std::int64_t span;  // distance covered in the direction of the step
  if (step > 0) {
    start = std::clamp<std::int64_t>(start, 0, dim);
    end = std::clamp<std::int64_t>(end, 0, dim);
    span = end - start;
  } else {
    start = std::clamp<std::int64_t>(start, 0, dim - 1);
    end = std::clamp<std::int64_t>(end, -1, dim - 1);
    span = start - end;
  }
  const std::int64_t mag = step == std::numeric_limits<std::int64_t>::min()
                               ? std::numeric_limits<std::int64_t>::max()
                               : (step > 0 ? step : -step);
  a.start = start;
  a.count = span <= 0 ? 0 : 1 + (span - 1) / mag;
  return a;
}

namespace {

// The int64 values of a known input, or false.
bool known_ints(const std::vector<const Tensor*>& inputs, std::size_t i,
                std::vector<std::int64_t>& out) {
  if (i >= inputs.size() || !inputs[i] || !inputs[i]->has_data()) return false;
  const DType t = inputs[i]->dtype();
  if (t != DType::i64 && t != DType::i32) return false;
  out = inputs[i]->to_i64();
  return true;
}

bool slice_box(const Node& node, std::int64_t opset, const std::vector<const Tensor*>& inputs,
               const Shape& x, StridedWindow& w) {
  std::vector<std::int64_t> starts, ends, axes, steps;
  if (opset < 10) {
    starts = node.attr_ints("starts");
    ends = node.attr_ints("ends");
    axes = node.attr_ints("axes");
  } else {
    if (!known_ints(inputs, 1, starts) || !known_ints(inputs, 2, ends)) return false;
    if (node.has_input(3) && !known_ints(inputs, 3, axes)) return false;
    if (node.has_input(4) && !known_ints(inputs, 4, steps)) return false;
  }
  const std::size_t n = starts.size();
  if (axes.empty())
    for (std::size_t i = 0; i < n; ++i) axes.push_back(static_cast<std::int64_t>(i));
  if (steps.empty()) steps.assign(n, 1);
  if (ends.size() != n || axes.size() != n || steps.size() != n) return false;
  const auto rank = static_cast<std::int64_t>(x.size());
  std::vector<bool> seen(x.size(), false);
  for (std::size_t i = 0; i < n; ++i) {
    std::int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];
    if (a < 0 || a >= rank || seen[a] || steps[i] <= 0)
      return false;  // a view has no negative step
    seen[a] = true;
    const SliceAxis s = resolve_slice_axis(starts[i], ends[i], steps[i], x[a]);
    w.start[a] = s.start;
    w.count[a] = s.count;
    w.step[a] = s.count > 1 ? s.step : 1;  // one element: the step is never taken
  }
  return true;
}

}  // namespace

bool strided_window(const Node& node, std::int64_t opset, const std::vector<const Tensor*>& inputs,
                    StridedWindow& w) {
  if (inputs.empty() || !inputs[0]) return false;
  const Shape& x = inputs[0]->shape();
  w.start.assign(x.size(), 0);
  w.step.assign(x.size(), 1);
  w.count = x;
  if (node.op_type == "Slice") return slice_box(node, opset, inputs, x, w);
  if (node.op_type != "Gather") return false;
  std::vector<std::int64_t> index;
  if (!known_ints(inputs, 1, index) || index.size() != 1) return false;
  const auto rank = static_cast<std::int64_t>(x.size());
  std::int64_t axis = node.attr_int("axis", 0);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return false;
  const std::int64_t i = index[0] < 0 ? index[0] + x[axis] : index[0];
  if (i < 0 || i >= x[axis]) return false;
  w.start[axis] = i;
  w.count[axis] = 1;
  return true;
}

}  // namespace qs
