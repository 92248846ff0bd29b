// Backward rules of the pools: MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool.
#include <algorithm>
#include <string>
#include <vector>

#include "runtime/autograd/rules.h"
#include "runtime/kernels/conv_geometry.h"
#include "runtime/kernels/spatial_index.h"

namespace qs::autograd {

namespace {

// The window geometry of a pool node as the forward kernel resolves it, in the form the
// convolution index tables take. The caller checks the result against the forward output.
kernels::ConvGeometry pool_geometry(const BackwardContext& c, const Tensor& x) {
  WindowGeometry g;
  if (const std::string why = pool_window(c.node, x.shape(), g); !why.empty()) c.fail(why);
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
