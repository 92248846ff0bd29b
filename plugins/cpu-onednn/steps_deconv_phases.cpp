// A strided ConvTranspose as s^d stride-1 convolutions, one per output phase: the outputs o with
// (o + pad_begin) % s == r take only the kernel taps k = r + s j. oneDNN's strided deconvolution
// (convolution backward data) is several times slower than this on these shapes.
#include "plan.h"

namespace qs::onednn {

using dnnl::memory;

namespace {

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// One spatial dimension of one phase.
struct Phase {
  std::int64_t first = 0;  // first output position
  std::int64_t count = 0;  // outputs (every s-th from `first`)
  std::int64_t taps = 0;   // kernel taps r, r + s, ...
  std::int64_t r = 0, pad_begin = 0, pad_end = 0;
};

}  // namespace

bool make_deconv_phases(Plan& p, const Group& g, Step& step, const Geometry& geo) {
  const Node& n = *g.nodes[0];
  const Shape x = p.shape(n.inputs[0]), w = p.shape(n.inputs[1]);
  const Shape y = p.shape(n.outputs[0]);
  const int k = static_cast<int>(x.size()) - 2;
  const int sw = p.slot(n.inputs[1]);
  if (!p.slots[sw].constant || !p.slots[sw].tensor.has_data()) return false;
  bool strided = false;
  for (int i = 0; i < k; ++i) {
    if (geo.dilations[i] != 0) return false;
    strided |= geo.strides[i] > 1;
  }
  if (!strided) return false;
  for (const PostOp& post : g.post)
    if (post.eltwise.empty()) return false;  // binary operands would need phase views too
  // The phases of each dimension.
  std::vector<std::vector<Phase>> dim_phases(k);
  for (int i = 0; i < k; ++i) {
    const std::int64_t s = geo.strides[i], K = geo.kernel[i], pb = geo.pad_begin[i];
    const std::int64_t in = x[i + 2], out = y[i + 2];
    for (std::int64_t r = 0; r < s; ++r) {
      Phase ph;
      ph.r = r;
      const std::int64_t lo = -floor_div(-(pb - r), s), hi = floor_div(out - 1 + pb - r, s);
      ph.count = hi - lo + 1;
      ph.taps = r < K ? (K - r + s - 1) / s : 0;
      ph.first = s * lo + r - pb;
      ph.pad_begin = ph.taps - 1 - lo;
      ph.pad_end = hi + 1 - in;
      if (ph.count <= 0) continue;           // no outputs in this phase
      if (ph.count * s > out) return false;  // oneDNN would call the strided view overlapping
      if (ph.taps <= 0 || ph.pad_begin < 0 || ph.pad_end < 0 || ph.pad_begin >= ph.taps ||
          ph.pad_end >= ph.taps)
        return false;
      dim_phases[i].push_back(ph);
    }
    if (dim_phases[i].empty()) return false;
  }
  const std::int64_t group = n.attr_int("group", 1);
  const std::int64_t ic = w[0] / group, oc = w[1];
  const bool bias = n.has_input(2);
  const memory::desc bias_md = plain_md({oc * group});
  // y channels-last, the layout the convolutions around it use: [N, spatial..., C].
  dims ystrides(y.size(), 1);
  std::int64_t inner = y[1];
  for (int i = static_cast<int>(y.size()) - 1; i >= 2; --i) {
    ystrides[i] = inner;
    inner *= y[i];
  }
  ystrides[0] = inner;
  const memory y_mem =
      p.output(g.output, memory::desc(to_dims(y), memory::data_type::f32, ystrides));
  float* y_base = static_cast<float*>(y_mem.get_data_handle());
  const std::vector<float> wv = p.slots[sw].tensor.to_f32();
  dims wstrides(w.size(), 1);
  for (int i = static_cast<int>(w.size()) - 2; i >= 0; --i)
    wstrides[i] = wstrides[i + 1] * w[i + 1];
  std::vector<std::size_t> pick(k, 0);
  while (true) {
    std::vector<const Phase*> ph(k);
    for (int i = 0; i < k; ++i) ph[i] = &dim_phases[i][pick[i]];
    // Weights [G, OC/G, IC/G, taps...] (no G when 1): flipped taps r + s (taps - 1 - j).
    Shape vshape{oc, ic}, dshape{x[0], oc * group};
    dims strides(k, 1), pb(k), pe(k), vd(y.size()), vs(y.size());
    for (int i = 0; i < k; ++i) {
      vshape.push_back(ph[i]->taps);
      dshape.push_back(ph[i]->count);
      pb[i] = ph[i]->pad_begin;
      pe[i] = ph[i]->pad_end;
    }
    if (group > 1) vshape.insert(vshape.begin(), group);
    Tensor v(DType::f32, vshape);
    float* pv = v.data<float>();
    const std::int64_t vn = v.numel();
    for (std::int64_t e = 0; e < vn; ++e) {
      std::int64_t rest = e, src = 0;
      for (int d = k - 1; d >= 0; --d) {
        const std::int64_t j = rest % ph[d]->taps;
        rest /= ph[d]->taps;
        src += (ph[d]->r + geo.strides[d] * (ph[d]->taps - 1 - j)) * wstrides[d + 2];
      }
      const std::int64_t c_in = rest % ic, c_out = (rest / ic) % oc, grp = rest / ic / oc;
      src += (grp * ic + c_in) * wstrides[0] + c_out * wstrides[1];
      pv[e] = wv[src];
    }
    const Shape& gshape = vshape;
    const int sv = p.add_constant(v);
    const auto prop = dnnl::prop_kind::forward_inference;
    const auto alg = dnnl::algorithm::convolution_direct;
    dnnl::convolution_forward::desc desc =
        bias ? dnnl::convolution_forward::desc(prop, alg, any_md(x), any_md(gshape), bias_md,
                                               any_md(dshape), strides, pb, pe)
             : dnnl::convolution_forward::desc(prop, alg, any_md(x), any_md(gshape), any_md(dshape),
                                               strides, pb, pe);
    Exec e;
    dnnl::post_ops ops;
    p.append_post_ops(ops, g, static_cast<int>(y.size()), step, e.args);
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    dnnl::convolution_forward::primitive_desc pd(desc, attr, p.engine);
    e.args[DNNL_ARG_SRC] = p.in(p.slot(n.inputs[0]), pd.src_desc(), step);
    e.args[DNNL_ARG_WEIGHTS] = p.in(sv, pd.weights_desc(), step);
    if (bias) e.args[DNNL_ARG_BIAS] = p.view(p.slot(n.inputs[2]), bias_md, step);
    const memory tmp(pd.dst_desc(), p.engine);
    e.args[DNNL_ARG_DST] = tmp;
    e.prim = dnnl::convolution_forward(pd);
    step.execs.push_back(std::move(e));
    // The phase's outputs: every s-th position of y from `first`.
    std::int64_t offset = 0;
    vd[0] = y[0];
    vd[1] = y[1];
    vs[0] = ystrides[0];
    vs[1] = ystrides[1];
    for (int i = 0; i < k; ++i) {
      vd[i + 2] = ph[i]->count;
      vs[i + 2] = ystrides[i + 2] * geo.strides[i];
      offset += ph[i]->first * ystrides[i + 2];
    }
    const memory part(memory::desc(vd, memory::data_type::f32, vs), p.engine, y_base + offset);
    step.execs.push_back({dnnl::reorder(tmp, part), {{DNNL_ARG_FROM, tmp}, {DNNL_ARG_TO, part}}});
    int d = k - 1;
    while (d >= 0 && ++pick[d] == dim_phases[d].size()) pick[d--] = 0;
    if (d < 0) break;
  }
  return true;
}

}  // namespace qs::onednn
