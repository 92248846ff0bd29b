// Conv (grouped, depthwise), Gemm and MatMul on gemm.comp and depthwise.comp.
#include <algorithm>

#include "ops.h"

namespace qs::vk {

namespace {

struct GemmPush {
  std::int32_t M, N, K;
  std::int32_t a_sm, a_sk, b_sn, b_sk, c_sm, c_sn;
  float lo, hi, alpha, beta;
  std::int32_t bias_sm, bias_sn;
  std::int32_t group_size, groups_per_row, k_words;
  std::int32_t C_in, H, W, OH, OW;
  Taps taps;
  std::int32_t O_total;
};
static_assert(sizeof(GemmPush) <= kPushBytes);

// depthwise.comp's and conv_transpose.comp's parameters (`extra`: the channel multiplier, or
// the group count).
struct WindowPush {
  std::int32_t total, C, H, W, O, OH, OW;
  Taps taps;
  std::int32_t extra;
  float lo, hi;
};

std::uint32_t groups_for(std::int64_t n, std::int64_t tile) {
  return static_cast<std::uint32_t>((n + tile - 1) / tile);
}

// gemm.comp's rows and columns per invocation for an M x N product: narrow tiles where one
// side is small, so that a 64-wide tile is not mostly idle, as long as enough work groups remain
// to fill a GPU (a CPU implementation such as lavapipe runs few, larger groups best).
struct Tile {
  int rm, rn;
};
Tile tile_for(std::int64_t m, std::int64_t n, bool cpu) {
  auto enough = [&](int rm, int rn) {
    return cpu || (m + 16 * rm - 1) / (16 * rm) * ((n + 16 * rn - 1) / (16 * rn)) >= 256;
  };
  if (n <= 16 && m > 64 && enough(16, 1)) return {16, 1};
  if (n <= 32 && m > 64 && enough(8, 2)) return {8, 2};
  if (m <= 16 && n > 64 && enough(1, 16)) return {1, 16};
  return {4, 4};
}

// Dispatches gemm.comp over an M x N product with `z` work groups deep.
void dispatch_gemm(Plan& p, int mode, int wfmt, int act, bool bias, std::vector<Binding> b,
                   const void* push, std::size_t bytes, std::int64_t m, std::int64_t n,
                   std::uint32_t z) {
  const Tile t = tile_for(m, n, p.ctx().info().type == "CPU");
  const Kernel& k = p.ctx().kernel("gemm", 7, {mode, wfmt, act, bias ? 1 : 0, t.rm, t.rn});
  p.dispatch(k, std::move(b), push, bytes, groups_for(n, 16 * t.rn), groups_for(m, 16 * t.rm), z);
}

// Conv's input, weight and output as 4-D (1-D convolutions get height 1).
Shape as_4d(const Shape& s) {
  if (s.size() == 3) return {s[0], s[1], 1, s[2]};
  return s;
}

// Depthwise: one input channel per group (the output channels may be a multiple of it).
bool is_depthwise(const Shape& x, const Shape& w, std::int64_t group) {
  return group > 1 && group == x[1] && w[1] == 1;
}

}  // namespace

std::string matmul_unsupported(const Graph& graph, const Node& node, const ShapeOf& shape_of,
                               bool packed) {
  const std::string& op = node.op_type;
  const Tensor* a = shape_of(node.inputs[0]);
  const Tensor* b = node.inputs.size() > 1 ? shape_of(node.inputs[1]) : nullptr;
  const Tensor* y = shape_of(node.outputs[0]);
  if (!is_f32(a) || !is_f32(b) || !is_f32(y)) return "dtype";
  if (shape_numel(a->shape()) > kMaxElements || shape_numel(y->shape()) > kMaxElements)
    return "size";
  if (node.inputs.size() > 2 && !node.inputs[2].empty() && !is_f32(shape_of(node.inputs[2])))
    return "bias dtype";
  if (op == "Conv") {
    if (a->rank() != 4 && a->rank() != 3) return "Conv of rank " + std::to_string(a->rank());
    Geometry2d g;
    const Shape w = as_4d(b->shape());
    const std::string why = conv_taps(node, a->shape(), b->shape(), g);
    if (!why.empty()) return why;
    if (node.inputs.size() > 2 && !node.inputs[2].empty() &&
        shape_numel(shape_of(node.inputs[2])->shape()) != w[0])
      return "bias size";
    return "";
  }
  if (op == "ConvTranspose") {
    if (a->rank() != 4) return "ConvTranspose of rank " + std::to_string(a->rank());
    const Shape& w = b->shape();
    const std::int64_t group = node.attr_int("group", 1);
    if (group < 1 || a->shape()[1] % group != 0 || w[0] != a->shape()[1] ||
        w[1] * group != y->shape()[1])
      return "ConvTranspose channels";
    Geometry2d g;
    const std::string why = conv_transpose_taps(node, a->shape(), w, g);
    if (!why.empty()) return why;
    if (node.inputs.size() > 2 && !node.inputs[2].empty() &&
        shape_numel(shape_of(node.inputs[2])->shape()) != y->shape()[1])
      return "bias size";
    return "";
  }
  if (op == "Gemm") {
    if (a->rank() != 2 || b->rank() != 2) return "Gemm of rank other than 2";
    if (node.inputs.size() > 2 && !node.inputs[2].empty() && shape_of(node.inputs[2])->rank() > 2)
      return "Gemm C of rank above 2";
    return "";
  }
  if (op == "MatMul") {
    if (a->rank() < 1 || b->rank() < 1 || y->rank() > 6) return "MatMul rank";
    if (packed && b->rank() != 2) return "weight-only MatMul of rank other than 2";
    return "";
  }
  return "op " + op;
}

void build_matmul(Plan& p, const Node& node, const PackedLayer* packed, int act, float lo,
                  float hi) {
  const Shape& ys = p.shape(node.outputs[0]);
  const bool has_bias = node.inputs.size() > 2 && !node.inputs[2].empty();
  GemmPush pc{};
  pc.lo = lo;
  pc.hi = hi;
  pc.alpha = 1.0f;
  pc.beta = 1.0f;
  pc.bias_sn = 1;
  Binding x = p.in(node.inputs[0]);
  Binding bias = has_bias ? p.in(node.inputs[2]) : p.dummy();
  Binding weights = p.dummy(), scales = p.dummy(), zeros = p.dummy();
  if (packed) {
    weights = p.upload(packed->words.data(), packed->words.size() * 4);
    scales = p.upload(packed->scales.data(), packed->scales.size() * 4);
    zeros = p.upload(packed->zero_points.data(), packed->zero_points.size() * 4);
    pc.group_size = static_cast<std::int32_t>(packed->group_size);
    pc.groups_per_row = static_cast<std::int32_t>(packed->groups_per_row);
    pc.k_words = static_cast<std::int32_t>(packed->k_words);
  }
  const int wfmt = packed ? packed->format : 0;

  if (node.op_type == "ConvTranspose") {
    const Shape& xs = p.shape(node.inputs[0]);
    const Shape& ws = p.shape(node.inputs[1]);
    Geometry2d g;
    conv_transpose_taps(node, xs, ws, g);
    const WindowPush d{i32(shape_numel(ys)),
                       i32(xs[1]),
                       i32(xs[2]),
                       i32(xs[3]),
                       i32(ys[1]),
                       i32(ys[2]),
                       i32(ys[3]),
                       g.taps,
                       i32(node.attr_int("group", 1)),
                       lo,
                       hi};
    const Kernel& k = p.ctx().kernel("conv_transpose", 4, {act, has_bias ? 1 : 0});
    p.dispatch_1d(k, {x, p.in(node.inputs[1]), bias, p.out(node.outputs[0])}, &d, sizeof d,
                  d.total);
    return;
  }
  if (node.op_type == "Conv") {
    const Shape xs = as_4d(p.shape(node.inputs[0]));
    const Shape ws = as_4d(p.shape(node.inputs[1]));
    const Shape os = as_4d(ys);
    Geometry2d g;
    conv_taps(node, p.shape(node.inputs[0]), p.shape(node.inputs[1]), g);
    const std::int64_t group = node.attr_int("group", 1);
    Binding y = p.out(node.outputs[0]);
    if (is_depthwise(xs, ws, group)) {
      const WindowPush d{i32(shape_numel(os)), i32(xs[1]), i32(xs[2]), i32(xs[3]),
                         i32(os[1]),           i32(os[2]), i32(os[3]), g.taps,
                         i32(os[1] / xs[1]),   lo,         hi};
      // The simulation graph's weights are the dequantized codes: depthwise layers read them.
      const Kernel& k = p.ctx().kernel("depthwise", 4, {act, has_bias ? 1 : 0});
      p.dispatch_1d(k, {x, p.in(node.inputs[1]), bias, y}, &d, sizeof d, d.total);
      return;
    }
    if (!packed) weights = p.in(node.inputs[1]);
    pc.M = static_cast<std::int32_t>(xs[0] * os[2] * os[3]);
    pc.N = static_cast<std::int32_t>(ws[0] / group);
    pc.K = static_cast<std::int32_t>(ws[1] * ws[2] * ws[3]);
    pc.C_in = i32(xs[1]);
    pc.H = i32(xs[2]);
    pc.W = i32(xs[3]);
    pc.OH = i32(os[2]);
    pc.OW = i32(os[3]);
    pc.taps = g.taps;
    pc.O_total = static_cast<std::int32_t>(ws[0]);
    dispatch_gemm(p, 1, wfmt, act, has_bias, {x, weights, bias, y, p.dummy(), scales, zeros}, &pc,
                  sizeof pc, pc.M, pc.N, static_cast<std::uint32_t>(group));
    return;
  }

  // Gemm and MatMul: C[m, n] = sum_k A[m, k] B[n, k] with strides, per batch.
  Shape as = p.shape(node.inputs[0]), bs = p.shape(node.inputs[1]);
  std::vector<std::int32_t> offsets;
  if (node.op_type == "Gemm") {
    const bool ta = node.attr_int("transA", 0) != 0, tb = node.attr_int("transB", 0) != 0;
    pc.M = static_cast<std::int32_t>(ta ? as[1] : as[0]);
    pc.K = static_cast<std::int32_t>(ta ? as[0] : as[1]);
    pc.N = static_cast<std::int32_t>(tb ? bs[0] : bs[1]);
    pc.a_sm = ta ? 1 : static_cast<std::int32_t>(as[1]);
    pc.a_sk = ta ? static_cast<std::int32_t>(as[1]) : 1;
    pc.b_sn = tb ? static_cast<std::int32_t>(bs[1]) : 1;
    pc.b_sk = tb ? 1 : static_cast<std::int32_t>(bs[1]);
    pc.alpha = node.attr_float("alpha", 1.0f);
    pc.beta = node.attr_float("beta", 1.0f);
    pc.c_sm = pc.N;
    pc.c_sn = 1;
    offsets = {0, 0, 0};
    if (has_bias) {  // C broadcasts to [M, N]: a scalar, a row, a column or the whole matrix
      Shape cs = p.shape(node.inputs[2]);
      while (cs.size() < 2) cs.insert(cs.begin(), 1);
      pc.bias_sm = cs[0] == 1 ? 0 : static_cast<std::int32_t>(cs[1]);
      pc.bias_sn = cs[1] == 1 ? 0 : 1;
    }
  } else {
    // numpy matmul: 1-D operands gain a dimension, batch dims broadcast.
    const bool a_vec = as.size() == 1, b_vec = bs.size() == 1;
    if (a_vec) as.insert(as.begin(), 1);
    if (b_vec) bs.push_back(1);
    const std::size_t ra = as.size(), rb = bs.size();
    pc.M = static_cast<std::int32_t>(as[ra - 2]);
    pc.K = static_cast<std::int32_t>(as[ra - 1]);
    pc.N = static_cast<std::int32_t>(bs[rb - 1]);
    pc.a_sm = pc.K;
    pc.a_sk = 1;
    pc.b_sn = 1;
    pc.b_sk = pc.N;
    pc.c_sm = pc.N;
    pc.c_sn = 1;
    const std::size_t batch_rank = std::max(ra, rb) - 2;
    Shape batch(batch_rank, 1), sa(batch_rank, 0), sb(batch_rank, 0);
    std::int64_t stride_a = std::int64_t{pc.M} * pc.K, stride_b = std::int64_t{pc.K} * pc.N;
    for (std::size_t i = 0; i < batch_rank; ++i) {
      const std::size_t d = batch_rank - 1 - i;  // from the innermost batch dim
      const std::int64_t da = i < ra - 2 ? as[ra - 3 - i] : 1;
      const std::int64_t db = i < rb - 2 ? bs[rb - 3 - i] : 1;
      batch[d] = std::max(da, db);
      sa[d] = da == 1 ? 0 : stride_a;
      sb[d] = db == 1 ? 0 : stride_b;
      stride_a *= da;
      stride_b *= db;
    }
    const std::int64_t batches = shape_numel(batch);
    for (std::int64_t bi = 0; bi < batches; ++bi) {
      std::int64_t rest = bi, oa = 0, ob = 0;
      for (std::size_t d = batch_rank; d-- > 0;) {
        const std::int64_t c = rest % batch[d];
        rest /= batch[d];
        oa += c * sa[d];
        ob += c * sb[d];
      }
      offsets.push_back(static_cast<std::int32_t>(oa));
      offsets.push_back(static_cast<std::int32_t>(ob));
      offsets.push_back(static_cast<std::int32_t>(bi * pc.M * pc.N));
    }
    // A weight [K, N] of a batch of rows (the usual Linear) is one product of all the rows.
    if (batches > 1 && rb == 2 && !b_vec && !a_vec) {
      pc.M = static_cast<std::int32_t>(pc.M * batches);
      offsets = {0, 0, 0};
    }
  }
  if (packed) {
    // Codes are stored [N, K]: one row per output column.
    pc.b_sn = pc.K;
    pc.b_sk = 1;
  } else {
    weights = p.in(node.inputs[1]);
  }
  Binding offs = p.upload(offsets.data(), offsets.size() * 4);
  Binding y = p.out(node.outputs[0]);
  dispatch_gemm(p, 0, wfmt, act, has_bias, {x, weights, bias, y, offs, scales, zeros}, &pc,
                sizeof pc, pc.M, pc.N, static_cast<std::uint32_t>(offsets.size() / 3));
}

}  // namespace qs::vk
