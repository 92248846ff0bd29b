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
void max(KernelContext& c);
void min(KernelContext& c);
void sum(KernelContext& c);
void mean(KernelContext& c);
void mod(KernelContext& c);
void less_or_equal(KernelContext& c);
void greater_or_equal(KernelContext& c);
void logical_and(KernelContext& c);
void logical_or(KernelContext& c);
void logical_xor(KernelContext& c);
void bit_shift(KernelContext& c);
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
void sin(KernelContext& c);
void cos(KernelContext& c);
void tan(KernelContext& c);
void asin(KernelContext& c);
void acos(KernelContext& c);
void atan(KernelContext& c);
void sinh(KernelContext& c);
void cosh(KernelContext& c);
void asinh(KernelContext& c);
void acosh(KernelContext& c);
void atanh(KernelContext& c);
void round(KernelContext& c);
void sign(KernelContext& c);
void logical_not(KernelContext& c);
void is_nan(KernelContext& c);
void is_inf(KernelContext& c);
// activations.cpp
void relu(KernelContext& c);
void leaky_relu(KernelContext& c);
void clip(KernelContext& c);
void sigmoid(KernelContext& c);
void tanh(KernelContext& c);
void hard_sigmoid(KernelContext& c);
void hard_swish(KernelContext& c);
void gelu(KernelContext& c);
void elu(KernelContext& c);
void selu(KernelContext& c);
void celu(KernelContext& c);
void thresholded_relu(KernelContext& c);
void softplus(KernelContext& c);
void softsign(KernelContext& c);
void mish(KernelContext& c);
void shrink(KernelContext& c);
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
void rms_normalization(KernelContext& c);
void attention(KernelContext& c);
// reduce.cpp
void reduce_mean(KernelContext& c);
void reduce_sum(KernelContext& c);
void reduce_max(KernelContext& c);
void reduce_min(KernelContext& c);
void reduce_prod(KernelContext& c);
void reduce_l1(KernelContext& c);
void reduce_l2(KernelContext& c);
void reduce_sum_square(KernelContext& c);
void reduce_log_sum(KernelContext& c);
void reduce_log_sum_exp(KernelContext& c);
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
// index_ops.cpp
void arg_max(KernelContext& c);
void arg_min(KernelContext& c);
void top_k(KernelContext& c);
void hardmax(KernelContext& c);
void cum_sum(KernelContext& c);
void trilu(KernelContext& c);
void range(KernelContext& c);
void size(KernelContext& c);
void one_hot(KernelContext& c);
void eye_like(KernelContext& c);
void tile(KernelContext& c);
void compress(KernelContext& c);
void non_zero(KernelContext& c);
// gather_scatter.cpp
void gather_elements(KernelContext& c);
void scatter_elements(KernelContext& c);
void gather_nd(KernelContext& c);
void scatter_nd(KernelContext& c);
void depth_to_space(KernelContext& c);
void space_to_depth(KernelContext& c);
// losses.cpp
void negative_log_likelihood_loss(KernelContext& c);
void softmax_cross_entropy_loss(KernelContext& c);
// group_normalization.cpp
void instance_normalization(KernelContext& c);
void group_normalization(KernelContext& c);
void mean_variance_normalization(KernelContext& c);
void lp_normalization(KernelContext& c);
void lrn(KernelContext& c);
// control_flow.cpp
void if_op(KernelContext& c);
void loop(KernelContext& c);
void scan(KernelContext& c);
// recurrent.cpp
void rnn(KernelContext& c);
void gru(KernelContext& c);
void lstm(KernelContext& c);
// quantize.cpp
void quantize_linear(KernelContext& c);
void dequantize_linear(KernelContext& c);
// Domain ai.quantscope: quantize then dequantize on one per-tensor grid
// (quantscope/quant_format.h).
void fake_quant(KernelContext& c);

}  // namespace qs::kernels
