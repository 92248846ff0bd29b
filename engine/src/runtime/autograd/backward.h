// The contract between GradientEngine and the backward rules (internal to the engine).
//
// One rule per op. It reads the node's forward inputs and outputs and the gradients that reach
// its outputs, and sets the gradient of each input that needs one. The forward values come from
// the reference kernels; where a rule needs the kernel's exact indexing (Slice, Gather, MaxPool,
// ...) it reruns the kernel on index tensors rather than repeating its attribute logic.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "quantscope/graph.h"
#include "quantscope/tensor.h"
#include "runtime/kernel.h"

namespace qs::autograd {

struct BackwardContext {
  const Node& node;
  std::int64_t opset = 0;
  std::vector<const Tensor*> inputs;        // forward inputs, nullptr where omitted
  std::vector<const Tensor*> outputs;       // forward outputs, nullptr where omitted
  std::vector<const Tensor*> grad_outputs;  // nullptr where no gradient reaches the output
  std::vector<bool> needs;                  // input i needs a gradient
  std::vector<Tensor> grad_inputs;          // set by the rule; undefined means zero

  const Tensor& in(int i) const;
  const Tensor& out(int i) const;
  bool has_input(int i) const {
    return i < static_cast<int>(inputs.size()) && inputs[i] != nullptr;
  }
  bool need(int i) const { return i < static_cast<int>(needs.size()) && needs[i]; }
  // Gradient of output i; throws when none reaches it (single-output rules are only called
  // with one).
  const Tensor& grad_out(int i = 0) const;
  bool has_grad_out(int i) const {
    return i < static_cast<int>(grad_outputs.size()) && grad_outputs[i] != nullptr;
  }
  void set_grad(int i, Tensor g);
  // A kernel context over the forward inputs, for the kernels' geometry helpers.
  kernels::KernelContext kernel_context() const;
  [[noreturn]] void fail(const std::string& what) const;
  [[noreturn]] void unsupported(const std::string& what) const;
};

using BackwardFn = void (*)(BackwardContext&);

struct BackwardRule {
  BackwardFn fn = nullptr;
  // Inputs 0..differentiable-1 get gradients (-1: all of them). A float tensor that reaches the
  // node through another input is treated as a constant parameter (Pad's value, Dropout's ratio).
  int differentiable = -1;
  bool differentiates(int input) const { return differentiable < 0 || input < differentiable; }
};

// The rule for an op, or nullptr when there is none.
const BackwardRule* find_backward_rule(const std::string& op_type, const std::string& domain);

// ---- helpers shared by the rules (backward_util.cpp) ----

// Sums g (of a shape that `shape` broadcasts to, numpy rules) down to `shape`.
Tensor reduce_to_shape(const Tensor& g, const Shape& shape);
// A float32 tensor of the given shape, zero-filled.
Tensor zeros(const Shape& shape);
// An int64 tensor of the given shape holding 0, 1, 2, ... (plus `base`).
Tensor iota_i64(const Shape& shape, std::int64_t base = 0);
// Runs the forward kernel of `node` on the given inputs and returns its outputs.
std::vector<Tensor> run_kernel(const Node& node, std::int64_t opset,
                               const std::vector<const Tensor*>& inputs);
// For element-moving ops (Transpose, Slice, Gather, Concat, Pad, ...): runs the node's kernel
// with each input listed in `replace` swapped for int64 element ids (consecutive across those
// inputs, in order), and returns, per output, the id each output element was copied from (-1
// where none, e.g. padding). The other inputs are used as given (nullptr: omitted). The kernel
// thus defines the indexing; the rule only scatters gradients back along it.
std::vector<std::vector<std::int64_t>> element_sources(const Node& node, std::int64_t opset,
                                                       std::vector<const Tensor*> inputs,
                                                       const std::vector<int>& replace);
// Single-input form over the context's node: the gradient of input 0 from grad_out(0).
Tensor scatter_back_through_kernel(const BackwardContext& c);
// dst[map[k]] += src[k] for map[k] >= 0.
void scatter_add(const Tensor& src, const std::vector<std::int64_t>& map, Tensor& dst);

}  // namespace qs::autograd
