#include "runtime/kernels/integer_layer.h"

#include <cmath>

namespace qs::kernels {

std::optional<IntegerLayer> integer_layer(const Node& node, const Tensor& weights,
                                          std::int64_t rows, std::int64_t inner,
                                          const Tensor* bias) {
  std::string why;
  const std::optional<quant::LayerWeights> lw = quant::read_weights(node, why);
  const std::optional<quant::Grid> x_grid = quant::read_input_grid(node);
  if (!lw || !x_grid || !(x_grid->scale > 0.0f) || !std::isfinite(x_grid->scale) ||
      lw->groups_per_row != 1 || weights.dtype() != DType::f32 ||
      lw->codes->shape() != weights.shape() || lw->rows != rows || rows <= 0 || inner <= 0)
    return std::nullopt;
  const Tensor* codes = lw->codes;
  const Tensor* scales = lw->scales;
  const Tensor* zps = lw->zero_points;
  const float x_scale = x_grid->scale;
  IntegerLayer l;
  l.x_scale = x_scale;
  const float* ws = scales->data<float>();
  const std::int32_t* wz = zps->data<std::int32_t>();
  const std::int8_t* c = codes->data<std::int8_t>();
  const float* w = weights.data<float>();
  l.w_levels.resize(static_cast<std::size_t>(weights.numel()));
  for (std::int64_t i = 0; i < weights.numel(); ++i) {
    const std::int64_t r = (i / inner) % rows;
    const std::int32_t level = std::int32_t{c[i]} - wz[r];
    // The same expression apply_quantization() dequantizes with: equal bit for bit.
    if (static_cast<float>(level) * ws[r] != w[i]) return std::nullopt;
    l.w_levels[static_cast<std::size_t>(i)] = static_cast<float>(level);
    l.w_max = std::max(l.w_max, std::abs(static_cast<float>(level)));
  }
  l.scales.resize(static_cast<std::size_t>(rows));
  for (std::int64_t r = 0; r < rows; ++r) l.scales[static_cast<std::size_t>(r)] = x_scale * ws[r];
  const Tensor* bias_codes = lw->bias_codes;
  if (bias && bias_codes && bias->dtype() == DType::f32 && bias->numel() == rows) {
    const std::int32_t* bc = bias_codes->data<std::int32_t>();
    const float* b = bias->data<float>();
    std::vector<float> codes_f(static_cast<std::size_t>(rows));
    bool on_grid = true;
    for (std::int64_t r = 0; r < rows && on_grid; ++r) {
      const float s = l.scales[static_cast<std::size_t>(r)];
      on_grid = static_cast<float>(bc[r]) * s == b[r];
      codes_f[static_cast<std::size_t>(r)] = static_cast<float>(bc[r]);
    }
    if (on_grid) l.bias = std::move(codes_f);
  }
  return l;
}

std::optional<IntegerLayer> integer_layer_of(const Node& node,
                                             const std::vector<const Tensor*>& inputs) {
  if (!quant::has_quantized_weights(node) || inputs.size() < 2 || !inputs[1]) return std::nullopt;
  const Tensor& w = *inputs[1];
  const Tensor* bias = inputs.size() > 2 ? inputs[2] : nullptr;
  if (node.op_type == "Conv") {
    if (w.rank() < 3 || w.dim(0) <= 0) return std::nullopt;
    return integer_layer(node, w, w.dim(0), w.numel() / w.dim(0), bias);
  }
  if (w.rank() != 2) return std::nullopt;
  if (node.op_type == "MatMul") return integer_layer(node, w, w.dim(1), 1, nullptr);
  if (node.op_type != "Gemm") return std::nullopt;
  // Gemm: the bias is C when it is a row of N added once (alpha = beta = 1).
  const bool trans_b = node.attr_int("transB", 0) != 0;
  const std::int64_t n = trans_b ? w.dim(0) : w.dim(1);
  const bool bias_candidate = bias && node.attr_float("alpha", 1.0f) == 1.0f &&
                              node.attr_float("beta", 1.0f) == 1.0f && bias->numel() == n;
  return integer_layer(node, w, n, trans_b ? w.dim(1) : 1, bias_candidate ? bias : nullptr);
}

PreparedLayers prepare_integer_layers(const Graph& graph) {
  PreparedLayers prepared;
  for (const Node& node : graph.nodes) {
    if (!quant::has_quantized_weights(node)) continue;
    std::vector<const Tensor*> inputs(node.inputs.size(), nullptr);
    bool constant = node.inputs.size() >= 2;
    for (std::size_t i = 1; i < node.inputs.size() && constant; ++i) {
      if (node.inputs[i].empty()) continue;
      auto it = graph.initializers.find(node.inputs[i]);
      constant = it != graph.initializers.end();
      if (constant) inputs[i] = &it->second;
    }
    if (constant) prepared[&node] = integer_layer_of(node, inputs);
  }
  return prepared;
}

const std::optional<IntegerLayer>& integer_form(const KernelContext& c,
                                                std::optional<IntegerLayer>& scratch) {
  if (c.integer_form) return *c.integer_form;
  scratch = integer_layer_of(c.node, c.inputs);
  return scratch;
}

std::optional<std::vector<float>> input_levels(const Tensor& x, float scale, float& max_abs) {
  if (x.dtype() != DType::f32) return std::nullopt;
  const float* p = x.data<float>();
  const float inv = 1.0f / scale;
  // Adding and subtracting 1.5 x 2^23 rounds a float below 2^22 to an integer, half to even,
  // in a loop the compiler vectorizes (nearbyint is a call per element on baseline x86-64).
  // p x (1 / scale) is within 0.01 of the level for levels up to 2^16, so it rounds to it.
  constexpr float kRound = 12582912.0f;
  std::vector<float> levels(static_cast<std::size_t>(x.numel()));
  float* l = levels.data();
  float largest = 0;
  int off_grid = 0;
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    const float level = (p[i] * inv + kRound) - kRound;
    l[i] = level;
    off_grid |= !(level * scale == p[i]);  // NaN and infinities too
    largest = std::max(largest, std::abs(level));
  }
  if (off_grid || !(largest <= 65536.0f)) return std::nullopt;
  max_abs = largest;
  return levels;
}

}  // namespace qs::kernels
