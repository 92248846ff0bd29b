// Conv: N-d convolution with groups, by im2col and a matrix product (Eigen).
#include <Eigen/Core>

#include "runtime/kernel_util.h"
#include "runtime/kernels/conv_geometry.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/spatial_index.h"

namespace qs::kernels {

using RowMajorMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

void conv(KernelContext& c) {
  require_float(c, 0);
  require_float(c, 1);
  const Tensor& x = c.in(0);
  const Tensor& w = c.in(1);
  const ConvGeometry g = conv_geometry(c, x.shape(), w.shape());
  const std::int64_t batch = x.dim(0), in_channels = x.dim(1), out_channels = w.dim(0);
  const std::int64_t groups = c.node.attr_int("group", 1);
  if (groups <= 0 || in_channels % groups != 0 || out_channels % groups != 0)
    c.fail("group=" + std::to_string(groups) + " does not divide the channels");
  const std::int64_t group_in = in_channels / groups, group_out = out_channels / groups;
  if (w.dim(1) != group_in)
    c.fail("weights " + shape_to_string(w.shape()) + " expect " + std::to_string(w.dim(1)) +
           " input channels per group, input has " + std::to_string(group_in));
  if (c.has(2)) {
    require_float(c, 2);
    if (c.in(2).numel() != out_channels) c.fail("bias size does not match the output channels");
  }
  Shape out_shape{batch, out_channels};
  out_shape.insert(out_shape.end(), g.out.begin(), g.out.end());
  Tensor& out = c.output(0, DType::f32, out_shape);
  if (c.shape_only) return;

  const SpatialIndex index = gather_index(g);  // [K][P] input offsets, -1 for padding
  const std::int64_t K = index.kernel_size, P = index.out_size, in_size = index.in_size;
  RowMajorMatrix col(group_in * K, P);
  const float* px = x.data<float>();
  const float* pw = w.data<float>();
  const float* bias = c.has(2) ? c.in(2).data<float>() : nullptr;
  float* po = out.data<float>();
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t grp = 0; grp < groups; ++grp) {
      for (std::int64_t ci = 0; ci < group_in; ++ci) {
        const float* plane = px + (n * in_channels + grp * group_in + ci) * in_size;
        for (std::int64_t k = 0; k < K; ++k) {
          const std::int64_t* offsets = index.offsets.data() + k * P;
          float* row = col.data() + (ci * K + k) * P;
          for (std::int64_t p = 0; p < P; ++p) row[p] = offsets[p] >= 0 ? plane[offsets[p]] : 0.0f;
        }
      }
      Eigen::Map<const RowMajorMatrix> wg(pw + grp * group_out * group_in * K, group_out,
                                          group_in * K);
      Eigen::Map<RowMajorMatrix> og(po + (n * out_channels + grp * group_out) * P, group_out, P);
      og.noalias() = wg * col;
      if (bias)
        for (std::int64_t m = 0; m < group_out; ++m) og.row(m).array() += bias[grp * group_out + m];
    }
  }
}

}  // namespace qs::kernels
