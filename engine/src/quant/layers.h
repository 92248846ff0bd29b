// The quantizable layers of a graph and how their weights look as a matrix [out channels,
// inputs]: the one view that weight quantizers, GPTQ's Hessian and the integer kernels share.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "quantscope/graph.h"

namespace qs::quant {

enum class LayerKind { conv, conv_transpose, gemm, matmul_weight, matmul_acts };

struct QuantLayer {
  const Node* node = nullptr;
  LayerKind kind = LayerKind::conv;
  std::string weight;                   // initializer; empty for matmul_acts
  std::string bias;                     // 1-D initializer of `rows` values, or empty
  std::vector<std::string> act_inputs;  // the activations it reads (X; both MatMul inputs)
  std::int64_t rows = 0, cols = 0;      // weights as a matrix: out channels x inputs
  std::int64_t groups = 1;              // convolution groups: rows and cols split evenly
};

// Conv/ConvTranspose with a constant weight, Gemm/MatMul with a constant 2-D B, MatMul of two
// activations; in graph order. Pointers are into `graph`.
std::vector<QuantLayer> find_quant_layers(const Graph& graph);
const char* layer_kind_name(LayerKind kind);

// For each element of the matrix [rows, cols] (row-major), its flat index in the weight tensor.
std::vector<std::int64_t> matrix_to_weight_index(const QuantLayer& layer,
                                                 const Shape& weight_shape);
// The weight tensor as a row-major matrix [rows, cols].
std::vector<float> weight_to_matrix(const QuantLayer& layer, const Tensor& weight);
// Matrix values back in the weight tensor's element order.
template <typename T>
std::vector<T> matrix_to_weight_order(const std::vector<std::int64_t>& index,
                                      const std::vector<T>& matrix) {
  std::vector<T> out(matrix.size());
  for (std::size_t i = 0; i < matrix.size(); ++i)
    out[static_cast<std::size_t>(index[i])] = matrix[i];
  return out;
}

}  // namespace qs::quant
