// Conv: N-d convolution with groups, by im2col and a matrix product (Eigen). A quantized layer
// of the simulation graph sums its integer levels exactly (integer_layer.h).
#include <Eigen/Core>

#include "runtime/kernel_util.h"
#include "runtime/kernels/conv_geometry.h"
#include "runtime/kernels/integer_layer.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/spatial_index.h"

namespace qs::kernels {

namespace {

template <typename T>
using RowMajorMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct ConvDims {
  std::int64_t batch, in_channels, out_channels, groups, group_in, group_out;
};

// out[n, o, p] = sum over the group's inputs and taps of w * x, in T.
template <typename T>
void conv_sums(const T* px, const T* pw, const SpatialIndex& index, const ConvDims& d, T* po) {
  const std::int64_t K = index.kernel_size, P = index.out_size, in_size = index.in_size;
  RowMajorMatrix<T> col(d.group_in * K, P);
  for (std::int64_t n = 0; n < d.batch; ++n) {
    for (std::int64_t grp = 0; grp < d.groups; ++grp) {
      for (std::int64_t ci = 0; ci < d.group_in; ++ci) {
        const T* plane = px + (n * d.in_channels + grp * d.group_in + ci) * in_size;
        for (std::int64_t k = 0; k < K; ++k) {
          const std::int64_t* offsets = index.offsets.data() + k * P;
          T* row = col.data() + (ci * K + k) * P;
          for (std::int64_t p = 0; p < P; ++p) row[p] = offsets[p] >= 0 ? plane[offsets[p]] : T(0);
        }
      }
      Eigen::Map<const RowMajorMatrix<T>> wg(pw + grp * d.group_out * d.group_in * K, d.group_out,
                                             d.group_in * K);
      Eigen::Map<RowMajorMatrix<T>> og(po + (n * d.out_channels + grp * d.group_out) * P,
                                       d.group_out, P);
      og.noalias() = wg * col;
    }
  }
}

// The quantized layer's output: (exact sum + bias code) x output scale, as the integer kernels.
bool integer_conv(KernelContext& c, const SpatialIndex& index, const ConvDims& d, float* po) {
  std::optional<IntegerLayer> scratch;
  const std::optional<IntegerLayer>& layer = integer_form(c, scratch);
  if (!layer) return false;
  float x_max = 0;
  const std::optional<std::vector<float>> x = input_levels(c.in(0), layer->x_scale, x_max);
  if (!x) return false;
  const std::int64_t P = index.out_size, count = d.batch * d.out_channels * P;
  if (exact_in_float(x_max, layer->w_max, d.group_in * index.kernel_size)) {
    conv_sums<float>(x->data(), layer->w_levels.data(), index, d, po);
  } else {
    const std::vector<double> xd(x->begin(), x->end());
    const std::vector<double> wd(layer->w_levels.begin(), layer->w_levels.end());
    std::vector<double> acc(static_cast<std::size_t>(count));
    conv_sums<double>(xd.data(), wd.data(), index, d, acc.data());
    for (std::int64_t i = 0; i < count; ++i) po[i] = static_cast<float>(acc[i]);
  }
  const float* bias = c.has(2) ? c.in(2).data<float>() : nullptr;
  for (std::int64_t row = 0; row < d.batch * d.out_channels; ++row) {
    const std::size_t o = static_cast<std::size_t>(row % d.out_channels);
    const float code = layer->bias.empty() ? 0.0f : layer->bias[o], scale = layer->scales[o];
    const float after = bias && layer->bias.empty() ? bias[o] : 0.0f;
    for (float* v = po + row * P; v != po + (row + 1) * P; ++v) *v = (*v + code) * scale + after;
  }
  return true;
}

}  // namespace

void conv(KernelContext& c) {
  require_float(c, 0);
  require_float(c, 1);
  const Tensor& x = c.in(0);
  const Tensor& w = c.in(1);
  const ConvGeometry g = conv_geometry(c, x.shape(), w.shape());
  ConvDims d;
  d.batch = x.dim(0);
  d.in_channels = x.dim(1);
  d.out_channels = w.dim(0);
  d.groups = c.node.attr_int("group", 1);
  if (d.groups <= 0 || d.in_channels % d.groups != 0 || d.out_channels % d.groups != 0)
    c.fail("group=" + std::to_string(d.groups) + " does not divide the channels");
  d.group_in = d.in_channels / d.groups;
  d.group_out = d.out_channels / d.groups;
  if (w.dim(1) != d.group_in)
    c.fail("weights " + shape_to_string(w.shape()) + " expect " + std::to_string(w.dim(1)) +
           " input channels per group, input has " + std::to_string(d.group_in));
  if (c.has(2)) {
    require_float(c, 2);
    if (c.in(2).numel() != d.out_channels) c.fail("bias size does not match the output channels");
  }
  Shape out_shape{d.batch, d.out_channels};
  out_shape.insert(out_shape.end(), g.out.begin(), g.out.end());
  Tensor& out = c.output(0, DType::f32, out_shape);
  if (c.shape_only) return;

  const SpatialIndex index = gather_index(g);  // [K][P] input offsets, -1 for padding
  float* po = out.data<float>();
  if (quant::has_quantized_weights(c.node) && integer_conv(c, index, d, po)) return;
  conv_sums<float>(x.data<float>(), w.data<float>(), index, d, po);
  if (c.has(2)) {
    const float* bias = c.in(2).data<float>();
    const std::int64_t P = index.out_size;
    for (std::int64_t row = 0; row < d.batch * d.out_channels; ++row)
      for (float* v = po + row * P; v != po + (row + 1) * P; ++v) *v += bias[row % d.out_channels];
  }
}

}  // namespace qs::kernels
