// Steps that only move elements: Concat on oneDNN's concat primitive; DepthToSpace,
// SpaceToDepth, Slice, one-index Gather, Split and constant Pad as reorders between strided views.
#include <algorithm>
#include <cstring>
#include <optional>

#include "plan.h"
#include "quantscope/reference.h"

namespace qs::onednn {

using dnnl::memory;

namespace {

std::int64_t concat_axis(const Graph& graph, const Node& node, int rank) {
  std::int64_t axis = node.attr_int("axis", graph.opset < 4 ? 1 : 0);
  normalize_axis(axis, rank);
  return axis;
}

}  // namespace

std::string concat_unsupported(const Graph& graph, const Node& node, const std::vector<Shape>& in) {
  const int rank = static_cast<int>(in[0].size());
  std::int64_t axis = node.attr_int("axis", graph.opset < 4 ? 1 : 0);
  if (rank == 0 || !normalize_axis(axis, rank)) return "axis";
  for (const Shape& s : in) {
    if (static_cast<int>(s.size()) != rank) return "ranks differ";
    // oneDNN has no zero-sized memory; the reference skips empty inputs.
    if (shape_numel(s) == 0) return "empty input";
    for (int d = 0; d < rank; ++d)
      if (d != axis && s[d] != in[0][d]) return "shapes differ";
  }
  return "";
}

namespace {

// The order of a layout's outer dimensions, outermost first (by stride; ties by index).
std::vector<int> outer_order(const dnnl_memory_desc_t& d) {
  std::vector<int> order(static_cast<std::size_t>(d.ndims));
  for (int i = 0; i < d.ndims; ++i) order[static_cast<std::size_t>(i)] = i;
  const auto& strides = d.format_desc.blocking.strides;
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return strides[a] > strides[b]; });
  return order;
}

// Whether every input is in the same layout as the first (dims aside): the same inner blocks
// and, without them, the same order of dimensions (row-major and channels-last differ).
bool same_layouts(const std::vector<memory>& srcs) {
  const dnnl_memory_desc_t& a = srcs[0].get_desc().data;
  for (const memory& m : srcs) {
    const dnnl_memory_desc_t& b = m.get_desc().data;
    if (b.format_kind != a.format_kind) return false;
    const dnnl_blocking_desc_t &x = a.format_desc.blocking, &y = b.format_desc.blocking;
    if (x.inner_nblks != y.inner_nblks) return false;
    for (int i = 0; i < x.inner_nblks; ++i)
      if (x.inner_blks[i] != y.inner_blks[i] || x.inner_idxs[i] != y.inner_idxs[i]) return false;
    if (x.inner_nblks == 0 && outer_order(a) != outer_order(b)) return false;
  }
  return true;
}

// Dense strides for `d` with its dimensions in `order` (outermost first).
memory::desc permuted_md(const memory::dims& d, const std::vector<int>& order) {
  memory::dims strides(d.size());
  std::int64_t stride = 1;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    strides[static_cast<std::size_t>(*it)] = stride;
    stride *= d[static_cast<std::size_t>(*it)];
  }
  return memory::desc(d, memory::data_type::f32, strides);
}

// oneDNN's concat of these inputs into `dst` (its choice when null), unless it would run its
// reference kernel.
std::optional<dnnl::concat::primitive_desc> concat_pd(const std::vector<memory::desc>& mds,
                                                      int axis, const memory::desc* dst,
                                                      const dnnl::engine& engine) {
  try {
    dnnl::concat::primitive_desc pd = dst ? dnnl::concat::primitive_desc(*dst, axis, mds, engine)
                                          : dnnl::concat::primitive_desc(axis, mds, engine);
    if (std::string(pd.impl_info_str()).rfind("ref", 0) == 0) return std::nullopt;
    return pd;
  } catch (const dnnl::error&) {
    return std::nullopt;
  }
}

void add_concat(Plan& p, const dnnl::concat::primitive_desc& pd, const std::vector<memory>& srcs,
                const std::string& out, Step& step) {
  Exec e;
  for (std::size_t i = 0; i < srcs.size(); ++i)
    e.args[DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i)] = srcs[i];
  e.args[DNNL_ARG_DST] = p.output(out, pd.dst_desc());
  e.prim = dnnl::concat(pd);
  step.execs.push_back(std::move(e));
}

}  // namespace

// The inputs in their current layouts when they all agree, on oneDNN's concat (its kernel for
// mixed layouts is the reference one). Inputs that mix row-major and channels-last (DenseNet's
// block input and its Conv outputs) are joined channels-last, the few row-major ones reordered
// (once per input): oneDNN's channels-last concat runs 6x faster than its row-major one at
// DenseNet-121's shapes, and the BatchNormalization and Conv after it take that layout as it is.
// Otherwise row-major: DenseNet's Conv outputs in 16-channel blocks are each copied to row-major
// once, that copy serving every later Concat of them, and the rows are joined by memcpy (a
// third faster than oneDNN's concat of row-major inputs at DenseNet-121's shapes).
void make_concat(Plan& p, const Group& g, Step& step) {
  const Node& n = *g.nodes[0];
  const Shape y = p.shape(g.output);
  const int rank = static_cast<int>(y.size());
  const int axis = static_cast<int>(concat_axis(p.graph, n, rank));
  std::vector<int> slots;
  std::vector<memory> srcs;
  for (const std::string& name : n.inputs) {
    slots.push_back(p.slot(name));
    srcs.push_back(p.current(slots.back()));
  }
  if (same_layouts(srcs)) {
    std::vector<memory::desc> mds;
    for (const memory& m : srcs) mds.push_back(m.get_desc());
    if (const auto pd = concat_pd(mds, axis, nullptr, p.engine)) {
      add_concat(p, *pd, srcs, g.output, step);
      return;
    }
  }
  // The largest input in a dense layout other than row-major (channels-last) sets the layout.
  int pick = -1;
  std::int64_t best = 0;
  for (std::size_t i = 0; i < srcs.size(); ++i) {
    const dnnl_memory_desc_t& d = srcs[i].get_desc().data;
    if (d.format_kind != dnnl_blocked || d.format_desc.blocking.inner_nblks != 0) continue;
    const std::vector<int> order = outer_order(d);
    if (std::is_sorted(order.begin(), order.end())) continue;  // row-major
    const std::int64_t numel = shape_numel(p.slots[static_cast<std::size_t>(slots[i])].shape);
    if (numel > best) best = numel, pick = static_cast<int>(i);
  }
  if (pick >= 0) {
    const std::vector<int> order =
        outer_order(srcs[static_cast<std::size_t>(pick)].get_desc().data);
    std::vector<memory::desc> mds;
    for (const memory& m : srcs) mds.push_back(permuted_md(m.get_desc().dims(), order));
    const memory::desc dst_md = permuted_md(to_dims(y), order);
    if (const auto pd = concat_pd(mds, axis, &dst_md, p.engine)) {
      std::vector<memory> moved;
      for (std::size_t i = 0; i < srcs.size(); ++i) moved.push_back(p.in(slots[i], mds[i], step));
      add_concat(p, *pd, moved, g.output, step);
      return;
    }
  }
  // Per outer index (the dims before the axis), each input's row in turn.
  std::int64_t outer = 1;
  for (int d = 0; d < axis; ++d) outer *= y[d];
  std::vector<std::pair<int, std::size_t>> rows;  // slot with row-major contents, row bytes
  for (const std::string& name : n.inputs) {
    const int s = p.plain(p.slot(name), step);
    rows.push_back({s, static_cast<std::size_t>(shape_numel(p.slots[s].shape) / outer) * 4});
  }
  p.output(g.output, plain_md(y));
  const int out = p.slot(g.output);
  for (const auto& [s, bytes] : rows) step.host_slots.push_back(s);
  step.host_slots.push_back(out);
  step.host = [&p, rows, outer, out] {
    auto* dst = static_cast<std::byte*>(p.slots[out].tensor.raw());
    for (std::int64_t o = 0; o < outer; ++o)
      for (const auto& [s, bytes] : rows) {
        std::memcpy(dst, static_cast<const std::byte*>(p.slots[s].tensor.raw()) + o * bytes, bytes);
        dst += bytes;
      }
  };
}

std::string space_depth_unsupported(const Node& node, const Shape& x) {
  if (x.size() != 4) return "rank";
  const std::int64_t b = node.attr_int("blocksize", 0);
  if (b < 1) return "blocksize";
  if (node.op_type == "SpaceToDepth") return x[2] % b || x[3] % b ? "spatial size" : "";
  const std::string mode = node.attr_string("mode", "DCR");
  if (mode != "DCR" && mode != "CRD") return "mode " + mode;
  return x[1] % (b * b) ? "channels" : "";
}

// The output as [N, C', H, b, W, b] (DepthToSpace) or [N, b, b, C, H', W'] (SpaceToDepth), read
// from the input with the strides that ONNX's reshape-transpose-reshape definition implies.
void make_space_depth(Plan& p, const Group& g, Step& step) {
  const Node& n = *g.nodes[0];
  const Shape x = p.shape(n.inputs[0]);
  const std::int64_t b = n.attr_int("blocksize", 1);
  const std::int64_t N = x[0], C = x[1], H = x[2], W = x[3];
  const std::int64_t sn = C * H * W, sc = H * W, sh = W;
  dims d, strides;
  if (n.op_type == "DepthToSpace") {
    const std::int64_t c = C / (b * b);
    d = {N, c, H, b, W, b};
    if (n.attr_string("mode", "DCR") == "DCR")  // channel (i * b + j) * c' + k
      strides = {sn, sc, sh, b * c * sc, 1, c * sc};
    else  // CRD: channel k * b * b + i * b + j
      strides = {sn, b * b * sc, sh, b * sc, 1, sc};
  } else {  // y[n, (i * b + j) * C + k, h, w] = x[n, k, h * b + i, w * b + j]
    d = {N, b, b, C, H / b, W / b};
    strides = {sn, W, 1, sc, b * W, b};
  }
  const memory src =
      p.view(p.slot(n.inputs[0]), memory::desc(d, memory::data_type::f32, strides), step);
  p.output(g.output, plain_md(p.shape(g.output)));
  const memory dst = p.view(p.slot(g.output), plain_md(Shape(d.begin(), d.end())), step);
  step.execs.push_back({dnnl::reorder(src, dst), {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}}});
}

namespace {

std::vector<std::int64_t> row_strides(const Shape& shape) {
  std::vector<std::int64_t> s(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

// A strided box of a row-major `shape`: dims `count`, element (i...) at sum((start + i * step) *
// stride) of the buffer.
memory::desc box_md(const Shape& shape, const std::vector<std::int64_t>& start,
                    const std::vector<std::int64_t>& step, const Shape& count) {
  const std::vector<std::int64_t> rs = row_strides(shape);
  dims strides(shape.size());
  std::int64_t offset = 0;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    strides[d] = rs[d] * step[d];
    offset += start[d] * rs[d];
  }
  memory::desc md(to_dims(count), memory::data_type::f32, strides);
  md.data.offset0 = offset;
  return md;
}

void add_copy(Step& step, const memory& src, const memory& dst) {
  step.execs.push_back({dnnl::reorder(src, dst), {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}}});
}

}  // namespace

std::string window_unsupported(const Graph& graph, const Node& node, const ShapeOf& values) {
  std::vector<const Tensor*> inputs;
  for (const std::string& name : node.inputs)
    inputs.push_back(name.empty() ? nullptr : values(name));
  StridedWindow w;
  if (!strided_window(node, graph.opset, inputs, w)) return kParametersUnknown;
  return "";
}

bool window_known(Plan& p, const Node& n) {
  std::vector<const Tensor*> inputs;
  for (const std::string& name : n.inputs)
    inputs.push_back(name.empty() ? nullptr : p.values(name));
  StridedWindow w;
  return strided_window(n, p.graph.opset, inputs, w);
}

// Slice and one-index Gather: one reorder from the box of the input into the output.
void make_window(Plan& p, const Group& g, Step& step) {
  const Node& n = *g.nodes[0];
  std::vector<const Tensor*> inputs;
  for (const std::string& name : n.inputs)
    inputs.push_back(name.empty() ? nullptr : p.values(name));
  StridedWindow w;
  strided_window(n, p.graph.opset, inputs, w);
  const int in = p.slot(n.inputs[0]);
  const Shape x = p.slots[in].shape;
  const memory src = p.view(in, box_md(x, w.start, w.step, w.count), step);
  p.output(g.output, plain_md(p.shape(g.output)));
  add_copy(step, src, p.view(p.slot(g.output), plain_md(w.count), step));
}

std::string split_unsupported(const Node& node, const Shape& x, const ShapeOf& shape_of) {
  std::int64_t axis = node.attr_int("axis", 0);
  if (x.empty() || !normalize_axis(axis, static_cast<int>(x.size()))) return "axis";
  std::int64_t total = 0;
  for (const std::string& name : node.outputs) {
    const Tensor* t = name.empty() ? nullptr : shape_of(name);
    if (!t || t->dtype() != DType::f32 || t->rank() != static_cast<int>(x.size())) return "outputs";
    for (int d = 0; d < t->rank(); ++d)
      if (d != axis && t->shape()[d] != x[d]) return "outputs";
    if (t->numel() == 0) return "empty output";
    total += t->shape()[axis];
  }
  return total == x[axis] ? "" : "output sizes";
}

// One reorder per output from its box of the input (the outputs' inferred sizes place them).
void make_split(Plan& p, const Group& g, Step& step) {
  const Node& n = *g.nodes[0];
  const int in = p.slot(n.inputs[0]);
  const Shape x = p.slots[in].shape;
  std::int64_t axis = n.attr_int("axis", 0);
  normalize_axis(axis, static_cast<int>(x.size()));
  std::vector<std::int64_t> start(x.size(), 0), unit(x.size(), 1);
  for (const std::string& name : n.outputs) {
    const Shape y = p.shape(name);
    const memory src = p.view(in, box_md(x, start, unit, y), step);
    p.output(name, plain_md(y));
    add_copy(step, src, p.view(p.slot(name), plain_md(y), step));
    start[axis] += y[axis];
  }
}

std::string pad_amounts(const Graph& graph, const Node& node, const ShapeOf& values, int rank,
                        PadAmounts& pads) {
  const std::string mode = node.attr_string("mode", "constant");
  if (mode != "constant") return "mode " + mode;
  std::vector<std::int64_t> all;
  pads.value = 0.f;
  if (graph.opset < 11) {
    all = node.attr_ints("pads");
    pads.value = node.attr_float("value", 0.f);
  } else {
    const Tensor* t = values(node.inputs[1]);
    if (!t || !t->has_data()) return "pads not constant";
    all = t->to_i64();
    if (node.has_input(2)) {
      const Tensor* v = values(node.inputs[2]);
      if (!v || !v->has_data() || v->numel() != 1 || v->dtype() != DType::f32)
        return "constant_value not a constant";
      pads.value = v->data<float>()[0];
    }
    if (node.has_input(3)) return "axes";
  }
  if (static_cast<int>(all.size()) != 2 * rank) return "pads";
  pads.before.assign(all.begin(), all.begin() + rank);
  pads.after.assign(all.begin() + rank, all.end());
  for (std::int64_t v : all)
    if (v < 0) return "negative pads";
  return "";
}

// The output is filled with the pad value once, when the plan is built (the plan owns its
// buffer and only this step writes it); each run copies the input into its interior.
void make_pad(Plan& p, const Group& g, Step& step) {
  const Node& n = *g.nodes[0];
  const int in = p.slot(n.inputs[0]);
  const Shape x = p.slots[in].shape;
  PadAmounts pads;
  pad_amounts(p.graph, n, p.values, static_cast<int>(x.size()), pads);
  const Shape y = p.shape(g.output);
  p.output(g.output, plain_md(y), true);  // the border, filled once, must stay
  const int out = p.slot(g.output);
  float* data = p.slots[out].tensor.data<float>();
  std::fill(data, data + shape_numel(y), pads.value);
  const std::vector<std::int64_t> unit(x.size(), 1);
  const memory dst = p.view(out, box_md(y, pads.before, unit, x), step);
  add_copy(step, p.view(in, plain_md(x), step), dst);
}

}  // namespace qs::onednn
