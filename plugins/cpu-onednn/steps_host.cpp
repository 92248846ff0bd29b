// Data movement oneDNN has no primitive for, done on the host between primitives: Gather by
// indices known only at run time (a decoder's token embedding) and Expand (grouped-query
// attention's shared KV heads, masks broadcast over the batch). Both copy whole contiguous rows.
#include <cstring>

#include "plan.h"

namespace qs::onednn {

// data [outer, n, inner] (n along `axis`), indices of any shape -> [outer, indices..., inner].
void make_gather_rows(Plan& p, const Group& g, Step& step) {
  const Node& n = *g.nodes[0];
  const int data = p.plain(p.slot(n.inputs[0]), step);
  const int indices = p.slot(n.inputs[1]);
  const Shape x = p.slots[data].shape;
  std::int64_t axis = n.attr_int("axis", 0);
  normalize_axis(axis, static_cast<int>(x.size()));
  std::int64_t outer = 1, inner = 1;
  for (std::int64_t d = 0; d < static_cast<std::int64_t>(x.size()); ++d)
    if (d < axis)
      outer *= x[d];
    else if (d > axis)
      inner *= x[d];
  const std::int64_t rows = x[axis];
  p.output(g.output, plain_md(p.shape(g.output)));
  const int out = p.slot(g.output);
  step.host_slots = {data, indices, out};
  step.host = [&p, data, indices, out, outer, inner, rows, name = n.name] {
    const Tensor& ids = p.slots[indices].tensor;
    const std::vector<std::int64_t> at = ids.to_i64();
    const auto* src = static_cast<const float*>(p.slots[data].tensor.raw());
    auto* dst = static_cast<float*>(p.slots[out].tensor.raw());
    const std::size_t bytes = static_cast<std::size_t>(inner) * sizeof(float);
    for (std::int64_t o = 0; o < outer; ++o)
      for (std::int64_t i : at) {
        const std::int64_t row = i < 0 ? i + rows : i;
        if (row < 0 || row >= rows)
          throw Error("node '" + name + "' (Gather): index " + std::to_string(i) + " is outside [" +
                      std::to_string(-rows) + ", " + std::to_string(rows) + ")");
        std::memcpy(dst, src + (o * rows + row) * inner, bytes);
        dst += inner;
      }
  };
}

// The input, padded with leading 1s to the output's rank, repeated along its size-1 dimensions:
// each run of trailing dimensions the two share is one memcpy.
void make_expand(Plan& p, const Group& g, Step& step) {
  const Node& n = *g.nodes[0];
  const int in = p.plain(p.slot(n.inputs[0]), step);
  const Shape y = p.shape(g.output);
  Shape x = p.slots[in].shape;
  const int rank = static_cast<int>(y.size());
  x.insert(x.begin(), static_cast<std::size_t>(rank) - x.size(), 1);
  int shared = rank;  // dimensions from here on are the same in x and y
  std::int64_t run = 1;
  while (shared > 0 && x[shared - 1] == y[shared - 1]) run *= y[--shared];
  // Strides of x in elements, 0 where it is repeated.
  std::vector<std::int64_t> strides(static_cast<std::size_t>(shared));
  std::int64_t stride = run;
  for (int d = shared - 1; d >= 0; --d) {
    strides[d] = x[d] == 1 ? 0 : stride;
    stride *= x[d];
  }
  const Shape outer(y.begin(), y.begin() + shared);
  p.output(g.output, plain_md(y));
  const int out = p.slot(g.output);
  step.host_slots = {in, out};
  step.host = [&p, in, out, outer, strides, run] {
    const auto* src = static_cast<const float*>(p.slots[in].tensor.raw());
    auto* dst = static_cast<float*>(p.slots[out].tensor.raw());
    const std::size_t bytes = static_cast<std::size_t>(run) * sizeof(float);
    std::vector<std::int64_t> index(outer.size(), 0);
    const std::int64_t count = shape_numel(outer);
    std::int64_t offset = 0;
    for (std::int64_t k = 0; k < count; ++k) {
      std::memcpy(dst, src + offset, bytes);
      dst += run;
      // Next index of the outer dimensions, the source offset with it.
      for (int d = static_cast<int>(outer.size()) - 1; d >= 0; --d) {
        offset += strides[d];
        if (++index[d] < outer[d]) break;
        offset -= strides[d] * outer[d];
        index[d] = 0;
      }
    }
  };
}

}  // namespace qs::onednn
