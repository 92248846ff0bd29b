// BackwardContext and the helpers shared by the backward rules.
#include <vector>

#include "runtime/autograd/backward.h"
#include "runtime/graph_runner.h"
#include "runtime/kernel_util.h"

namespace qs::autograd {

namespace {

std::string label(const Node& node) {
  return "node '" + node.name + "' (" + node.op_type + ")";
}

}  // namespace

const Tensor& BackwardContext::in(int i) const {
  if (!has_input(i)) fail("input " + std::to_string(i) + " is missing");
  return *inputs[i];
}

const Tensor& BackwardContext::out(int i) const {
  if (i >= static_cast<int>(outputs.size()) || !outputs[i])
    fail("output " + std::to_string(i) + " was not computed");
  return *outputs[i];
}

const Tensor& BackwardContext::grad_out(int i) const {
  if (!has_grad_out(i)) fail("no gradient reaches output " + std::to_string(i));
  return *grad_outputs[i];
}

void BackwardContext::set_grad(int i, Tensor g) {
  if (!need(i)) return;
  const Tensor& x = in(i);
  if (g.dtype() != DType::f32 || g.numel() != x.numel())
    fail("backward rule produced a gradient of shape " + shape_to_string(g.shape()) +
         " for input " + std::to_string(i) + " of shape " + shape_to_string(x.shape()));
  if (g.shape() != x.shape()) g = g.reshaped(x.shape());
  if (static_cast<int>(grad_inputs.size()) <= i) grad_inputs.resize(i + 1);
  grad_inputs[i] = std::move(g);
}

kernels::KernelContext BackwardContext::kernel_context() const {
  return kernels::KernelContext{node, opset, inputs, {}, false};
}

void BackwardContext::fail(const std::string& what) const {
  throw Error(label(node) + ": backward: " + what);
}

void BackwardContext::unsupported(const std::string& what) const {
  throw Unsupported(label(node) + ": gradient of " + what + " is not supported");
}

Tensor zeros(const Shape& shape) {
  return Tensor(DType::f32, shape);
}

Tensor iota_i64(const Shape& shape, std::int64_t base) {
  Tensor t(DType::i64, shape);
  std::int64_t* p = t.data<std::int64_t>();
  for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = base + i;
  return t;
}

Tensor reduce_to_shape(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  Tensor out = zeros(shape);
  const float* pg = g.data<float>();
  float* po = out.data<float>();
  if (out.numel() == 1) {
    double sum = 0;
    for (std::int64_t i = 0; i < g.numel(); ++i) sum += pg[i];
    po[0] = static_cast<float>(sum);
    return out;
  }
  // Accumulate in double: bias-like gradients sum over many elements.
  std::vector<double> acc(static_cast<std::size_t>(out.numel()), 0.0);
  const std::vector<std::int64_t> map = kernels::broadcast_index_map(shape, g.shape());
  for (std::int64_t i = 0; i < g.numel(); ++i) acc[map[i]] += pg[i];
  for (std::int64_t i = 0; i < out.numel(); ++i) po[i] = static_cast<float>(acc[i]);
  return out;
}

std::vector<Tensor> run_kernel(const Node& node, std::int64_t opset,
                               const std::vector<const Tensor*>& inputs) {
  return run_node(node, opset, inputs, RunMode::execute);
}

std::vector<std::vector<std::int64_t>> element_sources(const Node& node, std::int64_t opset,
                                                       std::vector<const Tensor*> inputs,
                                                       const std::vector<int>& replace) {
  // Ids start at 1 so that a kernel's zero fill (padding) reads as "no source".
  std::vector<Tensor> ids;
  ids.reserve(replace.size());
  std::int64_t base = 1;
  for (int i : replace) {
    if (i >= static_cast<int>(inputs.size()) || !inputs[i])
      throw Error(label(node) + ": backward: input " + std::to_string(i) + " is missing");
    ids.push_back(iota_i64(inputs[i]->shape(), base));
    base += inputs[i]->numel();
  }
  for (std::size_t k = 0; k < replace.size(); ++k) inputs[replace[k]] = &ids[k];
  std::vector<Tensor> outs = run_kernel(node, opset, inputs);
  std::vector<std::vector<std::int64_t>> maps(outs.size());
  for (std::size_t o = 0; o < outs.size(); ++o) {
    if (outs[o].dtype() != DType::i64) continue;
    maps[o] = outs[o].to_i64();
    for (std::int64_t& v : maps[o]) v -= 1;
  }
  return maps;
}

void scatter_add(const Tensor& src, const std::vector<std::int64_t>& map, Tensor& dst) {
  const float* ps = src.data<float>();
  float* pd = dst.data<float>();
  const std::int64_t n = std::min<std::int64_t>(src.numel(), map.size());
  for (std::int64_t k = 0; k < n; ++k)
    if (map[k] >= 0) pd[map[k]] += ps[k];
}

Tensor scatter_back_through_kernel(const BackwardContext& c) {
  const std::vector<std::vector<std::int64_t>> maps =
      element_sources(c.node, c.opset, c.inputs, {0});
  const Tensor& gy = c.grad_out(0);
  if (maps.empty() || static_cast<std::int64_t>(maps[0].size()) != gy.numel())
    c.fail("could not trace the elements of output 0");
  Tensor gx = zeros(c.in(0).shape());
  scatter_add(gy, maps[0], gx);
  return gx;
}

}  // namespace qs::autograd
