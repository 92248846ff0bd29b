// Elementwise, binary, variadic (Max, Min, Sum, Mean), PRelu, pooling and Softmax steps.
// Elementwise and pooling steps work in whatever layout their input is in; Softmax works on
// row-major views shaped so that oneDNN normalizes over exactly the reference's elements.
#include <omp.h>

#include "plan.h"

namespace qs::onednn {

using dnnl::memory;

namespace {

// A Mul of a 16-channel-blocked tensor [N, C, spatial...] (dense, C a multiple of 16) by one value
// per sample and channel, [N or 1, C, 1...]: oneDNN 2.6 has only its reference kernel for that
// broadcast in this layout, and the row-major detour costs two reorders of the large tensor
// (EfficientNet's squeeze-excitation at batch 8, 112x112: 0.6 + 1.0 + 0.8 ms). One pass on the
// host, on every thread, keeps the layout. False when the case is another.
bool channel_scale_on_host(Plan& p, const Group& g, Step& step, int s0, int s1,
                           dnnl::algorithm alg) {
  if (alg != dnnl::algorithm::binary_mul || !g.post.empty() || p.slots[s0].has_plain) return false;
  const memory src = p.current(s0);
  const dnnl_memory_desc_t& d = src.get_desc().data;
  const Shape& y = p.slots[s0].shape;
  const Shape& small = p.slots[s1].shape;
  const int rank = static_cast<int>(y.size());
  const auto& b = d.format_desc.blocking;
  if (rank < 3 || d.ndims != rank || d.format_kind != dnnl_blocked || d.offset0 != 0 ||
      b.inner_nblks != 1 || b.inner_idxs[0] != 1 || b.inner_blks[0] != 16 || y[1] % 16 != 0 ||
      static_cast<int>(small.size()) != rank || (small[0] != 1 && small[0] != y[0]) ||
      small[1] != y[1])
    return false;
  std::int64_t pixels = 1;
  for (int i = rank - 1; i >= 2; --i) {
    if (small[i] != 1 || b.strides[i] != 16 * pixels) return false;
    pixels *= y[i];
  }
  const std::int64_t blocks = y[1] / 16;
  if (b.strides[1] != 16 * pixels || b.strides[0] != 16 * pixels * blocks) return false;
  const memory scale = p.view(s1, plain_md({small[0], small[1]}), step);
  const memory dst = p.output(g.output, src.get_desc());
  const std::int64_t batch = y[0], channels = y[1];
  const bool per_sample = small[0] != 1;
  const int threads = omp_get_max_threads();
  step.host_mems = {src, scale, dst};
  step.host = [=] {
    const float* px = static_cast<const float*>(src.get_data_handle());
    const float* ps = static_cast<const float*>(scale.get_data_handle());
    float* py = static_cast<float*>(dst.get_data_handle());
    const std::int64_t count = batch * blocks, chunk = 16 * pixels;
#pragma omp parallel for num_threads(threads) if (threads > 1)
    for (std::int64_t k = 0; k < count; ++k) {
      const std::int64_t n = k / blocks, c = k % blocks * 16;
      float f[16];
      for (int l = 0; l < 16; ++l) f[l] = ps[(per_sample ? n * channels : 0) + c + l];
      const float* x = px + k * chunk;
      float* out = py + k * chunk;
      for (std::int64_t i = 0; i < pixels; ++i)
        for (int l = 0; l < 16; ++l) out[i * 16 + l] = x[i * 16 + l] * f[l];
    }
  };
  return true;
}

}  // namespace

void make_eltwise(Plan& p, const Group& g, Step& step) {
  const Node& n = *g.nodes[0];
  std::vector<EltwiseOp> ops;
  if (g.whole != dnnl::algorithm::undef)
    ops.push_back({g.whole, g.whole == dnnl::algorithm::eltwise_swish ? 1.f : 0.f});
  else
    eltwise_ops(p.graph, n, ops);
  const memory src = p.current(p.slot(n.inputs[0]));
  const memory dst = p.output(g.output, src.get_desc());
  // Later ops of a node (HardSigmoid) work in place on the output.
  for (std::size_t i = 0; i < ops.size(); ++i)
    add_eltwise(p, step, ops[i], i == 0 ? src : dst, dst);
}

void add_eltwise(Plan& p, Step& step, const EltwiseOp& op, const memory& src, const memory& dst) {
  dnnl::eltwise_forward::desc desc(dnnl::prop_kind::forward_inference, op.alg, src.get_desc(),
                                   op.alpha, op.beta);
  dnnl::eltwise_forward::primitive_desc pd(desc, p.engine);
  step.execs.push_back({dnnl::eltwise_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}});
}

// A reorder from a view of the input with permuted strides into a row-major output.
void make_transpose(Plan& p, const Group& g, Step& step) {
  const Node& n = *g.nodes[0];
  const Shape x = p.shape(n.inputs[0]);
  const int rank = static_cast<int>(x.size());
  std::vector<std::int64_t> perm = n.attr_ints("perm");
  if (perm.empty())
    for (int i = rank - 1; i >= 0; --i) perm.push_back(i);
  dims strides(std::max(rank, 1), 1), yd(std::max(rank, 1), 1), ys(std::max(rank, 1), 1);
  for (int i = rank - 2; i >= 0; --i) strides[i] = strides[i + 1] * x[i + 1];
  for (int i = 0; i < rank; ++i) {
    yd[i] = x[perm[i]];
    ys[i] = strides[perm[i]];
  }
  const memory src =
      p.view(p.slot(n.inputs[0]), memory::desc(yd, memory::data_type::f32, ys), step);
  // Read only by MatMuls (attention's K^T, its heads split from [B, S, H, D]): the output is
  // the input under permuted strides, which oneDNN's matmul reads as it is (make_matmul);
  // a reader that needs it row-major gets the copy then.
  bool matmuls_only = true, read = false;
  for (const Node& reader : p.graph.nodes)
    for (const std::string& in : reader.inputs)
      if (in == g.output) {
        read = true;
        matmuls_only = matmuls_only && reader.op_type == "MatMul" && reader.domain.empty();
      }
  for (const ValueInfo& out : p.graph.outputs) matmuls_only = matmuls_only && out.name != g.output;
  if (read && matmuls_only) {
    Slot& out = p.slots[static_cast<std::size_t>(p.slot(g.output))];
    out.has_plain = false;
    out.mem = src;
    return;
  }
  const memory dst = p.output(g.output, plain_md(p.shape(g.output)));
  step.execs.push_back({dnnl::reorder(src, dst), {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}}});
}

// The input's row-major Tensor under the output's shape: no work at run time, unless the input
// is in a blocked layout, which is then reordered into a row-major copy (a step that ran the node
// on the reference kernels did that copy too, and more). A view of a Tensor that changes every
// run (a graph input, a reference node's output) follows it: set_tensor re-points the views.
void make_view(Plan& p, const Group& g, Step& step) {
  const Node& n = *g.nodes[0];
  const int in = p.plain(p.slot(n.inputs[0]), step);
  const int o = p.slot(g.output);
  Slot& src = p.slots[static_cast<std::size_t>(in)];
  Slot& out = p.slots[static_cast<std::size_t>(o)];
  if (src.tensor.has_data()) out.tensor = src.tensor.reshaped(out.shape);
  out.has_plain = true;
  out.owned = src.owned;
  out.constant = src.constant;
  if (!src.owned && !src.constant) src.views.push_back(o);
}

// Add, Sub, Mul, Div; BatchNormalization as x * scale with the shift as a post-op.
void make_binary(Plan& p, const Group& g, Step& step) {
  const Node& n = *g.nodes[0];
  const Shape y = p.shape(n.outputs[0]);
  const int rank = static_cast<int>(y.size());
  int s0 = p.slot(n.inputs[0]), s1;
  dnnl::algorithm alg = dnnl::algorithm::binary_mul;
  if (n.op_type == "BatchNormalization") {
    s1 = p.add_constant(batch_norm_affine(p.graph, n, rank).first);
  } else {
    s1 = p.slot(n.inputs[1]);
    alg = binary_alg(n.op_type);
    // oneDNN broadcasts only the second operand (support.cpp allows the swap for Add and Mul).
    if (shape_numel(p.slots[s0].shape) != shape_numel(y)) std::swap(s0, s1);
  }
  // A full-size operand stays in its layout; smaller ones are row-major views padded to rank.
  auto operand = [&](int s) {
    return p.slots[s].shape == y ? p.current(s)
                                 : p.view(s, padded_md(p.slots[s].shape, rank), step);
  };
  // A broadcast oneDNN 2.6 has no JIT kernel for (over a middle or a leading dimension: Swin's
  // [1,4,12,49,49] + [1,4,1,49,49]) runs on row-major views with the dimensions merged where
  // both operands agree, [4,12,2401] + [4,1,2401], a pattern its JIT kernels take.
  bool binary_post = false;
  for (const PostOp& post : g.post) binary_post = binary_post || post.eltwise.empty();
  const Shape small = p.slots[s1].shape;
  bool merge = !binary_post && p.slots[s0].shape == y && small != y && shape_numel(small) > 1 &&
               !post_op_operand_is_fast(y, small, "Conv");
  // oneDNN's JIT kernel may still take the broadcast in src0's own layout (EfficientNet's
  // squeeze-excitation Mul, NHWC [8,96,56,56] x [8,96,1,1]: 0.2 ms, where the merged row-major
  // form costs two 1 ms reorders around it); ask it before moving src0.
  if (merge) {
    const memory::desc d0 = p.current(s0).get_desc();
    const dnnl::binary::primitive_desc probe(
        dnnl::binary::desc(alg, d0, padded_md(small, rank), d0), p.engine);
    merge = std::string(probe.impl_info_str()).rfind("ref", 0) == 0;
    if (merge && channel_scale_on_host(p, g, step, s0, s1, alg)) return;
  }
  Exec e;
  memory src0, src1;
  int out_rank = rank;
  if (merge) {
    auto [a, b] = merged_broadcast(y, small);
    out_rank = static_cast<int>(a.size());
    src0 = p.view(s0, plain_md(a), step);
    src1 = p.view(s1, plain_md(b), step);
  } else {
    src0 = operand(s0);
    src1 = operand(s1);
    // A broadcast operand beside a src0 blocked by 8 or 4 channels (a Conv's choice for 440
    // channels), or by 16 with padding (24 channels), sends oneDNN 2.6's binary to its
    // reference kernel (RegNet's squeeze-excitation Mul: 0.6 ms each); a row-major src0 takes
    // the JIT kernel, after a copy of microseconds.
    const dnnl_memory_desc_t& d0 = src0.get_desc().data;
    bool padded = false;
    for (int d = 0; d < d0.ndims; ++d) padded = padded || d0.padded_dims[d] != d0.dims[d];
    // So does a blocked src0 with a binary post-op (a standalone BatchNormalization's shift,
    // after DenseNet's Concat of blocked Conv outputs: 26 ms against 0.1 ms row-major).
    const bool blocked = d0.format_kind == dnnl_blocked && d0.format_desc.blocking.inner_nblks > 0;
    if (p.slots[s1].shape != y && blocked &&
        (d0.format_desc.blocking.inner_blks[0] < 16 || padded || binary_post))
      src0 = p.view(s0, plain_md(y), step);
  }
  dnnl::post_ops ops;
  p.append_post_ops(ops, g, out_rank, step, e.args);
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  dnnl::binary::desc desc(alg, src0.get_desc(), src1.get_desc(), src0.get_desc());
  dnnl::binary::primitive_desc pd(desc, attr, p.engine);
  e.args[DNNL_ARG_SRC_0] = src0;
  e.args[DNNL_ARG_SRC_1] = src1;
  e.args[DNNL_ARG_DST] = p.output(g.output, pd.dst_desc());
  e.prim = dnnl::binary(pd);
  step.execs.push_back(std::move(e));
}

std::string variadic_unsupported(const std::vector<Shape>& in, const Shape& y) {
  if (in.size() == 2) return binary_unsupported(in[0], in[1], y, true);
  for (const Shape& s : in)
    if (s != y) return "more than two inputs that broadcast";
  return "";
}

// A chain of binary primitives writing the output in place: ((a op b) op c) ...; Mean scales
// the last one's result by 1 / count as a post-op. Two inputs broadcast as binary ops do.
void make_variadic(Plan& p, const Group& g, Step& step) {
  const Node& n = *g.nodes[0];
  const Shape y = p.shape(n.outputs[0]);
  const int rank = static_cast<int>(y.size());
  const std::string& op = n.op_type;
  const dnnl::algorithm alg = op == "Max"   ? dnnl::algorithm::binary_max
                              : op == "Min" ? dnnl::algorithm::binary_min
                                            : dnnl::algorithm::binary_add;
  int s0 = p.slot(n.inputs[0]), s1 = p.slot(n.inputs[1]);
  if (shape_numel(p.slots[s0].shape) != shape_numel(y)) std::swap(s0, s1);
  p.output(g.output, plain_md(y));
  const memory dst = p.view(p.slot(g.output), plain_md(y), step);
  for (std::size_t k = 1; k < n.inputs.size(); ++k) {
    const memory a = k == 1 ? p.view(s0, plain_md(y), step) : dst;
    const int sb = k == 1 ? s1 : p.slot(n.inputs[k]);
    const memory b = p.view(sb, padded_md(p.slots[sb].shape, rank), step);
    dnnl::primitive_attr attr;
    if (op == "Mean" && k + 1 == n.inputs.size()) {
      dnnl::post_ops ops;
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_linear,
                         1.f / static_cast<float>(n.inputs.size()), 0.f);
      attr.set_post_ops(ops);
    }
    dnnl::binary::primitive_desc pd(
        dnnl::binary::desc(alg, a.get_desc(), b.get_desc(), dst.get_desc()), attr, p.engine);
    step.execs.push_back(
        {dnnl::binary(pd), {{DNNL_ARG_SRC_0, a}, {DNNL_ARG_SRC_1, b}, {DNNL_ARG_DST, dst}}});
  }
}

std::string prelu_unsupported(const std::vector<Shape>& in) {
  if (in.size() != 2) return "inputs";
  const Shape& x = in[0];
  const Shape& slope = in[1];
  if (x.empty() || slope.size() > x.size()) return "slope rank";
  const std::size_t lead = x.size() - slope.size();
  for (std::size_t d = 0; d < slope.size(); ++d)
    if (slope[d] != 1 && slope[d] != x[lead + d]) return "slope shape";
  return "";
}

// Row-major x and y; the slope padded to x's rank, broadcast by oneDNN.
void make_prelu(Plan& p, const Group& g, Step& step) {
  const Node& n = *g.nodes[0];
  const Shape x = p.shape(n.inputs[0]);
  const int rank = static_cast<int>(x.size());
  const memory src = p.view(p.slot(n.inputs[0]), plain_md(x), step);
  const int sw = p.slot(n.inputs[1]);
  const memory w = p.view(sw, padded_md(p.slots[sw].shape, rank), step);
  dnnl::prelu_forward::desc desc(dnnl::prop_kind::forward_inference, src.get_desc(), w.get_desc());
  dnnl::prelu_forward::primitive_desc pd(desc, p.engine);
  const memory dst = p.output(g.output, plain_md(x));
  step.execs.push_back(
      {dnnl::prelu_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, dst}}});
}

void make_pool(Plan& p, const Group& g, Step& step) {
  const Node& n = *g.nodes[0];
  const Shape x = p.shape(n.inputs[0]), y = p.shape(n.outputs[0]);
  Geometry geo;
  pool_geometry(n, x, geo);
  dnnl::algorithm alg = dnnl::algorithm::pooling_max;
  if (n.op_type == "AveragePool" && n.attr_int("count_include_pad", 0) != 0)
    alg = dnnl::algorithm::pooling_avg_include_padding;
  else if (n.op_type == "AveragePool" || n.op_type == "GlobalAveragePool")
    alg = dnnl::algorithm::pooling_avg_exclude_padding;
  const memory src = p.current(p.slot(n.inputs[0]));
  dnnl::pooling_v2_forward::desc desc(dnnl::prop_kind::forward_inference, alg, src.get_desc(),
                                      any_md(y), geo.strides, geo.kernel, geo.dilations,
                                      geo.pad_begin, geo.pad_end);
  dnnl::pooling_v2_forward::primitive_desc pd(desc, p.engine);
  Exec e;
  e.args[DNNL_ARG_SRC] = src;
  e.args[DNNL_ARG_DST] = p.output(g.output, pd.dst_desc());
  e.prim = dnnl::pooling_v2_forward(pd);
  step.execs.push_back(std::move(e));
}

// Opset 13: over one axis, as [outer, len, inner]; before 13: over the flattened dims from the
// axis on, as [outer, len, 1].
void make_softmax(Plan& p, const Group& g, Step& step) {
  const Node& n = *g.nodes[0];
  const Shape x = p.shape(n.inputs[0]);
  const bool coerce = p.graph.opset < 13;
  std::int64_t axis = n.attr_int("axis", coerce ? 1 : -1);
  normalize_axis(axis, static_cast<int>(x.size()));
  std::int64_t outer = 1, len = 1, inner = 1;
  for (std::int64_t d = 0; d < static_cast<std::int64_t>(x.size()); ++d)
    (d < axis ? outer : (d == axis || coerce) ? len : inner) *= x[d];
  const memory::desc md = plain_md({outer, len, inner});
  const dnnl::algorithm alg =
      n.op_type == "LogSoftmax" ? dnnl::algorithm::softmax_log : dnnl::algorithm::softmax_accurate;
  dnnl::softmax_v2_forward::desc desc(dnnl::prop_kind::forward_inference, alg, md, md, 1);
  dnnl::softmax_v2_forward::primitive_desc pd(desc, p.engine);
  Exec e;
  e.args[DNNL_ARG_SRC] = p.view(p.slot(n.inputs[0]), md, step);
  p.output(g.output, plain_md(x));
  e.args[DNNL_ARG_DST] = p.view(p.slot(g.output), md, step);
  e.prim = dnnl::softmax_v2_forward(pd);
  step.execs.push_back(std::move(e));
}

}  // namespace qs::onednn
