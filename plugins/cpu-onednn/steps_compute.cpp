// Conv, Gemm and MatMul steps: the layouts of activations and constant weights are oneDNN's
// choice (format any); constant weights are reordered once, when the plan is built.
#include "onednn_device.h"
#include "plan.h"

namespace qs::onednn {

using dnnl::memory;

void make_conv(Plan& p, const Group& g, Step& step) {
  const Node& n = *g.nodes[0];
  const Shape x = p.shape(n.inputs[0]), w = p.shape(n.inputs[1]);
  const Shape y = p.shape(n.outputs[0]);
  Geometry geo;
  conv_geometry(n, x, w, geo);
  const std::int64_t group = n.attr_int("group", 1);
  Shape wg = w;  // grouped weights: [G, OC/G, IC/G, k...]
  if (group > 1) {
    wg[0] /= group;
    wg.insert(wg.begin(), group);
  }
  const bool bias = n.has_input(2);
  const memory::desc bias_md = plain_md({w[0]});
  // Few input channels (a first layer, LeNet's second): a row-major input makes oneDNN pick its
  // direct kernel, which up to 8 channels is as fast as its choice for "any" (brgconv on nhwc)
  // or faster, and the reorder into it from a blocked producer runs well on several threads
  // (the one into nhwc with few channels runs slower on two threads than on one).
  // Large activations (batch x height x width >= 2^14: batch 8 at 56x56 and above) in blocks of
  // channels as wide as the CPU's vectors: oneDNN's own pick for them, channels-last for brgconv,
  // runs MobileNetV2's memory-bound expand and depthwise layers about a third slower than its
  // blocked kernels (AVX-512, batch 8: 79 -> 66 ms on one thread, 40 -> 31 ms on two). Blocks of
  // 16 on an AVX2 CPU would get reference kernels, a hundred times slower.
  const bool large = x.size() == 4 && x[0] * x[2] * x[3] >= (std::int64_t{1} << 14);
  const auto blocked =
      OnednnDevice::vector_lanes() == 16 ? memory::format_tag::nChw16c : memory::format_tag::nChw8c;
  auto act_md = [&](const Shape& s) {
    return large ? memory::desc(to_dims(s), memory::data_type::f32, blocked) : any_md(s);
  };
  const memory::desc x_md = group == 1 && x[1] <= 8 ? plain_md(x) : act_md(x);
  auto conv_desc = [&](const memory::desc& y_md) {
    return bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                  dnnl::algorithm::convolution_direct, x_md,
                                                  any_md(wg), bias_md, y_md, geo.strides,
                                                  geo.dilations, geo.pad_begin, geo.pad_end)
                : dnnl::convolution_forward::desc(
                      dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, x_md,
                      any_md(wg), y_md, geo.strides, geo.dilations, geo.pad_begin, geo.pad_end);
  };
  dnnl::convolution_forward::desc desc = conv_desc(act_md(y));
  Exec e;
  dnnl::post_ops ops;
  // A residual Add first: oneDNN's sum post-op, which every convolution kernel supports
  // (Plan::residual_first says why).
  const bool residual = p.residual_first(g, y);
  Group rest = g;
  if (residual) {
    rest.post.erase(rest.post.begin());
    ops.append_sum(1.0f);
    // The destination's layout is fixed (oneDNN's pick without post-ops) before the residual
    // is copied into it.
    desc = conv_desc(dnnl::convolution_forward::primitive_desc(desc, p.engine).dst_desc());
  }
  p.append_post_ops(ops, rest, static_cast<int>(y.size()), step, e.args);
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  dnnl::convolution_forward::primitive_desc pd(desc, attr, p.engine);
  const memory::desc wg_md = plain_md(wg);
  e.args[DNNL_ARG_SRC] = p.in(p.slot(n.inputs[0]), pd.src_desc(), step);
  e.args[DNNL_ARG_WEIGHTS] = p.in(p.slot(n.inputs[1]), pd.weights_desc(), step, &wg_md);
  if (bias) e.args[DNNL_ARG_BIAS] = p.view(p.slot(n.inputs[2]), bias_md, step);
  e.args[DNNL_ARG_DST] = p.output(g.output, pd.dst_desc());
  if (residual) p.copy_into(p.slot(g.post[0].other), e.args[DNNL_ARG_DST], step);
  e.prim = dnnl::convolution_forward(pd);
  step.execs.push_back(std::move(e));
}

namespace {

// A row-major [rows, cols] matrix, or its transpose viewed through strides.
memory::desc matrix_md(std::int64_t rows, std::int64_t cols, bool transposed) {
  return transposed ? memory::desc({rows, cols}, memory::data_type::f32, {1, rows})
                    : memory::desc({rows, cols}, memory::data_type::f32, {cols, 1});
}

}  // namespace

// Y = alpha * A' B' + beta * C: alpha as the output scale, beta * C as the first binary post-op.
void make_gemm(Plan& p, const Group& g, Step& step) {
  const Node& n = *g.nodes[0];
  const Shape a = p.shape(n.inputs[0]), b = p.shape(n.inputs[1]);
  const bool ta = n.attr_int("transA", 0) != 0, tb = n.attr_int("transB", 0) != 0;
  const std::int64_t M = ta ? a[1] : a[0], K = ta ? a[0] : a[1], N = tb ? b[0] : b[1];
  const memory::desc a_md = matrix_md(M, K, ta), b_md = matrix_md(K, N, tb);
  const int sb = p.slot(n.inputs[1]);
  const bool const_b = p.slots[sb].constant;
  Exec e;
  dnnl::post_ops ops;
  const float alpha = n.attr_float("alpha", 1.0f), beta = n.attr_float("beta", 1.0f);
  if (n.has_input(2) && beta != 0.0f) {
    int sc = p.slot(n.inputs[2]);
    if (beta != 1.0f) {  // a constant C (checked in support.cpp): scale it once
      Tensor scaled = p.slots[sc].tensor.clone();
      for (std::int64_t i = 0; i < scaled.numel(); ++i) scaled.data<float>()[i] *= beta;
      sc = p.add_constant(scaled);
    }
    const memory::desc c_md = padded_md(p.slots[sc].shape, 2);
    ops.append_binary(dnnl::algorithm::binary_add, c_md);
    e.args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1] = p.view(sc, c_md, step);
  }
  p.append_post_ops(ops, g, 2, step, e.args);
  dnnl::primitive_attr attr;
  if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
  attr.set_post_ops(ops);
  const memory::desc y_md = plain_md({M, N});
  dnnl::matmul::desc desc(a_md, const_b ? any_md({K, N}) : b_md, y_md);
  dnnl::matmul::primitive_desc pd(desc, attr, p.engine);
  e.args[DNNL_ARG_SRC] = p.view(p.slot(n.inputs[0]), a_md, step);
  e.args[DNNL_ARG_WEIGHTS] =
      const_b ? p.in(sb, pd.weights_desc(), step, &b_md) : p.view(sb, b_md, step);
  e.args[DNNL_ARG_DST] = p.output(g.output, pd.dst_desc());
  e.prim = dnnl::matmul(pd);
  step.execs.push_back(std::move(e));
}

bool flat_operand(const Shape& shape, const dims& flat, memory::desc& md) {
  const std::int64_t n = shape_numel(shape);
  if (n == flat[0] * flat[1])
    md = plain_md({flat[0], flat[1]});
  else if (n == 1 || (n == flat[1] && !shape.empty() && shape.back() == flat[1]))
    md = plain_md({1, n});
  else
    return false;
  return true;
}

// numpy matmul: 1-D operands promoted, batch dimensions broadcast by oneDNN.
namespace {

// The slot's memory when it is a dense, unblocked layout other than row-major with the dims of
// `plain` (a permuted view); else an empty memory.
memory strided_operand(Plan& p, int s, const memory::desc& plain) {
  const Slot& slot = p.slots[static_cast<std::size_t>(s)];
  if (slot.has_plain || !slot.mem) return memory();
  const memory::desc md = slot.mem.get_desc();
  const dnnl_memory_desc_t& d = md.data;
  if (d.format_kind != dnnl_blocked || d.format_desc.blocking.inner_nblks != 0 ||
      md.dims() != plain.dims() || md == plain)
    return memory();
  return slot.mem;
}

}  // namespace

void make_matmul(Plan& p, const Group& g, Step& step) {
  const Node& n = *g.nodes[0];
  Shape a = p.shape(n.inputs[0]), b = p.shape(n.inputs[1]);
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  const int rank = static_cast<int>(std::max(a.size(), b.size()));
  const memory::desc a_md = padded_md(a, rank);
  memory::desc b_md = padded_md(b, rank);
  dims y(rank);
  const dims ad = a_md.dims(), bd = b_md.dims();
  for (int i = 0; i < rank - 2; ++i) y[i] = std::max(ad[i], bd[i]);
  y[rank - 2] = ad[rank - 2];
  y[rank - 1] = bd[rank - 1];
  const memory::desc y_md = plain_md(Shape(y.begin(), y.end()));
  const int sb = p.slot(n.inputs[1]);
  // A batched A times a constant 2-D B: one [M, K] x [K, N] product, B prepacked once.
  dims flat;
  if (p.slots[sb].constant && p.shape(n.inputs[1]).size() == 2 && a.size() > 2) {
    flat = {shape_numel(a) / a.back(), b[1]};
    memory::desc md;
    for (const PostOp& post : g.post)
      if (post.eltwise.empty() &&
          !flat_operand(post.other.empty() ? post.other_constant.shape() : p.shape(post.other),
                        flat, md))
        flat.clear();
  }
  const bool const_b = p.slots[sb].constant && (rank == 2 || !flat.empty());
  const memory::desc a_view = flat.empty() ? a_md : plain_md({flat[0], a.back()});
  Exec e;
  dnnl::post_ops ops;
  p.append_post_ops(ops, g, rank, step, e.args, flat.empty() ? nullptr : &flat);
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  if (!flat.empty()) b_md = plain_md(b);
  const int sa = p.slot(n.inputs[0]);
  // An operand held under permuted strides (a Transpose read only by MatMuls) is read as it is
  // when oneDNN has a JIT kernel for it; else it is copied row-major first.
  const memory a_strided = flat.empty() ? strided_operand(p, sa, a_view) : memory();
  const memory b_strided = const_b ? memory() : strided_operand(p, sb, b_md);
  const memory::desc y_desc = flat.empty() ? y_md : plain_md({flat[0], flat[1]});
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_view, const_b ? any_md(b) : b_md, y_desc),
                                  attr, p.engine);
  bool strided = false;
  if (a_strided || b_strided) {
    dnnl::matmul::primitive_desc spd(
        dnnl::matmul::desc(a_strided ? a_strided.get_desc() : a_view,
                           b_strided ? b_strided.get_desc() : b_md, y_desc),
        attr, p.engine);
    // brgemm reads permuted operands at full speed; oneDNN's other kernels (gemm:jit, for a
    // batch dimension that is not outermost) only pay off where the copy would cost as much as
    // the product: few rows of A (a decoder's step: 32 heads x 1 query x 512 cached keys, one
    // thread, 0.07 ms against 0.33 ms with the copy; ViT-B/16's 197 queries, 0.7 ms against 0.36).
    const std::string impl = spd.impl_info_str();
    const std::int64_t rows = a_view.dims()[a_view.dims().size() - 2];
    strided = impl.rfind("brg", 0) == 0 || (impl.rfind("ref", 0) != 0 && rows <= 16);
    if (strided) pd = spd;
  }
  e.args[DNNL_ARG_SRC] = strided && a_strided ? a_strided : p.view(sa, a_view, step);
  e.args[DNNL_ARG_WEIGHTS] = const_b                ? p.in(sb, pd.weights_desc(), step, &b_md)
                             : strided && b_strided ? b_strided
                                                    : p.view(sb, b_md, step);
  e.args[DNNL_ARG_DST] = p.output(g.output, pd.dst_desc());
  e.prim = dnnl::matmul(pd);
  step.execs.push_back(std::move(e));
}

}  // namespace qs::onednn
