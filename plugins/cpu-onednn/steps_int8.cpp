// Integer steps (int8.h): int8 Conv, Gemm and MatMul primitives with a FakeQuant after them
// fused (requantization), FakeQuant on the CPU (HostQuantizer), MaxPool/Flatten/Reshape on codes.
//
// oneDNN 2.x int8 semantics, as used here: dst = post_ops(output_scale[oc] * (sum (src - zp_src)
// * wei + bias)), the bias added to the int32 accumulator before the scale (so it takes the
// bias codes), padding counted as the source zero point (the simulation pads with 0.0, whose
// code is the zero point). A fused FakeQuant is a few more post-ops (append_output).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "host_quantize.h"
#include "int8.h"
#include "plan.h"

namespace qs::onednn {

using dnnl::memory;
using dt = memory::data_type;
using alg = dnnl::algorithm;

namespace {

memory::desc plain_of(const dims& d, dt type) {
  dims strides(d.size(), 1);
  for (int i = static_cast<int>(d.size()) - 2; i >= 0; --i) strides[i] = strides[i + 1] * d[i + 1];
  return memory::desc(d, type, strides);
}

memory::desc any_of(const Shape& s, dt type) {
  return memory::desc(to_dims(s), type, memory::format_tag::any);
}

// Whether two descriptors lay out the same elements at the same places (strides of unit dims
// may differ: nchw and nhwc with one channel).
bool same_layout(const memory::desc& a, const memory::desc& b) {
  if (a == b) return true;
  const dnnl_memory_desc_t &x = a.data, &y = b.data;
  if (x.ndims != y.ndims || x.data_type != y.data_type || x.format_kind != dnnl_blocked ||
      y.format_kind != dnnl_blocked || x.offset0 != y.offset0 || x.extra.flags != 0 ||
      y.extra.flags != 0 || x.format_desc.blocking.inner_nblks != 0 ||
      y.format_desc.blocking.inner_nblks != 0 || a.get_size() != b.get_size())
    return false;
  for (int i = 0; i < x.ndims; ++i) {
    if (x.dims[i] != y.dims[i] || x.padded_dims[i] != y.padded_dims[i]) return false;
    if (x.dims[i] > 1 && x.format_desc.blocking.strides[i] != y.format_desc.blocking.strides[i])
      return false;
  }
  return true;
}

// The codes of slot s in layout `target`: the slot's own buffer when it has that layout, else a
// copy reordered in `step` on every run. Code slots live in oneDNN buffers that never move.
memory codes_in(Plan& p, int s, const memory::desc& target, Step& step) {
  const memory cur = p.slots[s].mem;
  if (same_layout(cur.get_desc(), target)) return memory(target, p.engine, cur.get_data_handle());
  return p.in(s, target, step);
}

// The codes of slot s viewed row-major with dims `d` (the same element count).
memory codes_view(Plan& p, int s, const dims& d, Step& step) {
  const memory cur = p.slots[s].mem;
  const memory::desc md = cur.get_desc();
  const memory::desc own = plain_of(md.dims(), md.data_type());
  const memory plain = same_layout(md, own) ? cur : p.in(s, own, step);
  return memory(plain_of(d, md.data_type()), p.engine, plain.get_data_handle());
}

// A binary post-op with a scalar operand.
void append_scalar(Plan& p, dnnl::post_ops& ops, alg a, float value, int rank, Exec& e,
                   Step& step) {
  const int s = p.add_constant(Tensor::from_vector<float>({1}, {value}));
  const memory::desc md = plain_of(dims(rank, 1), dt::f32);
  const int index = ops.len();
  ops.append_binary(a, md);
  e.args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(index) | DNNL_ARG_SRC_1] = p.view(s, md, step);
}

std::vector<float> output_scales(const LayerQuant& q, float alpha) {
  std::vector<float> s(q.scales.size());
  // The same product the simulation's bias grid uses (apply.cpp).
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = q.x_scale * q.scales[i];
  if (alpha != 1.0f)
    for (float& v : s) v *= alpha;
  return s;
}

void set_int_attr(dnnl::primitive_attr& attr, const ActGrid& x, const LayerQuant& q, int mask,
                  float alpha, const dnnl::post_ops& ops) {
  attr.set_output_scales(mask, output_scales(q, alpha));
  if (x.zero_point != 0) attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
  attr.set_post_ops(ops);
}

void add_zero_point(Plan& p, const ActGrid& x, Exec& e, Step& step) {
  if (x.zero_point == 0) return;
  const int s = p.add_constant(Tensor::from_vector<std::int32_t>({1}, {x.zero_point}));
  e.args[DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC] =
      p.view(s, memory::desc({1}, dt::s32, memory::format_tag::x), step);
}

dt out_type(const IntOutput& out) {
  return out.grid && out.codes ? codes_type(*out.grid) : dt::f32;
}

// Whether the post-ops hold an eltwise op of algorithm `a`. oneDNN 2.6's jit kernels give every
// eltwise post-op of one algorithm the alpha and beta of the first (two eltwise_linear or two
// eltwise_clip in one chain compute wrongly): a second one is done as a binary op instead.
bool has_eltwise(const dnnl::post_ops& ops, alg a) {
  for (int i = 0; i < ops.len(); ++i) {
    if (ops.kind(i) != dnnl::primitive::kind::eltwise) continue;
    float scale = 0, alpha = 0, beta = 0;
    alg kind = alg::undef;
    ops.get_params_eltwise(i, scale, kind, alpha, beta);
    if (kind == a) return true;
  }
  return false;
}

// The layer's output (after its post-ops) quantized as quant::quantize() does: the level
// round_half_even(clamp(x * (1 / scale), qmin - zp, qmax - zp)) (clamping first gives the same
// integers: the bounds are integers), then for codes + zp (the conversion to u8/s8 then only
// sees integers, and saturates to the type's range), else level * scale, which is
// (code - zp) * scale as quant::dequantize() computes it.
void append_output(Plan& p, dnnl::post_ops& ops, const IntOutput& out, int rank, Exec& e,
                   Step& step) {
  if (!out.grid) return;
  const ActGrid& g = *out.grid;
  if (has_eltwise(ops, alg::eltwise_linear))
    append_scalar(p, ops, alg::binary_mul, 1.0f / g.scale, rank, e, step);
  else
    ops.append_eltwise(1.f, alg::eltwise_linear, 1.0f / g.scale, 0.f);
  const bool full = g.qmin == (g.qmin < 0 ? -128 : 0) && g.qmax == (g.qmin < 0 ? 127 : 255);
  if (!out.codes || !full) {
    const float lo = static_cast<float>(g.qmin - g.zero_point);
    const float hi = static_cast<float>(g.qmax - g.zero_point);
    if (has_eltwise(ops, alg::eltwise_clip)) {
      append_scalar(p, ops, alg::binary_max, lo, rank, e, step);
      append_scalar(p, ops, alg::binary_min, hi, rank, e, step);
    } else {
      ops.append_eltwise(1.f, alg::eltwise_clip, lo, hi);
    }
  }
  ops.append_eltwise(1.f, alg::eltwise_round, 0.f, 0.f);
  if (!out.codes)
    append_scalar(p, ops, alg::binary_mul, g.scale, rank, e, step);
  else if (g.zero_point != 0)
    append_scalar(p, ops, alg::binary_add, static_cast<float>(g.zero_point), rank, e, step);
}

}  // namespace

void make_int_conv(Plan& p, const Group& g, Step& step, const LayerQuant& q, const ActGrid& xg,
                   const IntOutput& out) {
  const Node& n = *g.nodes[0];
  const Shape x = p.shape(n.inputs[0]), w = q.codes->shape(), y = p.shape(n.outputs[0]);
  Geometry geo;
  conv_geometry(n, x, w, geo);
  const std::int64_t group = n.attr_int("group", 1);
  Shape wg = w;  // grouped weights: [G, OC/G, IC/G, k...]
  if (group > 1) {
    wg[0] /= group;
    wg.insert(wg.begin(), group);
  }
  const bool bias = n.has_input(2);
  const memory::desc bias_md = plain_of({w[0]}, dt::s32);
  const memory::desc x_md = any_of(x, codes_type(xg)), w_md = any_of(wg, dt::s8);
  const memory::desc y_md = any_of(y, out_type(out));
  using conv = dnnl::convolution_forward;
  const auto prop = dnnl::prop_kind::forward_inference;
  const auto direct = alg::convolution_direct;
  auto conv_desc = [&](const memory::desc& dst) {
    return bias ? conv::desc(prop, direct, x_md, w_md, bias_md, dst, geo.strides, geo.dilations,
                             geo.pad_begin, geo.pad_end)
                : conv::desc(prop, direct, x_md, w_md, dst, geo.strides, geo.dilations,
                             geo.pad_begin, geo.pad_end);
  };
  conv::desc desc = conv_desc(y_md);
  Exec e;
  dnnl::post_ops ops;
  // A residual Add on an fp32 output: the sum post-op (Plan::residual_first); the build leaves
  // the requantization of such a layer to a step of its own, as codes cannot hold the sum.
  const bool residual = p.residual_first(g, y) && out_type(out) == dt::f32;
  Group rest = g;
  if (residual) {
    rest.post.erase(rest.post.begin());
    ops.append_sum(1.0f);
    dnnl::primitive_attr plain_attr;
    set_int_attr(plain_attr, xg, q, 1 << 1, 1.0f, dnnl::post_ops());
    desc = conv_desc(conv::primitive_desc(desc, plain_attr, p.engine).dst_desc());
  }
  p.append_post_ops(ops, rest, static_cast<int>(y.size()), step, e.args);
  append_output(p, ops, out, static_cast<int>(y.size()), e, step);
  dnnl::primitive_attr attr;
  set_int_attr(attr, xg, q, 1 << 1, 1.0f, ops);
  conv::primitive_desc pd(desc, attr, p.engine);
  const memory::desc wg_plain = plain_of(to_dims(wg), dt::s8);
  e.args[DNNL_ARG_SRC] = codes_in(p, p.slot(n.inputs[0]), pd.src_desc(), step);
  e.args[DNNL_ARG_WEIGHTS] = p.in(p.add_constant(*q.codes), pd.weights_desc(), step, &wg_plain);
  if (bias) e.args[DNNL_ARG_BIAS] = p.view(p.add_constant(*q.bias_codes), bias_md, step);
  add_zero_point(p, xg, e, step);
  e.args[DNNL_ARG_DST] = p.output(out.value, pd.dst_desc());
  if (residual) p.copy_into(p.slot(g.post[0].other), e.args[DNNL_ARG_DST], step);
  e.prim = conv(pd);
  step.execs.push_back(std::move(e));
}

// Y = alpha * A B' + beta * C: the bias codes in the accumulator when C is the quantized bias,
// else beta * C as the first post-op (as the fp32 path does).
void make_int_gemm(Plan& p, const Group& g, Step& step, const LayerQuant& q, const ActGrid& xg,
                   const IntOutput& out) {
  const Node& n = *g.nodes[0];
  const Shape a = p.shape(n.inputs[0]), b = q.codes->shape();
  const bool tb = n.attr_int("transB", 0) != 0;
  const std::int64_t M = a[0], K = a[1], N = tb ? b[0] : b[1];
  const memory::desc b_md =
      tb ? memory::desc({K, N}, dt::s8, {1, K}) : memory::desc({K, N}, dt::s8, {N, 1});
  Exec e;
  dnnl::post_ops ops;
  const float alpha = n.attr_float("alpha", 1.0f), beta = n.attr_float("beta", 1.0f);
  bool bias_codes = false;
  if (n.has_input(2) && beta != 0.0f) {
    int sc = p.slot(n.inputs[2]);
    bias_codes =
        q.bias_codes && alpha == 1.0f && beta == 1.0f && shape_numel(p.slots[sc].shape) == N;
    if (!bias_codes) {
      if (beta != 1.0f) {  // a constant C (checked in support.cpp): scale it once
        Tensor scaled = p.slots[sc].tensor.clone();
        for (std::int64_t i = 0; i < scaled.numel(); ++i) scaled.data<float>()[i] *= beta;
        sc = p.add_constant(scaled);
      }
      const memory::desc c_md = padded_md(p.slots[sc].shape, 2);
      ops.append_binary(alg::binary_add, c_md);
      e.args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1] = p.view(sc, c_md, step);
    }
  }
  p.append_post_ops(ops, g, 2, step, e.args);
  append_output(p, ops, out, 2, e, step);
  dnnl::primitive_attr attr;
  set_int_attr(attr, xg, q, 1 << 1, alpha, ops);
  const memory::desc a_md = plain_of({M, K}, codes_type(xg)),
                     y_md = plain_of({M, N}, out_type(out));
  const memory::desc bias_md = plain_of({1, N}, dt::s32);
  const dnnl::matmul::desc desc =
      bias_codes ? dnnl::matmul::desc(a_md, any_of({K, N}, dt::s8), bias_md, y_md)
                 : dnnl::matmul::desc(a_md, any_of({K, N}, dt::s8), y_md);
  dnnl::matmul::primitive_desc pd(desc, attr, p.engine);
  e.args[DNNL_ARG_SRC] = codes_view(p, p.slot(n.inputs[0]), {M, K}, step);
  e.args[DNNL_ARG_WEIGHTS] = p.in(p.add_constant(*q.codes), pd.weights_desc(), step, &b_md);
  if (bias_codes) e.args[DNNL_ARG_BIAS] = p.view(p.add_constant(*q.bias_codes), bias_md, step);
  add_zero_point(p, xg, e, step);
  e.args[DNNL_ARG_DST] = p.output(out.value, pd.dst_desc());
  e.prim = dnnl::matmul(pd);
  step.execs.push_back(std::move(e));
}

// A [..., M, K] times a constant B [K, N]: one [M', K] x [K, N] product when the post-ops allow
// it, else batched with B broadcast.
void make_int_matmul(Plan& p, const Group& g, Step& step, const LayerQuant& q, const ActGrid& xg,
                     const IntOutput& out) {
  const Node& n = *g.nodes[0];
  const Shape a = p.shape(n.inputs[0]), b = q.codes->shape();
  const int rank = static_cast<int>(a.size());
  const std::int64_t K = b[0], N = b[1];
  dims flat{shape_numel(a) / K, N};
  for (const PostOp& post : g.post) {
    memory::desc md;
    if (rank > 2 && post.eltwise.empty() &&
        !flat_operand(post.other.empty() ? post.other_constant.shape() : p.shape(post.other), flat,
                      md))
      flat.clear();
  }
  Shape bp(rank, 1);  // B padded to the rank of A (batched case)
  bp[rank - 2] = K;
  bp[rank - 1] = N;
  Shape y = a;
  y.back() = N;
  const bool two_d = rank == 2 || !flat.empty();
  const memory::desc a_md =
      two_d ? plain_of({shape_numel(a) / K, K}, codes_type(xg)) : plain_of(a, codes_type(xg));
  const memory::desc b_plain = two_d ? plain_of({K, N}, dt::s8) : plain_of(to_dims(bp), dt::s8);
  const memory::desc y_md =
      two_d ? plain_of({shape_numel(a) / K, N}, out_type(out)) : plain_of(y, out_type(out));
  const int out_rank = two_d ? 2 : rank;
  Exec e;
  dnnl::post_ops ops;
  p.append_post_ops(ops, g, out_rank, step, e.args, rank > 2 && two_d ? &flat : nullptr);
  append_output(p, ops, out, out_rank, e, step);
  dnnl::primitive_attr attr;
  set_int_attr(attr, xg, q, 1 << (out_rank - 1), 1.0f, ops);
  const memory::desc b_any = two_d ? any_of({K, N}, dt::s8) : any_of(bp, dt::s8);
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_any, y_md), attr, p.engine);
  e.args[DNNL_ARG_SRC] = codes_view(p, p.slot(n.inputs[0]), a_md.dims(), step);
  e.args[DNNL_ARG_WEIGHTS] = p.in(p.add_constant(*q.codes), pd.weights_desc(), step, &b_plain);
  add_zero_point(p, xg, e, step);
  e.args[DNNL_ARG_DST] = p.output(out.value, pd.dst_desc());
  e.prim = dnnl::matmul(pd);
  step.execs.push_back(std::move(e));
}

namespace {

// Whether `md` holds its elements densely (any order, no padding): then an elementwise op may
// run over it as one flat row.
bool dense(const memory::desc& md) {
  const dims d = md.dims();
  std::int64_t count = 1;
  for (std::int64_t v : d) count *= v;
  return md.data.format_kind == dnnl_blocked && md.data.extra.flags == 0 &&
         md.get_size() == static_cast<std::size_t>(count) * memory::data_type_size(md.data_type());
}

constexpr std::int64_t kSmall = std::int64_t{1} << 18;  // elements

}  // namespace

// FakeQuant in integer mode, on the CPU over the tensor as one flat row (HostQuantizer: the
// reference kernel's arithmetic; oneDNN's quantizing reorder adds the zero point before it
// rounds, and its binary with post-ops costs more than this on small tensors). `codes`: writes
// the codes (u8/s8) in the layout their readers want (`channels_last`: oneDNN's int8
// convolutions; else row-major), the fp32 input reordered into it first when it differs; else
// the dequantized values in fp32, in the input's layout when that is dense.
void make_fake_quant(Plan& p, const Node& n, const ActGrid& g, bool codes, bool channels_last,
                     Step& step) {
  const int s = p.slot(n.inputs[0]);
  const dims d = to_dims(p.slots[s].shape);
  const int rank = static_cast<int>(d.size());
  std::int64_t count = 1;
  for (std::int64_t v : d) count *= v;
  const memory src = p.current(s);
  memory::desc layout = src.get_desc();
  if (codes && channels_last && rank >= 3) {  // N, spatial..., C
    dims strides(rank);
    strides[1] = 1;
    std::int64_t stride = d[1];
    for (int i = rank - 1; i >= 2; --i) {
      strides[i] = stride;
      stride *= d[i];
    }
    strides[0] = stride;
    layout = memory::desc(d, dt::f32, strides);
  } else if (codes || !dense(layout)) {
    layout = plain_of(d, dt::f32);
  }
  // All threads, however small the tensor: a step that leaves oneDNN's worker threads idle makes
  // the next primitives slower (measured at two threads: the MaxPool after such a step took
  // twice as long).
  const int threads = omp_get_max_threads();
  const dnnl_memory_desc_t& md = src.get_desc().data;
  const auto& blocking = md.format_desc.blocking;
  if (codes && channels_last && rank >= 3 && !p.slots[s].has_plain &&
      md.format_kind == dnnl_blocked && blocking.inner_nblks == 1 && blocking.inner_idxs[0] == 1 &&
      blocking.inner_blks[0] == 16) {
    // Channel-blocked fp32 (oneDNN's nChw16c, a stable buffer) to channels-last codes, block by
    // block, without a reorder in between.
    std::vector<std::int64_t> pixels{md.offset0};  // the offset of each spatial position
    for (int i = 2; i < rank; ++i) {
      std::vector<std::int64_t> next;
      for (std::int64_t o : pixels)
        for (std::int64_t k = 0; k < d[i]; ++k) next.push_back(o + k * blocking.strides[i]);
      pixels.swap(next);
    }
    memory::desc out_md = layout;
    out_md.data.data_type = static_cast<dnnl_data_type_t>(codes_type(g));
    const memory dst = p.output(n.outputs[0], out_md);
    const std::int64_t batch = d[0], channels = d[1];
    const std::int64_t sn = blocking.strides[0], sc = blocking.strides[1];
    step.host_mems = {src, dst};
    step.host = [src, dst, q = HostQuantizer(g), pixels, batch, channels, sn, sc, threads] {
      const float* x = static_cast<const float*>(src.get_data_handle());
      std::uint8_t* y = static_cast<std::uint8_t*>(dst.get_data_handle());
      const std::int64_t count_pixels = static_cast<std::int64_t>(pixels.size());
#pragma omp parallel for num_threads(threads) if (threads > 1)
      for (std::int64_t b = 0; b < batch; ++b)
        for (std::int64_t k = 0; k < count_pixels; ++k) {
          const float* px = x + b * sn + pixels[static_cast<std::size_t>(k)];
          std::uint8_t* py = y + (b * count_pixels + k) * channels;
          for (std::int64_t c = 0; c < channels; c += 16) {
            const int width = static_cast<int>(std::min<std::int64_t>(16, channels - c));
            // A full 16-byte store only where 16 bytes of this sample's row remain: the bytes
            // past the channels land on the next pixel of the same sample, written after this
            // one, never on another sample (another thread's) or past the buffer.
            if ((count_pixels - k) * channels - c >= 16) {
              q.codes16(px + c / 16 * sc, py + c, width);
            } else {
              std::uint8_t block[16];
              q.codes16(px + c / 16 * sc, block, width);
              std::memcpy(py + c, block, static_cast<std::size_t>(width));
            }
          }
        }
    };
    return;
  }
  memory in;
  if (!same_layout(src.get_desc(), layout)) {
    // A small reorder runs faster single-threaded, and oneDNN partitions it when it is created.
    const ThreadScope scope(count < kSmall ? 1 : 0);
    in = p.in(s, layout, step);  // a buffer of its own
  } else {
    in = p.slots[s].has_plain ? p.view(s, layout, step) : src;  // views follow the Tensor
  }
  memory::desc out_md = layout;
  if (codes) out_md.data.data_type = static_cast<dnnl_data_type_t>(codes_type(g));
  const memory dst = p.output(n.outputs[0], out_md);
  step.host_mems = {in, dst};
  step.host = [in, dst, q = HostQuantizer(g), count, codes, threads] {
    const float* x = static_cast<const float*>(in.get_data_handle());
    void* y = dst.get_data_handle();
    const std::int64_t chunk = (count / threads + 15) / 16 * 16;
#pragma omp parallel for num_threads(threads) if (threads > 1)
    for (int t = 0; t < threads; ++t) {
      const std::int64_t begin = std::min(count, t * chunk), end = std::min(count, begin + chunk);
      const std::size_t bytes = codes ? 1 : 4;
      q.run(x + begin, end - begin, codes,
            static_cast<char*>(y) + static_cast<std::size_t>(begin) * bytes);
    }
  };
}

// MaxPool on codes (quantization is monotone: the max of codes is the code of the max).
void make_pool_codes(Plan& p, const Node& n, const std::string& dst, Step& step) {
  const Shape x = p.shape(n.inputs[0]), y = p.shape(n.outputs[0]);
  Geometry geo;
  pool_geometry(n, x, geo);
  const memory src = p.slots[p.slot(n.inputs[0])].mem;
  dnnl::pooling_v2_forward::desc desc(dnnl::prop_kind::forward_inference, alg::pooling_max,
                                      src.get_desc(), any_of(y, src.get_desc().data_type()),
                                      geo.strides, geo.kernel, geo.dilations, geo.pad_begin,
                                      geo.pad_end);
  dnnl::pooling_v2_forward::primitive_desc pd(desc, p.engine);
  Exec e;
  e.args[DNNL_ARG_SRC] = src;
  e.args[DNNL_ARG_DST] = p.output(dst, pd.dst_desc());
  e.prim = dnnl::pooling_v2_forward(pd);
  step.execs.push_back(std::move(e));
}

// Flatten or Reshape of codes: a row-major view (after a reorder when the codes are blocked).
void make_reshape_codes(Plan& p, const Node& n, const std::string& dst, Step& step) {
  const memory view = codes_view(p, p.slot(n.inputs[0]), to_dims(p.shape(n.outputs[0])), step);
  Slot& out = p.slots[p.slot(dst)];
  out.has_plain = false;
  out.mem = view;
}

}  // namespace qs::onednn
