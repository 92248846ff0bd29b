// A weight-only quantized MatMul as ONNX Runtime's com.microsoft MatMulNBits (the form ONNX
// Runtime GenAI runs): Y = A x dequantize(B)^T with B's codes per output column, in blocks of
// `block` inputs along K, each with a scale and a zero point.
#pragma once

#include <optional>
#include <string>

#include "quantscope/quant_format.h"
#include "quantscope/tensor.h"

namespace qs::exporter {

struct NBitsWeights {
  std::int64_t k = 0, n = 0, bits = 4, block = 0;
  Tensor b;            // u8 [n, blocks, block * bits / 8]: codes + 2^(bits-1), the first in the
                       // low nibble (4 bits); past K: the block's zero point
  Tensor scales;       // f32 [n * blocks], blocks = ceil(k / block)
  Tensor zero_points;  // u8, zero point + 2^(bits-1), packed like B per output column (4 bits:
                       // [n * ceil(blocks / 2)]); empty when every one is 0 (the op's default)
};

// The MatMulNBits form of a quantized MatMul's weights (codes [K, N], quant_format.h): 2-4 bit
// codes stored in 4 bits, 5-8 in 8; blocks of 16 to 256 inputs (what ONNX Runtime's kernels
// take) that divide the group size, a group's blocks sharing its scale (a group per row: blocks
// of up to 256 covering K). nullopt with `why` when the weights do not fit.
std::optional<NBitsWeights> matmul_nbits_weights(const quant::LayerWeights& w, std::string& why);

}  // namespace qs::exporter
