// Steps that only move elements: Concat on oneDNN's concat primitive, DepthToSpace and
// SpaceToDepth as one reorder from a strided six-dimensional view of the input.
#include "plan.h"

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

// The inputs in their current layouts when oneDNN concatenates those (a Conv's blocked outputs
// along channels, DenseNet's pattern, stay blocked), else row-major views of them.
void make_concat(Plan& p, const Group& g, Step& step) {
  const Node& n = *g.nodes[0];
  const int rank = static_cast<int>(p.shape(n.inputs[0]).size());
  const int axis = static_cast<int>(concat_axis(p.graph, n, rank));
  for (bool plain : {false, true}) {
    std::vector<memory> srcs;
    std::vector<memory::desc> mds;
    for (const std::string& name : n.inputs) {
      const int s = p.slot(name);
      srcs.push_back(plain ? p.view(s, plain_md(p.slots[s].shape), step) : p.current(s));
      mds.push_back(srcs.back().get_desc());
    }
    std::unique_ptr<dnnl::concat::primitive_desc> pd;
    try {
      pd = std::make_unique<dnnl::concat::primitive_desc>(axis, mds, p.engine);
    } catch (const dnnl::error&) {
      if (plain) throw;
      continue;
    }
    Exec e;
    for (std::size_t i = 0; i < srcs.size(); ++i)
      e.args[DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i)] = srcs[i];
    e.args[DNNL_ARG_DST] = p.output(g.output, pd->dst_desc());
    e.prim = dnnl::concat(*pd);
    step.execs.push_back(std::move(e));
    return;
  }
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

}  // namespace qs::onednn
