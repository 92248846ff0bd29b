// ConvTranspose: a matrix product per group (W^T x X), then col2im scatter-add.
#include <Eigen/Core>

#include "runtime/kernel_util.h"
#include "runtime/kernels/conv_geometry.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/spatial_index.h"

namespace qs::kernels {

using RowMajorMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

void conv_transpose(KernelContext& c) {
  require_float(c, 0);
  require_float(c, 1);
  const Tensor& x = c.in(0);
  const Tensor& w = c.in(1);  // [C, M/group, k...]
  const ConvGeometry g = conv_transpose_geometry(c, x.shape(), w.shape());
  const std::int64_t groups = c.node.attr_int("group", 1);
  const std::int64_t batch = x.dim(0), in_channels = x.dim(1);
  if (groups <= 0 || in_channels % groups != 0 || w.dim(0) != in_channels)
    c.fail("weights " + shape_to_string(w.shape()) + " and group=" + std::to_string(groups) +
           " do not match input channels " + std::to_string(in_channels));
  const std::int64_t group_in = in_channels / groups, group_out = w.dim(1);
  const std::int64_t out_channels = group_out * groups;
  if (c.has(2)) {
    require_float(c, 2);
    if (c.in(2).numel() != out_channels) c.fail("bias size does not match the output channels");
  }
  Shape out_shape{batch, out_channels};
  out_shape.insert(out_shape.end(), g.out.begin(), g.out.end());
  Tensor& out = c.output(0, DType::f32, out_shape);
  if (c.shape_only) return;

  const SpatialIndex index = scatter_index(g);  // [K][input position] -> output offset
  const std::int64_t K = index.kernel_size, P_in = index.out_size, P_out = index.in_size;
  const float* px = x.data<float>();
  const float* pw = w.data<float>();
  float* po = out.data<float>();
  RowMajorMatrix col(group_out * K, P_in);
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t grp = 0; grp < groups; ++grp) {
      Eigen::Map<const RowMajorMatrix> wg(pw + grp * group_in * group_out * K, group_in,
                                          group_out * K);
      Eigen::Map<const RowMajorMatrix> xg(px + (n * in_channels + grp * group_in) * P_in, group_in,
                                          P_in);
      col.noalias() = wg.transpose() * xg;
      for (std::int64_t m = 0; m < group_out; ++m) {
        float* plane = po + (n * out_channels + grp * group_out + m) * P_out;
        for (std::int64_t k = 0; k < K; ++k) {
          const std::int64_t* offsets = index.offsets.data() + k * P_in;
          const float* row = col.data() + (m * K + k) * P_in;
          for (std::int64_t p = 0; p < P_in; ++p)
            if (offsets[p] >= 0) plane[offsets[p]] += row[p];
        }
      }
    }
  }
  if (c.has(2)) {
    const float* bias = c.in(2).data<float>();
    for (std::int64_t n = 0; n < batch; ++n)
      for (std::int64_t m = 0; m < out_channels; ++m) {
        float* plane = po + (n * out_channels + m) * P_out;
        for (std::int64_t p = 0; p < P_out; ++p) plane[p] += bias[m];
      }
  }
}

}  // namespace qs::kernels
