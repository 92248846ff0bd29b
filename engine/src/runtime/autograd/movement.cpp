// Backward rules of the ops that relabel or move elements. Reshape-like ops pass the gradient
// through with the input's shape. The others (Transpose, Slice, Gather, Expand, Pad, Concat,
// Split) rerun their forward kernel on element ids to learn where each output element came
// from, and scatter-add the gradient back along that map: repeated sources (Gather with
// repeated indices, Expand) accumulate, and the kernel's attribute handling is used as is.
#include <algorithm>
#include <vector>

#include "runtime/autograd/rules.h"

namespace qs::autograd {

void reshape_like_backward(BackwardContext& c) {
  if (c.need(0)) c.set_grad(0, c.grad_out(0).reshaped(c.in(0).shape()));
}

void cast_backward(BackwardContext& c) {
  if (c.in(0).dtype() != DType::f32 || c.out(0).dtype() != DType::f32)
    c.unsupported("a Cast between " + dtype_name(c.in(0).dtype()) + " and " +
                  dtype_name(c.out(0).dtype()));
  reshape_like_backward(c);
}

void traced_backward(BackwardContext& c) {
  if (c.need(0)) c.set_grad(0, scatter_back_through_kernel(c));
}

void pad_backward(BackwardContext& c) {
  if (!c.need(0)) return;
  // Without a constant value the padding is 0, which is no element id.
  Node node = c.node;
  node.attributes.erase("value");
  std::vector<const Tensor*> inputs = c.inputs;
  if (inputs.size() > 2) inputs[2] = nullptr;
  const auto maps = element_sources(node, c.opset, inputs, {0});
  Tensor dx = zeros(c.in(0).shape());
  scatter_add(c.grad_out(0), maps.at(0), dx);
  c.set_grad(0, std::move(dx));
}

void concat_backward(BackwardContext& c) {
  const int n = static_cast<int>(c.inputs.size());
  std::vector<int> all(n);
  for (int i = 0; i < n; ++i) all[i] = i;
  const std::vector<std::int64_t> map = element_sources(c.node, c.opset, c.inputs, all).at(0);
  // Ids are consecutive over the inputs in order: input i owns [begin[i], begin[i+1]).
  std::vector<std::int64_t> begin(n + 1, 0);
  for (int i = 0; i < n; ++i) begin[i + 1] = begin[i] + c.in(i).numel();
  std::vector<Tensor> dx(n);
  for (int i = 0; i < n; ++i)
    if (c.need(i)) dx[i] = zeros(c.in(i).shape());
  const float* pg = c.grad_out(0).data<float>();
  for (std::size_t k = 0; k < map.size(); ++k) {
    const std::int64_t id = map[k];
    if (id < 0) continue;
    const int i =
        static_cast<int>(std::upper_bound(begin.begin(), begin.end(), id) - begin.begin()) - 1;
    if (dx[i].defined()) dx[i].data<float>()[id - begin[i]] += pg[k];
  }
  for (int i = 0; i < n; ++i)
    if (c.need(i)) c.set_grad(i, std::move(dx[i]));
}

void split_backward(BackwardContext& c) {
  if (!c.need(0)) return;
  const auto maps = element_sources(c.node, c.opset, c.inputs, {0});
  Tensor dx = zeros(c.in(0).shape());
  for (std::size_t o = 0; o < maps.size(); ++o)
    if (c.has_grad_out(static_cast<int>(o)))
      scatter_add(c.grad_out(static_cast<int>(o)), maps[o], dx);
  c.set_grad(0, std::move(dx));
}

}  // namespace qs::autograd
