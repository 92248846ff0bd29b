// Gemm and MatMul (numpy semantics: 1-D promotion, batched broadcasting), via Eigen. A
// quantized layer of the simulation graph sums its integer levels exactly (integer_layer.h).
#include <Eigen/Core>

#include "runtime/kernel_util.h"
#include "runtime/kernels/integer_layer.h"
#include "runtime/kernels/kernels.h"

namespace qs::kernels {

namespace {

template <typename T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowMajorMatrix = Matrix<float>;
using ConstMap = Eigen::Map<const RowMajorMatrix>;

// op(A) op(B) into `out` [M, N], in T. A is [rows_a, cols_a], B [rows_b, cols_b].
template <typename T>
void product(const T* a, std::int64_t rows_a, std::int64_t cols_a, bool trans_a, const T* b,
             std::int64_t rows_b, std::int64_t cols_b, bool trans_b, T* out) {
  Eigen::Map<const Matrix<T>> ma(a, rows_a, cols_a), mb(b, rows_b, cols_b);
  Eigen::Map<Matrix<T>> mo(out, trans_a ? cols_a : rows_a, trans_b ? rows_b : cols_b);
  if (trans_a && trans_b)
    mo.noalias() = ma.transpose() * mb.transpose();
  else if (trans_a)
    mo.noalias() = ma.transpose() * mb;
  else if (trans_b)
    mo.noalias() = ma * mb.transpose();
  else
    mo.noalias() = ma * mb;
}

// The exact integer sums of levels into `out` (as floats, as the integer kernels convert them).
void level_product(const std::vector<float>& a, std::int64_t rows_a, std::int64_t cols_a,
                   bool trans_a, float a_max, const IntegerLayer& layer, std::int64_t rows_b,
                   std::int64_t cols_b, bool trans_b, float* out) {
  const std::int64_t K = trans_a ? rows_a : cols_a;
  if (exact_in_float(a_max, layer.w_max, K)) {
    product<float>(a.data(), rows_a, cols_a, trans_a, layer.w_levels.data(), rows_b, cols_b,
                   trans_b, out);
    return;
  }
  const std::vector<double> ad(a.begin(), a.end());
  const std::vector<double> bd(layer.w_levels.begin(), layer.w_levels.end());
  const std::int64_t count = (trans_a ? cols_a : rows_a) * (trans_b ? rows_b : cols_b);
  std::vector<double> acc(static_cast<std::size_t>(count));
  product<double>(ad.data(), rows_a, cols_a, trans_a, bd.data(), rows_b, cols_b, trans_b,
                  acc.data());
  for (std::int64_t i = 0; i < count; ++i) out[i] = static_cast<float>(acc[i]);
}

// Each row of sums [rows, N]: (sum + bias code) x scale per column, as the integer kernels
// convert, add and scale.
void scale_rows(float* po, std::int64_t rows, std::int64_t N, const float* scales,
                const float* bias) {
  for (std::int64_t r = 0; r < rows; ++r) {
    float* row = po + r * N;
    if (bias)
      for (std::int64_t n = 0; n < N; ++n) row[n] = (row[n] + bias[n]) * scales[n];
    else
      for (std::int64_t n = 0; n < N; ++n) row[n] *= scales[n];
  }
}

// Gemm of a quantized layer: (exact sum + bias code) x output scale when C is the bias on the
// accumulator's grid (and alpha = beta = 1), else sum x (output scale x alpha) + beta C: what
// the integer kernels compute.
bool integer_gemm(KernelContext& c, bool trans_a, bool trans_b, std::int64_t M, std::int64_t N,
                  float* po) {
  const Tensor& a = c.in(0);
  const Tensor& b = c.in(1);
  const float alpha = c.node.attr_float("alpha", 1.0f);
  const float beta = c.node.attr_float("beta", 1.0f);
  std::optional<IntegerLayer> scratch;
  const std::optional<IntegerLayer>& layer = integer_form(c, scratch);
  if (!layer) return false;
  float a_max = 0;
  const std::optional<std::vector<float>> levels = input_levels(a, layer->x_scale, a_max);
  if (!levels) return false;
  level_product(*levels, a.dim(0), a.dim(1), trans_a, a_max, *layer, b.dim(0), b.dim(1), trans_b,
                po);
  if (layer->bias.empty()) {
    std::vector<float> scales(layer->scales);
    for (float& s : scales) s *= alpha;
    scale_rows(po, M, N, scales.data(), nullptr);
  } else {
    scale_rows(po, M, N, layer->scales.data(), layer->bias.data());
  }
  if (c.has(2) && beta != 0.0f && layer->bias.empty()) {
    const float* pc = c.in(2).data<float>();
    auto map = broadcast_index_map(c.in(2).shape(), Shape{M, N});
    for (std::int64_t i = 0; i < M * N; ++i) po[i] += beta * pc[map[i]];
  }
  return true;
}

// MatMul of a quantized layer: A [..., K] times constant weights B [K, N], every row of A
// against B; exact sum x output scale.
bool integer_matmul(KernelContext& c, std::int64_t K, std::int64_t N, float* po) {
  std::optional<IntegerLayer> scratch;
  const std::optional<IntegerLayer>& layer = integer_form(c, scratch);
  if (!layer) return false;
  float a_max = 0;
  const std::optional<std::vector<float>> levels = input_levels(c.in(0), layer->x_scale, a_max);
  if (!levels) return false;
  const std::int64_t rows = c.in(0).numel() / K;
  level_product(*levels, rows, K, false, a_max, *layer, K, N, false, po);
  scale_rows(po, rows, N, layer->scales.data(), nullptr);
  return true;
}

}  // namespace

void gemm(KernelContext& c) {
  require_float(c, 0);
  require_float(c, 1);
  const Tensor& a = c.in(0);
  const Tensor& b = c.in(1);
  if (a.rank() != 2 || b.rank() != 2)
    c.fail("A and B must be 2-D, got " + shape_to_string(a.shape()) + " and " +
           shape_to_string(b.shape()));
  const bool trans_a = c.node.attr_int("transA", 0) != 0;
  const bool trans_b = c.node.attr_int("transB", 0) != 0;
  const std::int64_t M = trans_a ? a.dim(1) : a.dim(0), K = trans_a ? a.dim(0) : a.dim(1);
  const std::int64_t Kb = trans_b ? b.dim(1) : b.dim(0), N = trans_b ? b.dim(0) : b.dim(1);
  if (K != Kb)
    c.fail("inner dimensions differ: A " + shape_to_string(a.shape()) + ", B " +
           shape_to_string(b.shape()));
  Shape out_shape{M, N};
  if (c.has(2)) {
    require_float(c, 2);
    if (broadcast_shapes(c, c.in(2).shape(), out_shape) != out_shape)
      c.fail("C " + shape_to_string(c.in(2).shape()) + " does not broadcast to " +
             shape_to_string(out_shape));
  }
  Tensor& out = c.output(0, DType::f32, out_shape);
  if (c.shape_only) return;
  if (quant::has_quantized_weights(c.node) &&
      integer_gemm(c, trans_a, trans_b, M, N, out.data<float>()))
    return;
  const float alpha = c.node.attr_float("alpha", 1.0f);
  const float beta = c.node.attr_float("beta", 1.0f);
  product<float>(a.data<float>(), a.dim(0), a.dim(1), trans_a, b.data<float>(), b.dim(0), b.dim(1),
                 trans_b, out.data<float>());
  Eigen::Map<RowMajorMatrix> mo(out.data<float>(), M, N);
  if (alpha != 1.0f) mo *= alpha;
  if (c.has(2) && beta != 0.0f) {
    const float* pc = c.in(2).data<float>();
    auto map = broadcast_index_map(c.in(2).shape(), out_shape);
    float* po = out.data<float>();
    for (std::int64_t i = 0; i < M * N; ++i) po[i] += beta * pc[map[i]];
  }
}

void matmul(KernelContext& c) {
  require_float(c, 0);
  require_float(c, 1);
  Shape sa = c.in(0).shape(), sb = c.in(1).shape();
  if (sa.empty() || sb.empty()) c.fail("inputs must have rank >= 1");
  // 1-D operands are promoted to matrices and the added dimension is removed afterwards.
  const bool vec_a = sa.size() == 1, vec_b = sb.size() == 1;
  if (vec_a) sa.insert(sa.begin(), 1);
  if (vec_b) sb.push_back(1);
  const std::int64_t M = sa[sa.size() - 2], K = sa.back(), N = sb.back();
  if (sb[sb.size() - 2] != K)
    c.fail("inner dimensions differ: " + shape_to_string(c.in(0).shape()) + " x " +
           shape_to_string(c.in(1).shape()));
  Shape batch_a(sa.begin(), sa.end() - 2), batch_b(sb.begin(), sb.end() - 2);
  Shape batch = broadcast_shapes(c, batch_a, batch_b);
  Shape out_shape = batch;
  if (!vec_a) out_shape.push_back(M);
  if (!vec_b) out_shape.push_back(N);
  Tensor& out = c.output(0, DType::f32, out_shape);
  if (c.shape_only) return;
  if (quant::has_quantized_weights(c.node) && !vec_b && c.in(1).rank() == 2 &&
      integer_matmul(c, K, N, out.data<float>()))
    return;
  auto map_a = broadcast_index_map(batch_a, batch);
  auto map_b = broadcast_index_map(batch_b, batch);
  const float* pa = c.in(0).data<float>();
  const float* pb = c.in(1).data<float>();
  float* po = out.data<float>();
  for (std::size_t i = 0; i < map_a.size(); ++i) {
    ConstMap ma(pa + map_a[i] * M * K, M, K);
    ConstMap mb(pb + map_b[i] * K * N, K, N);
    Eigen::Map<RowMajorMatrix> mo(po + i * M * N, M, N);
    mo.noalias() = ma * mb;
  }
}

}  // namespace qs::kernels
