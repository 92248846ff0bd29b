// The op table: every op the reference device implements, by ONNX name.
#include <algorithm>
#include <utility>

#include "runtime/kernel.h"
#include "runtime/kernels/kernels.h"

namespace qs::kernels {

namespace {
const std::pair<const char*, KernelFn> kOps[] = {
    {"Abs", abs},
    {"Add", add},
    {"AveragePool", average_pool},
    {"BatchNormalization", batch_normalization},
    {"Cast", cast},
    {"Ceil", ceil},
    {"Clip", clip},
    {"Concat", concat},
    {"Constant", constant},
    {"ConstantOfShape", constant_of_shape},
    {"Conv", conv},
    {"ConvTranspose", conv_transpose},
    {"DequantizeLinear", dequantize_linear},
    {"Div", div},
    {"Dropout", dropout},
    {"Equal", equal},
    {"Erf", erf},
    {"Exp", exp},
    {"Expand", expand},
    {"Flatten", flatten},
    {"Floor", floor},
    {"Gather", gather},
    {"Gelu", gelu},
    {"Gemm", gemm},
    {"GlobalAveragePool", global_average_pool},
    {"GlobalMaxPool", global_max_pool},
    {"Greater", greater},
    {"HardSigmoid", hard_sigmoid},
    {"HardSwish", hard_swish},
    {"Identity", identity},
    {"LayerNormalization", layer_normalization},
    {"LeakyRelu", leaky_relu},
    {"Less", less},
    {"Log", log},
    {"LogSoftmax", log_softmax},
    {"MatMul", matmul},
    {"MaxPool", max_pool},
    {"Mul", mul},
    {"Neg", neg},
    {"PRelu", prelu},
    {"Pad", pad},
    {"Pow", pow},
    {"QuantizeLinear", quantize_linear},
    {"Reciprocal", reciprocal},
    {"ReduceMax", reduce_max},
    {"ReduceMean", reduce_mean},
    {"ReduceMin", reduce_min},
    {"ReduceSum", reduce_sum},
    {"Relu", relu},
    {"Reshape", reshape},
    {"Resize", resize},
    {"Shape", shape},
    {"Sigmoid", sigmoid},
    {"Slice", slice},
    {"Softmax", softmax},
    {"Split", split},
    {"Sqrt", sqrt},
    {"Squeeze", squeeze},
    {"Sub", sub},
    {"Tanh", tanh},
    {"Transpose", transpose},
    {"Unsqueeze", unsqueeze},
    {"Upsample", upsample},
    {"Where", where},
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
