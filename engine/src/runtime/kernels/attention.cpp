// Attention (ONNX opset 23) with 4-D inputs: Y = softmax(Q K^T * scale + mask) V per head, the
// keys and values after the past ones, each group of Hq / Hkv query heads sharing one key and
// value head (grouped-query attention). What fuse_attention makes of a decoder's spelled-out
// attention; the reference for the devices' fused kernels. Sums in double.
#include <cmath>
#include <limits>

#include "runtime/kernel_util.h"
#include "runtime/kernels/kernels.h"

namespace qs::kernels {

namespace {

// The key (or value) row `t` of head `h` of batch `b`: past rows first, then the new ones.
const float* kv_row(const Tensor* past, const Tensor& now, std::int64_t b, std::int64_t h,
                    std::int64_t t) {
  const std::int64_t p = past ? past->dim(2) : 0, heads = now.dim(1), d = now.dim(3);
  if (t < p) return past->data<float>() + ((b * heads + h) * p + t) * d;
  return now.data<float>() + ((b * heads + h) * now.dim(2) + (t - p)) * d;
}

// past [B, H, P, d] and now [B, H, S, d] as one [B, H, P + S, d].
void concatenate(const Tensor* past, const Tensor& now, Tensor& out) {
  const std::int64_t rows = out.dim(2), d = out.dim(3);
  float* dst = out.data<float>();
  for (std::int64_t b = 0; b < out.dim(0); ++b)
    for (std::int64_t h = 0; h < out.dim(1); ++h)
      for (std::int64_t t = 0; t < rows; ++t, dst += d) {
        const float* src = kv_row(past, now, b, h, t);
        std::copy(src, src + d, dst);
      }
}

}  // namespace

void attention(KernelContext& c) {
  for (int i : {0, 1, 2, 4, 5})
    if (c.has(i)) require_float(c, i);
  const Tensor& q = c.in(0);
  const Tensor& k = c.in(1);
  const Tensor& v = c.in(2);
  if (q.rank() != 4 || k.rank() != 4 || v.rank() != 4)
    c.unsupported("inputs of rank 3 (heads folded into the hidden size)");
  if (c.node.attr_int("is_causal", 0) != 0) c.unsupported("is_causal");
  if (c.node.attr_float("softcap", 0.0f) != 0.0f) c.unsupported("softcap");
  if (c.node.outputs.size() > 3 && !c.node.outputs[3].empty())
    c.unsupported("the qk_matmul_output output");
  if (c.input_count() > 6) c.unsupported("inputs after past_value (nonpad_kv_seqlen)");
  if (c.has(4) != c.has(5)) c.fail("past_key and past_value must be given together");
  const Tensor* past_k = c.has(4) ? &c.in(4) : nullptr;
  const Tensor* past_v = c.has(5) ? &c.in(5) : nullptr;
  const std::int64_t batch = q.dim(0), q_heads = q.dim(1), s = q.dim(2), d = q.dim(3);
  const std::int64_t kv_heads = k.dim(1), fresh = k.dim(2), dv = v.dim(3);
  const std::int64_t past = past_k ? past_k->dim(2) : 0, total = past + fresh;
  auto same = [](const Tensor& t, std::initializer_list<std::int64_t> dims) {
    return t.rank() == static_cast<int>(dims.size()) &&
           std::equal(dims.begin(), dims.end(), t.shape().begin());
  };
  if (kv_heads < 1 || q_heads % kv_heads != 0)
    c.fail(std::to_string(q_heads) + " query heads do not share " + std::to_string(kv_heads) +
           " key heads evenly");
  if (!same(k, {batch, kv_heads, fresh, d}) || !same(v, {batch, kv_heads, fresh, dv}))
    c.fail("K " + shape_to_string(k.shape()) + " and V " + shape_to_string(v.shape()) +
           " do not fit Q " + shape_to_string(q.shape()));
  if (past_k &&
      (!same(*past_k, {batch, kv_heads, past, d}) || !same(*past_v, {batch, kv_heads, past, dv})))
    c.fail("the past keys " + shape_to_string(past_k->shape()) + " and values " +
           shape_to_string(past_v->shape()) + " do not fit K and V");
  const Shape scores_shape{batch, q_heads, s, total};
  std::vector<std::int64_t> mask_at;
  if (c.has(3)) {
    if (c.in(3).dtype() != DType::f32 && c.in(3).dtype() != DType::boolean)
      c.fail("the mask must be float32 (added) or bool (true: attend)");
    if (broadcast_shapes(c, c.in(3).shape(), scores_shape) != scores_shape)
      c.fail("the mask " + shape_to_string(c.in(3).shape()) + " does not broadcast to " +
             shape_to_string(scores_shape));
  }
  Tensor& y = c.output(0, DType::f32, {batch, q_heads, s, dv});
  const bool want_present = c.node.outputs.size() > 1 && !c.node.outputs[1].empty();
  if (want_present) {
    c.output(1, DType::f32, {batch, kv_heads, total, d});
    c.output(2, DType::f32, {batch, kv_heads, total, dv});
  }
  if (c.shape_only) return;
  if (want_present) {
    concatenate(past_k, k, c.outputs[1]);
    concatenate(past_v, v, c.outputs[2]);
  }
  if (c.has(3)) mask_at = broadcast_index_map(c.in(3).shape(), scores_shape);
  const double scale = c.node.has_attr("scale") ? c.node.attr_float("scale", 1.0f)
                                                : 1.0 / std::sqrt(static_cast<double>(d));
  const std::int64_t group = q_heads / kv_heads;
  std::vector<double> scores(static_cast<std::size_t>(total)), out(static_cast<std::size_t>(dv));
  float* py = y.data<float>();
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t h = 0; h < q_heads; ++h)
      for (std::int64_t i = 0; i < s; ++i) {
        const float* qi = q.data<float>() + ((b * q_heads + h) * s + i) * d;
        double top = -std::numeric_limits<double>::infinity();
        for (std::int64_t t = 0; t < total; ++t) {
          const float* kt = kv_row(past_k, k, b, h / group, t);
          double dot = 0;
          for (std::int64_t e = 0; e < d; ++e) dot += double(qi[e]) * kt[e];
          // Rounded to float as the spelled-out graph rounds its scores.
          double score = static_cast<float>(dot * scale);
          if (c.has(3)) {
            const std::int64_t m =
                mask_at[static_cast<std::size_t>(((b * q_heads + h) * s + i) * total + t)];
            if (c.in(3).dtype() == DType::boolean)
              score = c.in(3).data<bool>()[m] ? score : -std::numeric_limits<double>::infinity();
            else
              score += c.in(3).data<float>()[m];
          }
          scores[t] = score;
          top = std::max(top, score);
        }
        double sum = 0;
        for (double& x : scores) sum += (x = std::exp(x - top));
        std::fill(out.begin(), out.end(), 0.0);
        for (std::int64_t t = 0; t < total; ++t) {
          const float* vt = kv_row(past_v, v, b, h / group, t);
          const double w = scores[t] / sum;
          for (std::int64_t e = 0; e < dv; ++e) out[e] += w * vt[e];
        }
        for (std::int64_t e = 0; e < dv; ++e) *py++ = static_cast<float>(out[e]);
      }
}

}  // namespace qs::kernels
