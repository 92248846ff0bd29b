// Declarations of the reference kernels; kernel_registry.cpp maps op names to them.
// Each follows the contract in runtime/kernel.h.
#pragma once

#include "runtime/kernel.h"

namespace qs::kernels {

// elementwise_binary.cpp
void add(KernelContext& c);
void sub(KernelContext& c);
void mul(KernelContext& c);
void div(KernelContext& c);
void pow(KernelContext& c);
void equal(KernelContext& c);
void less(KernelContext& c);
void greater(KernelContext& c);
void where(KernelContext& c);
void prelu(KernelContext& c);
// elementwise_unary.cpp
void sqrt(KernelContext& c);
void erf(KernelContext& c);
void exp(KernelContext& c);
void log(KernelContext& c);
void neg(KernelContext& c);
void abs(KernelContext& c);
void reciprocal(KernelContext& c);
void floor(KernelContext& c);
void ceil(KernelContext& c);
// activations.cpp
void relu(KernelContext& c);
void leaky_relu(KernelContext& c);
void clip(KernelContext& c);
void sigmoid(KernelContext& c);
void tanh(KernelContext& c);
void hard_sigmoid(KernelContext& c);
void hard_swish(KernelContext& c);
void gelu(KernelContext& c);
// softmax.cpp
void softmax(KernelContext& c);
void log_softmax(KernelContext& c);
// conv.cpp, conv_transpose.cpp
void conv(KernelContext& c);
void conv_transpose(KernelContext& c);
// gemm.cpp
void gemm(KernelContext& c);
void matmul(KernelContext& c);
// pool.cpp
void max_pool(KernelContext& c);
void average_pool(KernelContext& c);
void global_average_pool(KernelContext& c);
void global_max_pool(KernelContext& c);
// batch_normalization.cpp, layer_normalization.cpp
void batch_normalization(KernelContext& c);
void layer_normalization(KernelContext& c);
// reduce.cpp
void reduce_mean(KernelContext& c);
void reduce_sum(KernelContext& c);
void reduce_max(KernelContext& c);
void reduce_min(KernelContext& c);
// shape_ops.cpp
void reshape(KernelContext& c);
void flatten(KernelContext& c);
void transpose(KernelContext& c);
void squeeze(KernelContext& c);
void unsqueeze(KernelContext& c);
void shape(KernelContext& c);
void identity(KernelContext& c);
void dropout(KernelContext& c);
void expand(KernelContext& c);
void constant(KernelContext& c);
void constant_of_shape(KernelContext& c);
void cast(KernelContext& c);
// gather_slice.cpp
void concat(KernelContext& c);
void split(KernelContext& c);
void slice(KernelContext& c);
void gather(KernelContext& c);
void pad(KernelContext& c);
// resize.cpp
void resize(KernelContext& c);
void upsample(KernelContext& c);
// quantize.cpp
void quantize_linear(KernelContext& c);
void dequantize_linear(KernelContext& c);
// Domain ai.quantscope: quantize then dequantize on one per-tensor grid (quant/grid.h).
void fake_quant(KernelContext& c);

}  // namespace qs::kernels
