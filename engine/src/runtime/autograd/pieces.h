// Piecewise ops held in the pieces they take at a reference point (see Pieces in
// quantscope/autograd.h). Internal to the gradient engine.
//
// A piecewise op f is linear or smooth on each piece; which piece an element is in is decided by
// the op's input x0 at the reference point. Held there, f becomes
//   Relu, LeakyRelu, Clip, HardSigmoid:  y = f(x0) + f'(x0) (x - x0)   (linear on the piece)
//   HardSwish:    x (x/6 + 1/2) where -3 <= x0 <= 3, else x (x0 > 3) or 0 (x0 < -3)
//   MaxPool, GlobalMaxPool:  x at the element that is the maximum of x0's window
// which equals f on the piece and stays smooth beyond it; its backward follows the same pieces
// (and, on HardSwish's curved piece, the slope at x).
#pragma once

#include <cstdint>
#include <vector>

#include "quantscope/autograd.h"
#include "quantscope/graph.h"
#include "quantscope/tensor.h"
#include "runtime/autograd/backward.h"

namespace qs::autograd {

bool is_piecewise(const Node& node);

// The pieces of `node` at its inputs (input 0 is x0).
Pieces::Held hold_pieces(const Node& node, std::int64_t opset,
                         const std::vector<const Tensor*>& inputs);

// The forward of a held node. Throws Error when x does not have x0's shape.
std::vector<Tensor> held_forward(const Node& node, const std::vector<const Tensor*>& inputs,
                                 const Pieces::Held& held);

// The backward of a held node: `c` as the engine built it for this node.
void held_backward(BackwardContext& c, const Pieces::Held& held);

}  // namespace qs::autograd
