// Resize on oneDNN's resampling primitive: linear interpolation with half-pixel centres (what
// torch's interpolate(bilinear, align_corners=False) exports), in the input's layout. oneDNN
// maps output to input coordinates by the size ratio, so given scales must give the sizes
// exactly; other modes and coordinate conventions stay on the reference kernels.
#include <cmath>

#include "plan.h"

namespace qs::onednn {

using dnnl::memory;

std::string resize_unsupported(const Graph& graph, const Node& node, const Shape& x, const Shape& y,
                               const ShapeOf& values) {
  if (graph.opset < 11) return "opset " + std::to_string(graph.opset);
  const std::string mode = node.attr_string("mode", "nearest");
  if (mode != "linear") return "mode " + mode;
  if (node.attr_int("antialias", 0) != 0) return "antialias";
  if (node.has_attr("axes")) return "axes";
  if (x.size() < 3 || x.size() > 5 || y.size() != x.size()) return "rank";
  if (y[0] != x[0] || y[1] != x[1]) return "batch or channels resized";
  const std::string coords = node.attr_string("coordinate_transformation_mode", "half_pixel");
  bool half_pixel = coords == "half_pixel";
  if (coords == "pytorch_half_pixel") {  // half_pixel, except that a length-1 output reads 0
    half_pixel = true;
    for (std::size_t d = 2; d < y.size(); ++d) half_pixel = half_pixel && y[d] > 1;
  }
  if (!half_pixel) return "coordinate_transformation_mode " + coords;
  if (node.has_input(2)) {
    const Tensor* scales = values(node.inputs[2]);
    if (!scales || !scales->has_data()) return "scales not constant";
    if (scales->numel() > 0) {
      const std::vector<float> s = scales->to_f32();
      if (s.size() != x.size()) return "scales";
      for (std::size_t d = 2; d < x.size(); ++d)
        if (static_cast<double>(x[d]) * s[d] != static_cast<double>(y[d]))
          return "scales that do not give the output size exactly";
    }
  }
  return "";
}

void make_resize(Plan& p, const Group& g, Step& step) {
  const Node& n = *g.nodes[0];
  const memory src = p.current(p.slot(n.inputs[0]));
  dnnl::resampling_forward::desc desc(dnnl::prop_kind::forward_inference,
                                      dnnl::algorithm::resampling_linear, src.get_desc(),
                                      any_md(p.shape(g.output)));
  dnnl::resampling_forward::primitive_desc pd(desc, p.engine);
  Exec e;
  e.args[DNNL_ARG_SRC] = src;
  e.args[DNNL_ARG_DST] = p.output(g.output, pd.dst_desc());
  e.prim = dnnl::resampling_forward(pd);
  step.execs.push_back(std::move(e));
}

}  // namespace qs::onednn
