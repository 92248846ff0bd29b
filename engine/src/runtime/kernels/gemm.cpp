// Gemm and MatMul (numpy semantics: 1-D promotion, batched broadcasting), via Eigen.
#include <Eigen/Core>

#include "runtime/kernel_util.h"
#include "runtime/kernels/kernels.h"

namespace qs::kernels {

using RowMajorMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const RowMajorMatrix>;

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
  const float alpha = c.node.attr_float("alpha", 1.0f);
  const float beta = c.node.attr_float("beta", 1.0f);
  ConstMap ma(a.data<float>(), a.dim(0), a.dim(1));
  ConstMap mb(b.data<float>(), b.dim(0), b.dim(1));
  Eigen::Map<RowMajorMatrix> mo(out.data<float>(), M, N);
  if (trans_a && trans_b)
    mo.noalias() = ma.transpose() * mb.transpose();
  else if (trans_a)
    mo.noalias() = ma.transpose() * mb;
  else if (trans_b)
    mo.noalias() = ma * mb.transpose();
  else
    mo.noalias() = ma * mb;
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
