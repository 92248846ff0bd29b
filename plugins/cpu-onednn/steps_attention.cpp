// Attention (fuse_attention's node): per key/value head, the scores of its group of query heads
// against the past keys and the new ones (two matmuls into one buffer, the keys read transposed
// where they lie: the cache is neither copied nor repeated per query head), the mask added,
// softmax over each row, and the two products with the values summed into Y.
#include <cmath>
#include <cstring>

#include "plan.h"

namespace qs::onednn {

namespace {

using dnnl::memory;

// Row-major dims with explicit strides.
memory::desc strided_md(const dims& d, const dims& strides) {
  return memory::desc(d, memory::data_type::f32, strides);
}

// present = [past; now] along the rows, per head: the copies a requested present costs.
void concatenate_rows(const float* past, const float* now, float* out, std::int64_t heads,
                      std::int64_t p, std::int64_t s, std::int64_t d) {
  for (std::int64_t h = 0; h < heads; ++h) {
    if (p > 0) std::memcpy(out, past + h * p * d, static_cast<std::size_t>(p * d) * sizeof(float));
    std::memcpy(out + p * d, now + h * s * d, static_cast<std::size_t>(s * d) * sizeof(float));
    out += (p + s) * d;
  }
}

}  // namespace

void make_attention(Plan& p, const Group& g, Step& step) {
  const Node& n = *g.nodes[0];
  const Shape q = p.shape(n.inputs[0]), k = p.shape(n.inputs[1]), v = p.shape(n.inputs[2]);
  const bool has_past = n.has_input(4);
  const std::int64_t past = has_past ? p.shape(n.inputs[4])[2] : 0;
  const std::int64_t batch = q[0], q_heads = q[1], s = q[2], d = q[3];
  const std::int64_t kv_heads = k[1], fresh = k[2], dv = v[3], total = past + fresh;
  const std::int64_t group = q_heads / kv_heads, bh = batch * kv_heads, rows = group * s;
  const float scale =
      n.has_attr("scale") ? n.attr_float("scale", 1.0f) : 1.0f / std::sqrt(static_cast<float>(d));
  // Scores [bh, group * s, total]: the past's columns first, then the new keys'.
  const memory scores = p.allocate_memory(plain_md({bh, rows, total}));
  auto* base = static_cast<float*>(scores.get_data_handle());
  auto columns = [&](std::int64_t from, std::int64_t count) {
    return memory(strided_md({bh, rows, count}, {rows * total, total, 1}), p.engine, base + from);
  };
  struct Segment {
    int keys, values;  // slots
    std::int64_t from, count;
  };
  std::vector<Segment> segments;
  if (past > 0) segments.push_back({p.slot(n.inputs[4]), p.slot(n.inputs[5]), 0, past});
  segments.push_back({p.slot(n.inputs[1]), p.slot(n.inputs[2]), past, fresh});
  const int sq = p.slot(n.inputs[0]);

  dnnl::primitive_attr scaled;
  scaled.set_output_scales(0, {scale});
  for (const Segment& seg : segments) {
    // K^T [bh, d, count] read from K [bh, count, d] as it lies.
    const memory::desc kt = strided_md({bh, d, seg.count}, {seg.count * d, 1, d});
    const memory::desc qv = plain_md({bh, rows, d});
    const memory dst = columns(seg.from, seg.count);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(qv, kt, dst.get_desc()), scaled, p.engine);
    Exec e;
    e.args[DNNL_ARG_SRC] = p.view(sq, qv, step);
    e.args[DNNL_ARG_WEIGHTS] = p.view(seg.keys, kt, step);
    e.args[DNNL_ARG_DST] = dst;
    e.prim = dnnl::matmul(pd);
    step.execs.push_back(std::move(e));
  }
  if (n.has_input(3)) {
    // The mask [.., heads or 1, s or 1, total or 1] against the scores as [b, kv, group, s, t].
    Shape m = p.shape(n.inputs[3]);
    m.insert(m.begin(), 4 - m.size(), 1);
    const dims mask_dims =
        m[1] == 1 ? dims{m[0], 1, 1, m[2], m[3]} : dims{m[0], kv_heads, group, m[2], m[3]};
    const memory::desc x = plain_md({batch, kv_heads, group, s, total});
    const memory::desc mask_md = plain_md(Shape(mask_dims.begin(), mask_dims.end()));
    dnnl::binary::primitive_desc pd(dnnl::binary::desc(dnnl::algorithm::binary_add, x, mask_md, x),
                                    p.engine);
    Exec e;
    const memory whole(x, p.engine, base);
    e.args[DNNL_ARG_SRC_0] = whole;
    e.args[DNNL_ARG_SRC_1] = p.view(p.slot(n.inputs[3]), mask_md, step);
    e.args[DNNL_ARG_DST] = whole;
    e.prim = dnnl::binary(pd);
    step.execs.push_back(std::move(e));
  }
  {
    const memory::desc md = plain_md({bh * rows, total});
    dnnl::softmax_v2_forward::primitive_desc pd(
        dnnl::softmax_v2_forward::desc(dnnl::prop_kind::forward_inference,
                                       dnnl::algorithm::softmax_accurate, md, md, 1),
        p.engine);
    Exec e;
    const memory whole(md, p.engine, base);
    e.args[DNNL_ARG_SRC] = whole;
    e.args[DNNL_ARG_DST] = whole;
    e.prim = dnnl::softmax_v2_forward(pd);
    step.execs.push_back(std::move(e));
  }
  p.output(n.outputs[0], plain_md({batch, q_heads, s, dv}));
  const int sy = p.slot(n.outputs[0]);
  const memory::desc yv = plain_md({bh, rows, dv});
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const Segment& seg = segments[i];
    const memory probs = columns(seg.from, seg.count);
    const memory::desc values = plain_md({bh, seg.count, dv});
    dnnl::post_ops sum;
    if (i > 0) sum.append_sum(1.0f);  // the later segments add to the first's product
    dnnl::primitive_attr attr;
    attr.set_post_ops(sum);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(probs.get_desc(), values, yv), attr,
                                    p.engine);
    Exec e;
    e.args[DNNL_ARG_SRC] = probs;
    e.args[DNNL_ARG_WEIGHTS] = p.view(seg.values, values, step);
    e.args[DNNL_ARG_DST] = p.view(sy, yv, step);
    e.prim = dnnl::matmul(pd);
    step.execs.push_back(std::move(e));
  }

  // The present keys and values, where the graph reads them.
  const bool present = n.outputs.size() > 2 && !n.outputs[1].empty() && !n.outputs[2].empty();
  if (!present) return;
  int kv[2][3];  // {past, new, present} for keys and values
  for (int which = 0; which < 2; ++which) {
    const Shape shape = {batch, kv_heads, total, which == 0 ? d : dv};
    p.output(n.outputs[1 + which], plain_md(shape));
    kv[which][0] = has_past ? p.plain(p.slot(n.inputs[4 + which]), step) : -1;
    kv[which][1] = p.plain(p.slot(n.inputs[1 + which]), step);
    kv[which][2] = p.slot(n.outputs[1 + which]);
    for (int t = 0; t < 3; ++t)
      if (kv[which][t] >= 0) step.host_slots.push_back(kv[which][t]);
  }
  step.host = [&p, kv, bh, past, fresh, d, dv] {
    for (int which = 0; which < 2; ++which) {
      const float* before = kv[which][0] >= 0
                                ? static_cast<const float*>(p.slots[kv[which][0]].tensor.raw())
                                : nullptr;
      concatenate_rows(before, static_cast<const float*>(p.slots[kv[which][1]].tensor.raw()),
                       static_cast<float*>(p.slots[kv[which][2]].tensor.raw()), bh, past, fresh,
                       which == 0 ? d : dv);
    }
  };
}

}  // namespace qs::onednn
