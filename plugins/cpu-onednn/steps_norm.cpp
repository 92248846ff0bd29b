// LayerNormalization (with its optional Mean and InvStdDev outputs) and LRN on oneDNN's
// normalization primitives; RMSNormalization on the host.
#include <omp.h>

#include <cmath>

#include "plan.h"

namespace qs::onednn {

using dnnl::memory;

namespace {

// The input as [outer, len] rows: the dimensions before the node's axis, and from it on.
std::pair<std::int64_t, std::int64_t> rows(const Node& n, const Shape& x) {
  std::int64_t axis = n.attr_int("axis", -1);
  normalize_axis(axis, static_cast<int>(x.size()));
  std::int64_t outer = 1, len = 1;
  for (std::int64_t d = 0; d < static_cast<std::int64_t>(x.size()); ++d)
    (d < axis ? outer : len) *= x[d];
  return {outer, len};
}

bool wanted(const Node& n, std::size_t k) {
  return n.outputs.size() > k && !n.outputs[k].empty();
}

}  // namespace

// Normalizes [outer, len] rows; scale and bias are the normalized size (support.cpp). Mean and
// InvStdDev ([outer] values under ONNX's keepdims shape) come from the training-mode primitive:
// its mean as is, 1 / sqrt(variance + epsilon) by two eltwise steps.
void make_layer_norm(Plan& p, const Group& g, Step& step) {
  const Node& n = *g.nodes[0];
  const Shape x = p.shape(n.inputs[0]);
  const auto [outer, len] = rows(n, x);
  const memory::desc md = plain_md({outer, len}), param_md = plain_md({len});
  const bool shift = n.has_input(2);
  const bool stats = wanted(n, 1) || wanted(n, 2);
  const float epsilon = n.attr_float("epsilon", 1e-5f);
  auto flags = dnnl::normalization_flags::use_scale;
  if (shift) flags = flags | dnnl::normalization_flags::use_shift;
  dnnl::layer_normalization_forward::desc desc(
      stats ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference, md, epsilon,
      flags);
  dnnl::layer_normalization_forward::primitive_desc pd(desc, p.engine);
  Exec e;
  e.args[DNNL_ARG_SRC] = p.view(p.slot(n.inputs[0]), md, step);
  e.args[DNNL_ARG_SCALE] = p.view(p.slot(n.inputs[1]), param_md, step);
  if (shift) e.args[DNNL_ARG_SHIFT] = p.view(p.slot(n.inputs[2]), param_md, step);
  const memory::desc stat_md = plain_md({outer});
  if (wanted(n, 1)) {
    p.output(n.outputs[1], stat_md);
    e.args[DNNL_ARG_MEAN] = p.view(p.slot(n.outputs[1]), stat_md, step);
  }
  // Statistics the primitive writes somewhere, read or not.
  for (int arg : {DNNL_ARG_MEAN, DNNL_ARG_VARIANCE}) {
    const memory::desc want = pd.query_md(dnnl::query::exec_arg_md, arg);
    if (want.get_size() > 0 && !e.args.count(arg)) e.args[arg] = memory(want, p.engine);
  }
  p.output(g.output, plain_md(x));
  e.args[DNNL_ARG_DST] = p.view(p.slot(g.output), md, step);
  e.prim = dnnl::layer_normalization_forward(pd);
  const memory variance = e.args.count(DNNL_ARG_VARIANCE) ? e.args.at(DNNL_ARG_VARIANCE) : memory();
  step.execs.push_back(std::move(e));
  if (wanted(n, 2)) {
    p.output(n.outputs[2], stat_md);
    const memory inv = p.view(p.slot(n.outputs[2]), stat_md, step);
    const memory var = memory(stat_md, p.engine, variance.get_data_handle());
    add_eltwise(p, step, {dnnl::algorithm::eltwise_linear, 1.f, epsilon}, var, inv);
    add_eltwise(p, step, {dnnl::algorithm::eltwise_pow, 1.f, -0.5f}, inv, inv);
  }
}

// oneDNN 2.6 has no RMS flag on its layer normalization, and its sum-of-squares reduction is
// the reference kernel (13x slower than this loop at [256, 512], one thread): rows on the host,
// on every thread, as one pass each for the statistic and the output.
void make_rms_norm(Plan& p, const Group& g, Step& step) {
  const Node& n = *g.nodes[0];
  const Shape x = p.shape(n.inputs[0]);
  const auto [outer, len] = rows(n, x);
  const memory::desc md = plain_md({outer, len});
  const memory src = p.view(p.slot(n.inputs[0]), md, step);
  const memory scale = p.view(p.slot(n.inputs[1]), plain_md({len}), step);
  p.output(g.output, plain_md(x));
  const memory dst = p.view(p.slot(g.output), md, step);
  const double epsilon = n.attr_float("epsilon", 1e-5f);
  const int threads = omp_get_max_threads();
  step.host_mems = {src, scale, dst};
  step.host = [src, scale, dst, outer, len, epsilon, threads] {
    const float* px = static_cast<const float*>(src.get_data_handle());
    const float* ps = static_cast<const float*>(scale.get_data_handle());
    float* py = static_cast<float*>(dst.get_data_handle());
#pragma omp parallel for num_threads(threads) if (threads > 1 && outer > 1)
    for (std::int64_t o = 0; o < outer; ++o) {
      const float* row = px + o * len;
      float* out = py + o * len;
      // Sixteen partial sums in float (one vector register); they are added in double.
      float part[16] = {};
      std::int64_t k = 0;
      for (; k + 16 <= len; k += 16)
        for (int j = 0; j < 16; ++j) part[j] += row[k + j] * row[k + j];
      double squares = 0;
      for (float v : part) squares += v;
      for (; k < len; ++k) squares += double(row[k]) * row[k];
      const float inv = static_cast<float>(1.0 / std::sqrt(squares / double(len) + epsilon));
      for (k = 0; k < len; ++k) out[k] = row[k] * inv * ps[k];
    }
  };
}

// Across channels: x / (bias + alpha / size * sum of squares over the window)^beta, for an odd
// size (the window centred on the channel, as ONNX's).
void make_lrn(Plan& p, const Group& g, Step& step) {
  const Node& n = *g.nodes[0];
  const memory src = p.current(p.slot(n.inputs[0]));
  dnnl::lrn_forward::desc desc(dnnl::prop_kind::forward_inference,
                               dnnl::algorithm::lrn_across_channels, src.get_desc(),
                               n.attr_int("size", 1), n.attr_float("alpha", 1e-4f),
                               n.attr_float("beta", 0.75f), n.attr_float("bias", 1.f));
  dnnl::lrn_forward::primitive_desc pd(desc, p.engine);
  Exec e;
  e.args[DNNL_ARG_SRC] = src;
  e.args[DNNL_ARG_DST] = p.output(g.output, pd.dst_desc());
  e.prim = dnnl::lrn_forward(pd);
  step.execs.push_back(std::move(e));
}

}  // namespace qs::onednn
