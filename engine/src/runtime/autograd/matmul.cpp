// Backward rules of Gemm (alpha, beta, transA, transB, broadcast C) and MatMul (numpy
// semantics: 1-D promotion, batched broadcasting; broadcast batches are summed).
#include <Eigen/Core>
#include <vector>

#include "runtime/autograd/rules.h"
#include "runtime/kernel_util.h"

namespace qs::autograd {

namespace {

using RowMajorMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const RowMajorMatrix>;
using Map = Eigen::Map<RowMajorMatrix>;

}  // namespace

void gemm_backward(BackwardContext& c) {
  // Y = alpha * op(A) op(B) + beta * C, op(A) [M, K], op(B) [K, N].
  const Tensor& a = c.in(0);
  const Tensor& b = c.in(1);
  const Tensor& gy = c.grad_out(0);
  const bool trans_a = c.node.attr_int("transA", 0) != 0;
  const bool trans_b = c.node.attr_int("transB", 0) != 0;
  const float alpha = c.node.attr_float("alpha", 1.0f);
  const float beta = c.node.attr_float("beta", 1.0f);
  const std::int64_t M = gy.dim(0), N = gy.dim(1);
  ConstMap ma(a.data<float>(), a.dim(0), a.dim(1));
  ConstMap mb(b.data<float>(), b.dim(0), b.dim(1));
  ConstMap mg(gy.data<float>(), M, N);
  if (c.need(0)) {
    // d op(A) = alpha * dY op(B)^T; dA is its transpose when transA.
    Tensor da = zeros(a.shape());
    Map md(da.data<float>(), a.dim(0), a.dim(1));
    if (!trans_a && !trans_b)
      md.noalias() = mg * mb.transpose();
    else if (!trans_a)
      md.noalias() = mg * mb;
    else if (!trans_b)
      md.noalias() = mb * mg.transpose();
    else
      md.noalias() = mb.transpose() * mg.transpose();
    if (alpha != 1.0f) md *= alpha;
    c.set_grad(0, std::move(da));
  }
  if (c.need(1)) {
    // d op(B) = alpha * op(A)^T dY; dB is its transpose when transB.
    Tensor db = zeros(b.shape());
    Map md(db.data<float>(), b.dim(0), b.dim(1));
    if (!trans_a && !trans_b)
      md.noalias() = ma.transpose() * mg;
    else if (!trans_b)
      md.noalias() = ma * mg;
    else if (!trans_a)
      md.noalias() = mg.transpose() * ma;
    else
      md.noalias() = mg.transpose() * ma.transpose();
    if (alpha != 1.0f) md *= alpha;
    c.set_grad(1, std::move(db));
  }
  if (c.need(2)) {
    // The kernel skips C when beta is 0.
    Tensor dc = beta == 0.0f ? zeros(c.in(2).shape()) : reduce_to_shape(gy, c.in(2).shape());
    if (beta != 0.0f && beta != 1.0f) {
      if (dc.raw() == gy.raw()) dc = dc.clone();
      float* p = dc.data<float>();
      for (std::int64_t i = 0; i < dc.numel(); ++i) p[i] *= beta;
    }
    c.set_grad(2, std::move(dc));
  }
}

void matmul_backward(BackwardContext& c) {
  const Tensor& a = c.in(0);
  const Tensor& b = c.in(1);
  const Tensor& gy = c.grad_out(0);
  Shape sa = a.shape(), sb = b.shape();
  if (sa.size() == 1) sa.insert(sa.begin(), 1);
  if (sb.size() == 1) sb.push_back(1);
  const std::int64_t M = sa[sa.size() - 2], K = sa.back(), N = sb.back();
  const Shape batch_a(sa.begin(), sa.end() - 2), batch_b(sb.begin(), sb.end() - 2);
  const kernels::KernelContext kc = c.kernel_context();
  const Shape batch = kernels::broadcast_shapes(kc, batch_a, batch_b);
  const std::vector<std::int64_t> map_a = kernels::broadcast_index_map(batch_a, batch);
  const std::vector<std::int64_t> map_b = kernels::broadcast_index_map(batch_b, batch);
  if (gy.numel() != static_cast<std::int64_t>(map_a.size()) * M * N)
    c.fail("output gradient has the wrong size");
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  const float* pg = gy.data<float>();
  const bool want_a = c.need(0), want_b = c.need(1);
  Tensor da = want_a ? zeros(a.shape()) : Tensor();
  Tensor db = want_b ? zeros(b.shape()) : Tensor();
  for (std::size_t i = 0; i < map_a.size(); ++i) {
    ConstMap mg(pg + i * M * N, M, N);
    if (want_a) {
      ConstMap mb(pb + map_b[i] * K * N, K, N);
      Map md(da.data<float>() + map_a[i] * M * K, M, K);
      md.noalias() += mg * mb.transpose();
    }
    if (want_b) {
      ConstMap ma(pa + map_a[i] * M * K, M, K);
      Map md(db.data<float>() + map_b[i] * K * N, K, N);
      md.noalias() += ma.transpose() * mg;
    }
  }
  if (want_a) c.set_grad(0, std::move(da));
  if (want_b) c.set_grad(1, std::move(db));
}

}  // namespace qs::autograd
