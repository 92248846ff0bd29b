// Reverse-mode gradients on the CPU: a loss on a graph's first output, differentiated with
// respect to initializers (weights), graph inputs or intermediate tensors.
//
// The forward pass runs on the reference kernels (the same code as ReferenceExecutor); the
// backward pass walks the nodes in reverse and applies one backward rule per op
// (engine/src/runtime/autograd/). Only nodes on a path from a requested tensor to the output are
// differentiated. Gradients are float32; the loss is accumulated in double.
//
// Cost: memory for every forward activation of one batch that the backward pass reads (in
// practice all of them; each is released once the reverse sweep is past its first reader), plus
// the gradients of the tensors in flight. Time: about three to five forward passes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "quantscope/executor.h"
#include "quantscope/graph.h"
#include "quantscope/tensor.h"

namespace qs {

// A scalar loss on the graph's first output.
struct Loss {
  enum Kind {
    // Logits [N, C]: mean over the batch of -log softmax(logits)[label].
    cross_entropy,
    // Any shape [..., C] with target_logits of the same shape: KL(softmax(target) ||
    // softmax(output)) along the last axis, summed over C, averaged over the other positions
    // (for [N, C]: the mean over the batch).
    kl_to_target
  } kind = cross_entropy;
  std::vector<std::int64_t> labels;  // cross_entropy: one class index per sample
  Tensor target_logits;              // kl_to_target: float32, the output's shape
};

// Which piece each piecewise op (Relu, LeakyRelu, Clip, HardSigmoid, HardSwish, MaxPool,
// GlobalMaxPool) takes at one point: the op's input there, by node name. Held in those pieces,
// the loss is a smooth function of the weights near that point whose Hessian is the one autograd
// defines (the second derivative is zero at kinks, as in PyTorch). Hessian-vector products by
// differences of gradients need that: unheld, a step crosses kinks, and each crossed kink adds a
// jump in the gradient that does not shrink with the step.
struct Pieces {
  // One held node: elementwise ops linear on each piece as y = offset + slope * x; max pools as
  // y[k] = x[sources[k]] (flat indices); HardSwish by its input x0 at the point.
  struct Held {
    Tensor slope, offset, x0;
    std::vector<std::int64_t> sources;
    Shape in_shape, out_shape;
  };
  std::map<std::string, Held> nodes;  // by node name
};

struct GradientOptions {
  bool record_pieces = false;    // fill Gradients::pieces
  const Pieces* hold = nullptr;  // run with the piecewise ops held in these pieces
};

struct Gradients {
  double loss = 0;
  // d loss / d tensor, float32 and shaped like the tensor, for each requested name.
  std::map<std::string, Tensor> wrt;
  Pieces pieces;  // with GradientOptions::record_pieces
};

// The loss value and d loss / d output for a given output tensor (exposed for tests and for
// callers that differentiate outputs they computed elsewhere). Throws Error on a mismatch
// between the loss and the output (shape, labels out of range).
double loss_and_gradient(const Tensor& output, const Loss& loss, Tensor* grad_output);

// Keeps a reference to the graph, which must outlive it, and no other state: one engine may serve
// several threads.
class GradientEngine {
 public:
  // Throws Unsupported naming the node and op when a node on a path from a float graph input or
  // float initializer to the first output has no backward rule.
  explicit GradientEngine(const Graph& graph);

  // Forward on the reference kernels, then backward. `wrt`: names of initializers, graph inputs
  // or intermediate tensors (float32); a tensor the output does not depend on gets zeros.
  // `overrides`: values to use instead of the graph's initializers of the same names (same
  // dtype and shape), e.g. perturbed weights for Hessian-vector products by differences of
  // gradients. Throws Error on unknown names or bad inputs, Unsupported when the gradient would
  // have to pass through an input an op cannot differentiate (Pad's constant value, ...).
  // `options.hold`: pieces recorded on the same inputs (shapes must match).
  Gradients run(const TensorMap& inputs, const Loss& loss, const std::vector<std::string>& wrt,
                const TensorMap& overrides = {}, const GradientOptions& options = {}) const;

 private:
  const Graph& graph_;
};

}  // namespace qs
