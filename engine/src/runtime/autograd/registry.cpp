// The backward rule table: every op GradientEngine can differentiate, by ONNX name.
#include <utility>

#include "runtime/autograd/rules.h"

namespace qs::autograd {

namespace {

struct Entry {
  const char* op;
  BackwardRule rule;
};

// `differentiable`: how many leading inputs get gradients (-1: all). Integer inputs (shapes,
// indices, axes) never carry gradients, whatever the count says.
const Entry kRules[] = {
    {"Abs", {abs_backward, 1}},
    {"Add", {add_backward, -1}},
    {"AveragePool", {average_pool_backward, 1}},
    {"BatchNormalization", {batch_normalization_backward, -1}},
    {"Cast", {cast_backward, 1}},
    {"Ceil", {zero_backward, 1}},
    {"Clip", {clip_backward, -1}},
    {"Concat", {concat_backward, -1}},
    {"Conv", {conv_backward, -1}},
    {"ConvTranspose", {conv_transpose_backward, -1}},
    {"Div", {div_backward, -1}},
    {"Dropout", {reshape_like_backward, 1}},
    {"Erf", {erf_backward, 1}},
    {"Exp", {exp_backward, 1}},
    {"Expand", {traced_backward, 1}},
    {"Flatten", {reshape_like_backward, 1}},
    {"Floor", {zero_backward, 1}},
    {"Gather", {traced_backward, 1}},
    {"Gelu", {gelu_backward, 1}},
    {"Gemm", {gemm_backward, -1}},
    {"GlobalAveragePool", {global_average_pool_backward, 1}},
    {"GlobalMaxPool", {global_max_pool_backward, 1}},
    {"HardSigmoid", {hard_sigmoid_backward, 1}},
    {"HardSwish", {hard_swish_backward, 1}},
    {"Identity", {reshape_like_backward, 1}},
    {"LayerNormalization", {layer_normalization_backward, -1}},
    {"LeakyRelu", {leaky_relu_backward, 1}},
    {"Log", {log_backward, 1}},
    {"LogSoftmax", {log_softmax_backward, 1}},
    {"MatMul", {matmul_backward, -1}},
    {"MaxPool", {max_pool_backward, 1}},
    {"Mul", {mul_backward, -1}},
    {"Neg", {neg_backward, 1}},
    {"PRelu", {prelu_backward, -1}},
    {"Pad", {pad_backward, 1}},
    {"Pow", {pow_backward, -1}},
    {"Reciprocal", {reciprocal_backward, 1}},
    {"RMSNormalization", {rms_normalization_backward, -1}},
    {"ReduceMean", {reduce_mean_backward, 1}},
    {"ReduceSum", {reduce_sum_backward, 1}},
    {"Relu", {relu_backward, 1}},
    {"Reshape", {reshape_like_backward, 1}},
    {"Sigmoid", {sigmoid_backward, 1}},
    {"Slice", {traced_backward, 1}},
    {"Softmax", {softmax_backward, 1}},
    {"Split", {split_backward, 1}},
    {"Sqrt", {sqrt_backward, 1}},
    {"Squeeze", {reshape_like_backward, 1}},
    {"Sub", {sub_backward, -1}},
    {"Tanh", {tanh_backward, 1}},
    {"Transpose", {traced_backward, 1}},
    {"Unsqueeze", {reshape_like_backward, 1}},
    {"Where", {where_backward, -1}},
};

// Domain ai.quantscope.
const Entry kQuantscopeRules[] = {
    {"FakeQuant", {fake_quant_backward, 1}},
};

}  // namespace

const BackwardRule* find_backward_rule(const std::string& op_type, const std::string& domain) {
  if (domain == kQuantscopeDomain) {
    for (const Entry& e : kQuantscopeRules)
      if (op_type == e.op) return &e.rule;
    return nullptr;
  }
  if (!domain.empty() && domain != "ai.onnx") return nullptr;
  for (const Entry& e : kRules)
    if (op_type == e.op) return &e.rule;
  return nullptr;
}

}  // namespace qs::autograd
