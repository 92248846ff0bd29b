// The integer arithmetic of a quantized layer in the simulation graph (quant_format.h's
// attributes), so that cpu-ref's Conv, Gemm and MatMul compute what the integer kernels do:
// the sum of (input code - zero point) x (weight code - zero point) exactly, the bias codes
// added to it, and one multiplication by input scale x weight scale, the integer kernels'
// output scale. Summing the dequantized floats instead rounds every product and partial sum;
// a value near a rounding boundary of the next FakeQuant then lands on the other code.
//
// Everything is checked against the node's actual inputs: a weight, bias or input that is not
// exactly on the grid the attributes describe (a graph edited after apply_quantization) makes
// the kernel compute in floats as for any other node.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "quantscope/graph.h"
#include "quantscope/quant_format.h"
#include "quantscope/tensor.h"
#include "runtime/kernel.h"

namespace qs::kernels {

struct IntegerLayer {
  std::vector<float> w_levels;  // code - zero point, in the weight tensor's own order
  float w_max = 0;              // largest |level|
  std::vector<float> scales;    // per row (output channel): x_scale * w_scale
  std::vector<float> bias;      // the bias codes as floats (as the kernels add them), or empty
  float x_scale = 1;
};

// The layer's integer form when `node` carries the qs.* attributes of a layer whose input and
// weights are quantized (one grid per row) and `weights` is exactly their dequantized codes.
// Row of weight element i: (i / inner) % rows. `bias`: the float bias the node adds, checked to
// be bias code x scale (else IntegerLayer::bias stays empty and the caller adds it in floats).
std::optional<IntegerLayer> integer_layer(const Node& node, const Tensor& weights,
                                          std::int64_t rows, std::int64_t inner,
                                          const Tensor* bias);

// The integer form of a Conv, Gemm or MatMul node for these inputs (weights 1, bias 2; the data
// input is not read), with the rows, inner size and bias the op's kernel uses; nullopt when the
// node is not such a quantized layer.
std::optional<IntegerLayer> integer_layer_of(const Node& node,
                                             const std::vector<const Tensor*>& inputs);

// Each quantized layer's integer form where its weights (and bias) are initializers: computed
// once when cpu-ref compiles a graph, handed to the kernels through KernelContext::integer_form.
using PreparedLayers = std::map<const Node*, std::optional<IntegerLayer>>;
PreparedLayers prepare_integer_layers(const Graph& graph);

// The layer's form for this run: the prepared one, else derived from the inputs into `scratch`.
const std::optional<IntegerLayer>& integer_form(const KernelContext& c,
                                                std::optional<IntegerLayer>& scratch);

// The levels (code - zero point) of an input on the grid of `scale`, and the largest |level|;
// nullopt when an element is not exactly level x scale.
std::optional<std::vector<float>> input_levels(const Tensor& x, float scale, float& max_abs);

// Whether a product of `k` terms of at most these magnitudes has every partial sum exact in
// fp32 (below 2^24); otherwise it is summed in double.
inline bool exact_in_float(float x_max, float w_max, std::int64_t k) {
  return static_cast<double>(x_max) * w_max * static_cast<double>(k) < 16777216.0;
}

}  // namespace qs::kernels
