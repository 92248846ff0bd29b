// Piecewise ops held in fixed pieces (see pieces.h).
#include "runtime/autograd/pieces.h"

#include <algorithm>
#include <string>

#include "quantscope/error.h"

namespace qs::autograd {

namespace {

bool is_linear_elementwise(const std::string& op) {
  return op == "Relu" || op == "LeakyRelu" || op == "Clip" || op == "HardSigmoid";
}

std::string label(const Node& node) {
  return "node '" + node.name + "' (" + node.op_type + ")";
}

// For MaxPool: the flat index of the element each output took from x0 (the kernel's own rule).
std::vector<std::int64_t> max_pool_sources(const Node& node, std::int64_t opset, const Tensor& x0) {
  Node with_indices = node;
  with_indices.outputs = {"y", "indices"};
  with_indices.attributes["storage_order"] = {std::int64_t{0}};
  return run_kernel(with_indices, opset, {&x0}).at(1).to_i64();
}

// For GlobalMaxPool: the first maximum of each plane of x0.
std::vector<std::int64_t> global_max_sources(const Tensor& x0) {
  const std::int64_t planes = x0.rank() >= 2 ? x0.dim(0) * x0.dim(1) : 0;
  const std::int64_t plane = planes == 0 ? 0 : x0.numel() / planes;
  std::vector<std::int64_t> src(static_cast<std::size_t>(planes), 0);
  for (std::int64_t p = 0; p < planes && plane > 0; ++p) {
    const float* row = x0.data<float>() + p * plane;
    src[static_cast<std::size_t>(p)] = p * plane + (std::max_element(row, row + plane) - row);
  }
  return src;
}

}  // namespace

bool is_piecewise(const Node& node) {
  if (!node.domain.empty() && node.domain != "ai.onnx") return false;
  const std::string& op = node.op_type;
  return is_linear_elementwise(op) || op == "HardSwish" || op == "MaxPool" || op == "GlobalMaxPool";
}

Pieces::Held hold_pieces(const Node& node, std::int64_t opset,
                         const std::vector<const Tensor*>& inputs) {
  const Tensor& x0 = *inputs.at(0);
  if (x0.dtype() != DType::f32) throw Error(label(node) + ": pieces are held for float32 only");
  Pieces::Held h;
  h.in_shape = x0.shape();
  const std::string& op = node.op_type;
  if (op == "HardSwish") {
    h.x0 = x0;
    h.out_shape = x0.shape();
  } else if (op == "MaxPool") {
    h.out_shape = run_kernel(node, opset, {&x0}).at(0).shape();
    h.sources = max_pool_sources(node, opset, x0);
  } else if (op == "GlobalMaxPool") {
    h.out_shape = run_kernel(node, opset, {&x0}).at(0).shape();
    h.sources = global_max_sources(x0);
  } else {
    // Linear on each piece: slope f'(x0) from the backward rule, offset f(x0) - slope x0.
    const Tensor y0 = run_kernel(node, opset, inputs).at(0);
    Tensor ones(DType::f32, x0.shape());
    std::fill(ones.data<float>(), ones.data<float>() + ones.numel(), 1.0f);
    BackwardContext c{node, opset, inputs, {&y0}, {&ones}, {true}, {}};
    find_backward_rule(node.op_type, node.domain)->fn(c);
    c.grad_inputs.resize(1);
    h.slope = c.grad_inputs[0].defined() ? c.grad_inputs[0] : zeros(x0.shape());
    h.offset = Tensor(DType::f32, x0.shape());
    const float* p0 = x0.data<float>();
    const float* py = y0.data<float>();
    const float* ps = h.slope.data<float>();
    float* po = h.offset.data<float>();
    for (std::int64_t i = 0; i < x0.numel(); ++i) po[i] = py[i] - ps[i] * p0[i];
    h.out_shape = x0.shape();
  }
  h.x0 = op == "HardSwish" ? x0 : Tensor();
  return h;
}

std::vector<Tensor> held_forward(const Node& node, const std::vector<const Tensor*>& inputs,
                                 const Pieces::Held& held) {
  const Tensor& x = *inputs.at(0);
  const std::string& op = node.op_type;
  const bool pool = op == "MaxPool" || op == "GlobalMaxPool";
  if (x.dtype() != DType::f32 || x.shape() != held.in_shape)
    throw Error(label(node) + ": input " + shape_to_string(x.shape()) +
                " does not match the point its pieces were held at");
  Tensor y(DType::f32, held.out_shape);
  const float* px = x.data<float>();
  float* py = y.data<float>();
  if (op == "HardSwish") {
    const float* p0 = held.x0.data<float>();
    for (std::int64_t i = 0; i < x.numel(); ++i)
      py[i] = p0[i] < -3.0f ? 0.0f : p0[i] > 3.0f ? px[i] : px[i] * (px[i] / 6.0f + 0.5f);
  } else if (pool) {
    for (std::size_t k = 0; k < held.sources.size(); ++k) py[k] = px[held.sources[k]];
  } else {
    const float* ps = held.slope.data<float>();
    const float* po = held.offset.data<float>();
    for (std::int64_t i = 0; i < x.numel(); ++i) py[i] = po[i] + ps[i] * px[i];
  }
  std::vector<Tensor> outs{y};
  if (op == "MaxPool" && node.outputs.size() > 1 && !node.outputs[1].empty()) {
    // The indices output, as the kernel gives it at the held point (row-major storage order).
    Tensor idx(DType::i64, held.out_shape);
    std::copy(held.sources.begin(), held.sources.end(), idx.data<std::int64_t>());
    outs.push_back(idx);
  }
  return outs;
}

void held_backward(BackwardContext& c, const Pieces::Held& held) {
  for (std::size_t i = 1; i < c.needs.size(); ++i)
    if (c.needs[i])
      c.unsupported("gradients with respect to input " + std::to_string(i) +
                    " while its pieces are held");
  if (!c.need(0)) return;
  const Tensor& x = c.in(0);
  const Tensor& g = c.grad_out(0);
  const std::string& op = c.node.op_type;
  Tensor dx =
      op == "MaxPool" || op == "GlobalMaxPool" ? zeros(x.shape()) : Tensor(DType::f32, x.shape());
  const float* pg = g.data<float>();
  float* pd = dx.data<float>();
  if (op == "HardSwish") {
    const float* px = x.data<float>();
    const float* p0 = held.x0.data<float>();
    for (std::int64_t i = 0; i < x.numel(); ++i)
      pd[i] = p0[i] < -3.0f ? 0.0f : p0[i] > 3.0f ? pg[i] : pg[i] * (px[i] / 3.0f + 0.5f);
  } else if (op == "MaxPool" || op == "GlobalMaxPool") {
    for (std::size_t k = 0; k < held.sources.size(); ++k) pd[held.sources[k]] += pg[k];
  } else {
    const float* ps = held.slope.data<float>();
    for (std::int64_t i = 0; i < x.numel(); ++i) pd[i] = ps[i] * pg[i];
  }
  c.set_grad(0, std::move(dx));
}

}  // namespace qs::autograd
