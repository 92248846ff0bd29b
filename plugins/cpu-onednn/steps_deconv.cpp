// ConvTranspose as a oneDNN deconvolution (its geometry in geometry.cpp: the reference's output
// size becomes the trailing pad that makes oneDNN's formula give it).
#include <algorithm>

#include "plan.h"

namespace qs::onednn {

using dnnl::memory;

std::string deconv_unsupported(const Node& node, const std::vector<Shape>& in) {
  if (in.size() < 2) return "inputs";
  const Shape& x = in[0];
  const Shape& w = in[1];
  const std::int64_t group = node.attr_int("group", 1);
  if (x.size() < 3 || w.size() != x.size() || group <= 0 || x[1] % group != 0 || w[0] != x[1])
    return "channels";
  if (in.size() > 2 && !in[2].empty() && shape_numel(in[2]) != w[1] * group) return "bias";
  Geometry g;
  return deconv_geometry(node, x, w, g);
}

void make_deconv(Plan& p, const Group& g, Step& step) {
  const Node& n = *g.nodes[0];
  const Shape x = p.shape(n.inputs[0]), w = p.shape(n.inputs[1]);
  const Shape y = p.shape(n.outputs[0]);
  Geometry geo;
  deconv_geometry(n, x, w, geo);
  if (make_deconv_phases(p, g, step, geo)) return;
  const std::int64_t group = n.attr_int("group", 1);
  // ONNX weights are [G * IC/G, OC/G, k...]; oneDNN wants [G, OC/G, IC/G, k...] (or [OC, IC,
  // k...]): the same buffer with the two channel strides swapped.
  const std::int64_t ic = w[0] / group, oc = w[1];
  std::int64_t spatial = 1;
  for (std::size_t i = 2; i < w.size(); ++i) spatial *= w[i];
  dims wd{oc, ic}, ws{spatial, oc * spatial};
  for (std::size_t i = 2; i < w.size(); ++i) {
    wd.push_back(w[i]);
    std::int64_t stride = 1;
    for (std::size_t j = i + 1; j < w.size(); ++j) stride *= w[j];
    ws.push_back(stride);
  }
  if (group > 1) {
    wd.insert(wd.begin(), group);
    ws.insert(ws.begin(), ic * oc * spatial);
  }
  // A dimension of size 1 gets the outermost stride, so that oneDNN sees no overlap.
  for (std::size_t i = 0; i < wd.size(); ++i)
    if (wd[i] == 1) ws[i] = shape_numel(w);
  const memory::desc w_view(wd, memory::data_type::f32, ws);
  const memory::desc w_any(wd, memory::data_type::f32, memory::format_tag::any);
  const bool bias = n.has_input(2);
  const memory::desc bias_md = plain_md({oc * group});
  const auto prop = dnnl::prop_kind::forward_inference;
  const auto alg = dnnl::algorithm::deconvolution_direct;
  dnnl::deconvolution_forward::desc desc =
      bias ? dnnl::deconvolution_forward::desc(prop, alg, any_md(x), w_any, bias_md, any_md(y),
                                               geo.strides, geo.dilations, geo.pad_begin,
                                               geo.pad_end)
           : dnnl::deconvolution_forward::desc(prop, alg, any_md(x), w_any, any_md(y), geo.strides,
                                               geo.dilations, geo.pad_begin, geo.pad_end);
  Exec e;
  dnnl::post_ops ops;
  p.append_post_ops(ops, g, static_cast<int>(y.size()), step, e.args);
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  dnnl::deconvolution_forward::primitive_desc pd(desc, attr, p.engine);
  e.args[DNNL_ARG_SRC] = p.in(p.slot(n.inputs[0]), pd.src_desc(), step);
  e.args[DNNL_ARG_WEIGHTS] = p.in(p.slot(n.inputs[1]), pd.weights_desc(), step, &w_view);
  if (bias) e.args[DNNL_ARG_BIAS] = p.view(p.slot(n.inputs[2]), bias_md, step);
  e.args[DNNL_ARG_DST] = p.output(g.output, pd.dst_desc());
  e.prim = dnnl::deconvolution_forward(pd);
  step.execs.push_back(std::move(e));
}

}  // namespace qs::onednn
