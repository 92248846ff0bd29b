// Declarations of the backward rules; registry.cpp maps op names to them. Each follows the
// contract in runtime/autograd/backward.h.
#pragma once

#include "runtime/autograd/backward.h"

namespace qs::autograd {

// binary.cpp: broadcasting elementwise ops; the gradient is summed over broadcast axes.
void add_backward(BackwardContext& c);
void sub_backward(BackwardContext& c);
void mul_backward(BackwardContext& c);
void div_backward(BackwardContext& c);
void pow_backward(BackwardContext& c);
void where_backward(BackwardContext& c);
void prelu_backward(BackwardContext& c);

// unary.cpp: elementwise math and activations.
void relu_backward(BackwardContext& c);
void leaky_relu_backward(BackwardContext& c);
void clip_backward(BackwardContext& c);
void sigmoid_backward(BackwardContext& c);
void tanh_backward(BackwardContext& c);
void hard_sigmoid_backward(BackwardContext& c);
void hard_swish_backward(BackwardContext& c);
void gelu_backward(BackwardContext& c);
void erf_backward(BackwardContext& c);
void sqrt_backward(BackwardContext& c);
void exp_backward(BackwardContext& c);
void log_backward(BackwardContext& c);
void neg_backward(BackwardContext& c);
void abs_backward(BackwardContext& c);
void reciprocal_backward(BackwardContext& c);
void zero_backward(BackwardContext& c);  // Floor, Ceil: zero almost everywhere

// conv.cpp
void conv_backward(BackwardContext& c);
void conv_transpose_backward(BackwardContext& c);

// matmul.cpp
void gemm_backward(BackwardContext& c);
void matmul_backward(BackwardContext& c);

// pool.cpp
void max_pool_backward(BackwardContext& c);
void average_pool_backward(BackwardContext& c);
void global_average_pool_backward(BackwardContext& c);
void global_max_pool_backward(BackwardContext& c);

// normalization.cpp: Softmax, LayerNormalization, BatchNormalization, reductions.
void softmax_backward(BackwardContext& c);
void log_softmax_backward(BackwardContext& c);
void layer_normalization_backward(BackwardContext& c);
void rms_normalization_backward(BackwardContext& c);
void batch_normalization_backward(BackwardContext& c);
void reduce_mean_backward(BackwardContext& c);
void reduce_sum_backward(BackwardContext& c);

// movement.cpp: ops that relabel or move elements.
void reshape_like_backward(BackwardContext& c);  // Reshape, Flatten, Squeeze, Unsqueeze, ...
void cast_backward(BackwardContext& c);
void traced_backward(BackwardContext& c);  // Transpose, Slice, Gather, Expand
void pad_backward(BackwardContext& c);
void concat_backward(BackwardContext& c);
void split_backward(BackwardContext& c);

// fake_quant.cpp
void fake_quant_backward(BackwardContext& c);

}  // namespace qs::autograd
