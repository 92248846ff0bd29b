// The op table: every op the reference device implements, by ONNX name.
#include <algorithm>
#include <utility>

#include "runtime/kernel.h"
#include "runtime/kernels/kernels.h"

namespace qs::kernels {

namespace {
const std::pair<const char*, KernelFn> kOps[] = {
    {"Abs", abs},
    {"Acos", acos},
    {"Acosh", acosh},
    {"Add", add},
    {"And", logical_and},
    {"ArgMax", arg_max},
    {"ArgMin", arg_min},
    {"Asin", asin},
    {"Asinh", asinh},
    {"Atan", atan},
    {"Atanh", atanh},
    {"Attention", attention},
    {"AveragePool", average_pool},
    {"BatchNormalization", batch_normalization},
    {"BitShift", bit_shift},
    {"Cast", cast},
    {"Ceil", ceil},
    {"Celu", celu},
    {"Clip", clip},
    {"Compress", compress},
    {"Concat", concat},
    {"Constant", constant},
    {"ConstantOfShape", constant_of_shape},
    {"Conv", conv},
    {"ConvTranspose", conv_transpose},
    {"Cos", cos},
    {"Cosh", cosh},
    {"CumSum", cum_sum},
    {"DepthToSpace", depth_to_space},
    {"DequantizeLinear", dequantize_linear},
    {"Div", div},
    {"Dropout", dropout},
    {"Elu", elu},
    {"Equal", equal},
    {"Erf", erf},
    {"Exp", exp},
    {"Expand", expand},
    {"EyeLike", eye_like},
    {"Flatten", flatten},
    {"Floor", floor},
    {"GRU", gru},
    {"Gather", gather},
    {"GatherElements", gather_elements},
    {"GatherND", gather_nd},
    {"Gelu", gelu},
    {"Gemm", gemm},
    {"GlobalAveragePool", global_average_pool},
    {"GlobalMaxPool", global_max_pool},
    {"Greater", greater},
    {"GreaterOrEqual", greater_or_equal},
    {"GroupNormalization", group_normalization},
    {"HardSigmoid", hard_sigmoid},
    {"HardSwish", hard_swish},
    {"Hardmax", hardmax},
    {"Identity", identity},
    {"If", if_op},
    {"InstanceNormalization", instance_normalization},
    {"IsInf", is_inf},
    {"IsNaN", is_nan},
    {"LRN", lrn},
    {"LSTM", lstm},
    {"LayerNormalization", layer_normalization},
    {"LeakyRelu", leaky_relu},
    {"Less", less},
    {"LessOrEqual", less_or_equal},
    {"Log", log},
    {"LogSoftmax", log_softmax},
    {"Loop", loop},
    {"LpNormalization", lp_normalization},
    {"MatMul", matmul},
    {"Max", max},
    {"MaxPool", max_pool},
    {"Mean", mean},
    {"MeanVarianceNormalization", mean_variance_normalization},
    {"Min", min},
    {"Mish", mish},
    {"Mod", mod},
    {"Mul", mul},
    {"Neg", neg},
    {"NegativeLogLikelihoodLoss", negative_log_likelihood_loss},
    {"NonZero", non_zero},
    {"Not", logical_not},
    {"OneHot", one_hot},
    {"Or", logical_or},
    {"PRelu", prelu},
    {"Pad", pad},
    {"Pow", pow},
    {"QuantizeLinear", quantize_linear},
    {"RNN", rnn},
    {"RMSNormalization", rms_normalization},
    {"Range", range},
    {"Reciprocal", reciprocal},
    {"ReduceL1", reduce_l1},
    {"ReduceL2", reduce_l2},
    {"ReduceLogSum", reduce_log_sum},
    {"ReduceLogSumExp", reduce_log_sum_exp},
    {"ReduceMax", reduce_max},
    {"ReduceMean", reduce_mean},
    {"ReduceMin", reduce_min},
    {"ReduceProd", reduce_prod},
    {"ReduceSum", reduce_sum},
    {"ReduceSumSquare", reduce_sum_square},
    {"Relu", relu},
    {"Reshape", reshape},
    {"Resize", resize},
    {"Round", round},
    {"Scan", scan},
    {"Scatter", scatter_elements},
    {"ScatterElements", scatter_elements},
    {"ScatterND", scatter_nd},
    {"Selu", selu},
    {"Shape", shape},
    {"Shrink", shrink},
    {"Sigmoid", sigmoid},
    {"Sign", sign},
    {"Sin", sin},
    {"Sinh", sinh},
    {"Size", size},
    {"Slice", slice},
    {"Softmax", softmax},
    {"SoftmaxCrossEntropyLoss", softmax_cross_entropy_loss},
    {"Softplus", softplus},
    {"Softsign", softsign},
    {"SpaceToDepth", space_to_depth},
    {"Split", split},
    {"Sqrt", sqrt},
    {"Squeeze", squeeze},
    {"Sub", sub},
    {"Sum", sum},
    {"Tan", tan},
    {"Tanh", tanh},
    {"ThresholdedRelu", thresholded_relu},
    {"Tile", tile},
    {"TopK", top_k},
    {"Transpose", transpose},
    {"Trilu", trilu},
    {"Unsqueeze", unsqueeze},
    {"Upsample", upsample},
    {"Where", where},
    {"Xor", logical_xor},
};

// Quantscope's own ops (domain "ai.quantscope"): what quantization inserts into a graph.
const std::pair<const char*, KernelFn> kQuantscopeOps[] = {
    {"FakeQuant", fake_quant},
};
}  // namespace

KernelFn find_kernel(const std::string& op_type, const std::string& domain) {
  if (domain == kQuantscopeDomain) {
    for (const auto& [name, fn] : kQuantscopeOps)
      if (op_type == name) return fn;
    return nullptr;
  }
  if (!domain.empty() && domain != "ai.onnx") return nullptr;
  for (const auto& [name, fn] : kOps)
    if (op_type == name) return fn;
  return nullptr;
}

std::vector<std::string> supported_ops() {
  std::vector<std::string> out;
  for (const auto& [name, fn] : kOps) out.emplace_back(name);
  return out;
}

}  // namespace qs::kernels
