// Backward rules of the pools: MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool.
#include <algorithm>
#include <string>
#include <vector>

#include "runtime/autograd/rules.h"
#include "runtime/kernels/conv_geometry.h"
#include "runtime/kernels/spatial_index.h"

namespace qs::autograd {

namespace {

using Dims = std::vector<std::int64_t>;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

// The window geometry of a pool node (ONNX Pool semantics: kernel_shape, strides, dilations,
// pads, auto_pad, ceil_mode), as runtime/kernels/pool.cpp resolves it, in the form the
// convolution index tables take. The caller checks the result against the forward output.
kernels::ConvGeometry pool_geometry(const BackwardContext& c, const Tensor& x) {
  const Node& node = c.node;
  kernels::ConvGeometry g;
  g.spatial_rank = x.rank() - 2;
  const int k = g.spatial_rank;
  if (k < 1) c.fail("input must have rank >= 3");
  g.in.assign(x.shape().begin() + 2, x.shape().end());
  g.kernel = node.attr_ints("kernel_shape");
  g.strides = node.attr_ints("strides", Dims(k, 1));
  g.dilations = node.attr_ints("dilations", Dims(k, 1));
  Dims pads = node.attr_ints("pads", Dims(2 * k, 0));
  if (static_cast<int>(g.kernel.size()) != k || static_cast<int>(g.strides.size()) != k ||
      static_cast<int>(g.dilations.size()) != k || static_cast<int>(pads.size()) != 2 * k)
    c.fail("kernel_shape, strides, dilations or pads do not match the input rank");
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  const bool ceil_mode = node.attr_int("ceil_mode", 0) != 0;
  g.out.resize(k);
  g.pad_begin.resize(k);
  g.pad_end.resize(k);
  for (int i = 0; i < k; ++i) {
    const std::int64_t extent = (g.kernel[i] - 1) * g.dilations[i] + 1;
    const std::int64_t in = g.in[i], s = g.strides[i];
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      g.out[i] = -floor_div(-in, s);
      const std::int64_t total = std::max<std::int64_t>(0, (g.out[i] - 1) * s + extent - in);
      g.pad_begin[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      g.pad_end[i] = total - g.pad_begin[i];
    } else if (auto_pad == "VALID") {
      g.out[i] = (in - extent) / s + 1;
      g.pad_begin[i] = g.pad_end[i] = 0;
    } else {
      g.pad_begin[i] = pads[i];
      g.pad_end[i] = pads[i + k];
      const std::int64_t span = in + g.pad_begin[i] + g.pad_end[i] - extent;
      g.out[i] = (ceil_mode ? -floor_div(-span, s) : span / s) + 1;
      if (ceil_mode && (g.out[i] - 1) * s >= in + g.pad_begin[i]) --g.out[i];
    }
  }
  return g;
}

}  // namespace

void max_pool_backward(BackwardContext& c) {
  // Rerun the kernel with the indices output (row-major): each output element names the input
  // element it took, with the kernel's own tie rule.
  Node with_indices = c.node;
  with_indices.outputs = {"y", "indices"};
  with_indices.attributes["storage_order"] = {std::int64_t{0}};
  std::vector<Tensor> outs = run_kernel(with_indices, c.opset, {c.inputs[0]});
  const std::vector<std::int64_t> indices = outs.at(1).to_i64();
  Tensor dx = zeros(c.in(0).shape());
  scatter_add(c.grad_out(0), indices, dx);
  c.set_grad(0, std::move(dx));
}

void average_pool_backward(BackwardContext& c) {
  const Tensor& x = c.in(0);
  const Tensor& gy = c.grad_out(0);
  const kernels::ConvGeometry g = pool_geometry(c, x);
  Shape expected{x.dim(0), x.dim(1)};
  expected.insert(expected.end(), g.out.begin(), g.out.end());
  if (expected != c.out(0).shape())
    c.fail("window geometry " + shape_to_string(expected) + " does not match the output " +
           shape_to_string(c.out(0).shape()));
  const kernels::SpatialIndex index = kernels::gather_index(g);
  const std::int64_t K = index.kernel_size, P = index.out_size, in_size = index.in_size;
  // The divisor of each window, exactly as the kernel applies it: on a plane of ones the kernel
  // returns (taps inside the input) / divisor.
  Shape plane_shape{1, 1};
  plane_shape.insert(plane_shape.end(), g.in.begin(), g.in.end());
  Tensor ones(DType::f32, plane_shape);
  std::fill(ones.data<float>(), ones.data<float>() + ones.numel(), 1.0f);
  const Tensor ones_out = run_kernel(c.node, c.opset, {&ones}).at(0);
  std::vector<float> weight(static_cast<std::size_t>(P), 0.0f);
  for (std::int64_t p = 0; p < P; ++p) {
    std::int64_t inside = 0;
    for (std::int64_t k = 0; k < K; ++k) inside += index.offsets[k * P + p] >= 0;
    if (inside > 0) weight[p] = ones_out.data<float>()[p] / static_cast<float>(inside);
  }
  Tensor dx = zeros(x.shape());
  const std::int64_t planes = x.dim(0) * x.dim(1);
  const float* pg = gy.data<float>();
  for (std::int64_t pl = 0; pl < planes; ++pl) {
    float* dplane = dx.data<float>() + pl * in_size;
    const float* gplane = pg + pl * P;
    for (std::int64_t k = 0; k < K; ++k) {
      const std::int64_t* offsets = index.offsets.data() + k * P;
      for (std::int64_t p = 0; p < P; ++p)
        if (offsets[p] >= 0) dplane[offsets[p]] += gplane[p] * weight[p];
    }
  }
  c.set_grad(0, std::move(dx));
}

void global_average_pool_backward(BackwardContext& c) {
  const Tensor& x = c.in(0);
  const Tensor& gy = c.grad_out(0);
  const std::int64_t planes = x.dim(0) * x.dim(1);
  const std::int64_t plane = planes == 0 ? 0 : x.numel() / planes;
  Tensor dx = zeros(x.shape());
  const float* pg = gy.data<float>();
  float* pd = dx.data<float>();
  for (std::int64_t p = 0; p < planes; ++p) {
    const float v = pg[p] / static_cast<float>(plane);
    std::fill(pd + p * plane, pd + (p + 1) * plane, v);
  }
  c.set_grad(0, std::move(dx));
}

void global_max_pool_backward(BackwardContext& c) {
  const Tensor& x = c.in(0);
  const Tensor& gy = c.grad_out(0);
  const std::int64_t planes = x.dim(0) * x.dim(1);
  const std::int64_t plane = planes == 0 ? 0 : x.numel() / planes;
  Tensor dx = zeros(x.shape());
  const float* px = x.data<float>();
  const float* pg = gy.data<float>();
  float* pd = dx.data<float>();
  for (std::int64_t p = 0; p < planes; ++p) {
    if (plane == 0) continue;
    const float* row = px + p * plane;
    const std::int64_t best = std::max_element(row, row + plane) - row;  // first maximum
    pd[p * plane + best] = pg[p];
  }
  c.set_grad(0, std::move(dx));
}

}  // namespace qs::autograd
