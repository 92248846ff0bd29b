// Backward rules of Conv and ConvTranspose (any spatial rank, groups incl. depthwise, strides,
// pads, dilations, auto_pad), by im2col / col2im and matrix products (Eigen). The geometry and
// index tables are the forward kernels' own (conv_geometry.h, spatial_index.h).
#include <Eigen/Core>
#include <algorithm>
#include <vector>

#include "runtime/autograd/rules.h"
#include "runtime/kernels/conv_geometry.h"
#include "runtime/kernels/spatial_index.h"

namespace qs::autograd {

namespace {

using RowMajorMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const RowMajorMatrix>;
using Map = Eigen::Map<RowMajorMatrix>;

// d bias[m] = sum of dy over the batch and the spatial positions of channel m.
Tensor bias_grad(const Tensor& gy, std::int64_t channels) {
  const std::int64_t batch = gy.dim(0);
  const std::int64_t plane = gy.numel() / std::max<std::int64_t>(batch * channels, 1);
  const float* pg = gy.data<float>();
  std::vector<float> db(static_cast<std::size_t>(channels));
  for (std::int64_t m = 0; m < channels; ++m) {
    double sum = 0;
    for (std::int64_t n = 0; n < batch; ++n) {
      const float* p = pg + (n * channels + m) * plane;
      for (std::int64_t i = 0; i < plane; ++i) sum += p[i];
    }
    db[m] = static_cast<float>(sum);
  }
  return Tensor::from_vector<float>({channels}, db);
}

}  // namespace

void conv_backward(BackwardContext& c) {
  const Tensor& x = c.in(0);
  const Tensor& w = c.in(1);
  const Tensor& gy = c.grad_out(0);
  const kernels::KernelContext kc = c.kernel_context();
  const kernels::ConvGeometry g = kernels::conv_geometry(kc, x.shape(), w.shape());
  const std::int64_t batch = x.dim(0), in_channels = x.dim(1), out_channels = w.dim(0);
  const std::int64_t groups = c.node.attr_int("group", 1);
  const std::int64_t group_in = in_channels / groups, group_out = out_channels / groups;
  const kernels::SpatialIndex index = kernels::gather_index(g);
  const std::int64_t K = index.kernel_size, P = index.out_size, in_size = index.in_size;
  if (gy.numel() != batch * out_channels * P) c.fail("output gradient has the wrong size");

  const bool want_x = c.need(0), want_w = c.need(1);
  Tensor dx = want_x ? zeros(x.shape()) : Tensor();
  Tensor dw = want_w ? zeros(w.shape()) : Tensor();
  const float* px = x.data<float>();
  const float* pw = w.data<float>();
  const float* pg = gy.data<float>();
  RowMajorMatrix col(want_w ? group_in * K : 0, want_w ? P : 0);
  RowMajorMatrix dcol(want_x ? group_in * K : 0, want_x ? P : 0);
  for (std::int64_t n = 0; n < batch && (want_x || want_w); ++n) {
    for (std::int64_t grp = 0; grp < groups; ++grp) {
      ConstMap gy_g(pg + (n * out_channels + grp * group_out) * P, group_out, P);
      const std::int64_t w_offset = grp * group_out * group_in * K;
      if (want_w) {
        // im2col of this sample and group, as the forward kernel builds it.
        for (std::int64_t ci = 0; ci < group_in; ++ci) {
          const float* plane = px + (n * in_channels + grp * group_in + ci) * in_size;
          for (std::int64_t k = 0; k < K; ++k) {
            const std::int64_t* offsets = index.offsets.data() + k * P;
            float* row = col.data() + (ci * K + k) * P;
            for (std::int64_t p = 0; p < P; ++p)
              row[p] = offsets[p] >= 0 ? plane[offsets[p]] : 0.0f;
          }
        }
        Map dw_g(dw.data<float>() + w_offset, group_out, group_in * K);
        dw_g.noalias() += gy_g * col.transpose();
      }
      if (want_x) {
        ConstMap w_g(pw + w_offset, group_out, group_in * K);
        dcol.noalias() = w_g.transpose() * gy_g;
        // col2im: scatter-add each tap back onto the input position it read.
        for (std::int64_t ci = 0; ci < group_in; ++ci) {
          float* plane = dx.data<float>() + (n * in_channels + grp * group_in + ci) * in_size;
          for (std::int64_t k = 0; k < K; ++k) {
            const std::int64_t* offsets = index.offsets.data() + k * P;
            const float* row = dcol.data() + (ci * K + k) * P;
            for (std::int64_t p = 0; p < P; ++p)
              if (offsets[p] >= 0) plane[offsets[p]] += row[p];
          }
        }
      }
    }
  }
  if (want_x) c.set_grad(0, std::move(dx));
  if (want_w) c.set_grad(1, std::move(dw));
  if (c.need(2)) c.set_grad(2, bias_grad(gy, out_channels));
}

void conv_transpose_backward(BackwardContext& c) {
  const Tensor& x = c.in(0);
  const Tensor& w = c.in(1);  // [C, M/group, k...]
  const Tensor& gy = c.grad_out(0);
  const kernels::KernelContext kc = c.kernel_context();
  const kernels::ConvGeometry g = kernels::conv_transpose_geometry(kc, x.shape(), w.shape());
  const std::int64_t groups = c.node.attr_int("group", 1);
  const std::int64_t batch = x.dim(0), in_channels = x.dim(1);
  const std::int64_t group_in = in_channels / groups, group_out = w.dim(1);
  const std::int64_t out_channels = group_out * groups;
  const kernels::SpatialIndex index = kernels::scatter_index(g);  // (k, input pos) -> output
  const std::int64_t K = index.kernel_size, P_in = index.out_size, P_out = index.in_size;
  if (gy.numel() != batch * out_channels * P_out) c.fail("output gradient has the wrong size");

  const bool want_x = c.need(0), want_w = c.need(1);
  Tensor dx = want_x ? zeros(x.shape()) : Tensor();
  Tensor dw = want_w ? zeros(w.shape()) : Tensor();
  const float* px = x.data<float>();
  const float* pw = w.data<float>();
  const float* pg = gy.data<float>();
  // Forward: col = W_g^T x_g, then each col entry is added to one output position. Backward:
  // dcol gathers dy from those positions.
  RowMajorMatrix dcol(group_out * K, P_in);
  for (std::int64_t n = 0; n < batch && (want_x || want_w); ++n) {
    for (std::int64_t grp = 0; grp < groups; ++grp) {
      for (std::int64_t m = 0; m < group_out; ++m) {
        const float* plane = pg + (n * out_channels + grp * group_out + m) * P_out;
        for (std::int64_t k = 0; k < K; ++k) {
          const std::int64_t* offsets = index.offsets.data() + k * P_in;
          float* row = dcol.data() + (m * K + k) * P_in;
          for (std::int64_t p = 0; p < P_in; ++p)
            row[p] = offsets[p] >= 0 ? plane[offsets[p]] : 0.0f;
        }
      }
      const std::int64_t w_offset = grp * group_in * group_out * K;
      const std::int64_t x_offset = (n * in_channels + grp * group_in) * P_in;
      if (want_x) {
        ConstMap w_g(pw + w_offset, group_in, group_out * K);
        Map dx_g(dx.data<float>() + x_offset, group_in, P_in);
        dx_g.noalias() = w_g * dcol;
      }
      if (want_w) {
        ConstMap x_g(px + x_offset, group_in, P_in);
        Map dw_g(dw.data<float>() + w_offset, group_in, group_out * K);
        dw_g.noalias() += x_g * dcol.transpose();
      }
    }
  }
  if (want_x) c.set_grad(0, std::move(dx));
  if (want_w) c.set_grad(1, std::move(dw));
  if (c.need(2)) c.set_grad(2, bias_grad(gy, out_channels));
}

}  // namespace qs::autograd
