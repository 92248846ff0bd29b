#include "weights.h"

namespace qs::vk {

std::shared_ptr<const PackedLayer> pack_layer(const Graph& graph, const Node& node,
                                              std::string& why) {
  const std::string& op = node.op_type;
  if (op != "Conv" && op != "Gemm" && op != "MatMul") {
    why = "op " + op;
    return nullptr;
  }
  const std::optional<quant::LayerWeights> lw = quant::read_weights(node, why);
  if (!lw) return nullptr;
  const Tensor* codes = lw->codes;
  const Tensor* scales = lw->scales;
  const Tensor* zps = lw->zero_points;
  if (codes->rank() < 2) {
    why = "weights of rank " + std::to_string(codes->rank());
    return nullptr;
  }
  auto w = graph.initializers.find(node.inputs.size() > 1 ? node.inputs[1] : "");
  if (w == graph.initializers.end() || w->second.shape() != codes->shape()) {
    why = "weights not constant";
    return nullptr;
  }
  const Shape& s = codes->shape();
  const bool kn = op == "MatMul" || (op == "Gemm" && node.attr_int("transB", 0) == 0);
  if (kn && s.size() != 2) {
    why = "weights of rank " + std::to_string(s.size());
    return nullptr;
  }
  if (op == "Conv" && node.attr_int("group", 1) > 1 && s[1] == 1) {
    why = "depthwise";
    return nullptr;
  }
  auto layer = std::make_shared<PackedLayer>();
  layer->rows = kn ? s[1] : s[0];
  layer->k = codes->numel() / layer->rows;
  layer->groups_per_row = lw->groups_per_row;
  layer->group_size = lw->group_size;
  const int bits = lw->bits;
  if (scales->numel() != layer->rows * layer->groups_per_row || layer->k != lw->cols) {
    why = "weight scales do not fit the codes";
    return nullptr;
  }
  const std::int8_t* c = codes->data<std::int8_t>();
  bool fits4 = bits <= 4;
  for (std::int64_t i = 0; fits4 && i < codes->numel(); ++i) fits4 = c[i] >= -8 && c[i] <= 7;
  layer->format = fits4 ? 2 : 1;
  const int per_word = fits4 ? 8 : 4, width = 32 / per_word;
  layer->k_words = (layer->k + per_word - 1) / per_word;
  layer->words.assign(static_cast<std::size_t>(layer->rows * layer->k_words), 0u);
  for (std::int64_t r = 0; r < layer->rows; ++r)
    for (std::int64_t k = 0; k < layer->k; ++k) {
      const std::int8_t code = kn ? c[k * layer->rows + r] : c[r * layer->k + k];
      const std::uint32_t bits_of =
          static_cast<std::uint32_t>(static_cast<std::uint8_t>(code)) & ((1u << width) - 1u);
      layer->words[static_cast<std::size_t>(r * layer->k_words + k / per_word)] |=
          bits_of << ((k % per_word) * width);
    }
  layer->scales = scales->to_f32();
  layer->zero_points.assign(zps->data<std::int32_t>(), zps->data<std::int32_t>() + zps->numel());
  return layer;
}

}  // namespace qs::vk
