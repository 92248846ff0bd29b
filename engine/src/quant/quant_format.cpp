// The quantized-layer format (quant_format.h): the only place that names its attributes.
#include "quantscope/quant_format.h"

#include <limits>

namespace qs::quant {

namespace {

// A quantized layer's attributes.
constexpr char kInputScale[] = "qs.x_scale";
constexpr char kInputZeroPoint[] = "qs.x_zero_point";
constexpr char kInputQmin[] = "qs.x_qmin";
constexpr char kInputQmax[] = "qs.x_qmax";
constexpr char kWeightBits[] = "qs.w_bits";
constexpr char kWeightCodes[] = "qs.w_codes";
constexpr char kWeightScales[] = "qs.w_scales";
constexpr char kWeightZeroPoints[] = "qs.w_zero_points";
constexpr char kWeightGroupsPerRow[] = "qs.w_groups_per_row";
constexpr char kWeightGroupSize[] = "qs.w_group_size";  // absent: cols / groups_per_row
constexpr char kBiasCodes[] = "qs.bias_codes";
constexpr char kPrefix[] = "qs.";

// A FakeQuant node's attributes.
constexpr char kScale[] = "scale";
constexpr char kZeroPoint[] = "zero_point";
constexpr char kQmin[] = "qmin";
constexpr char kQmax[] = "qmax";
constexpr char kBits[] = "bits";

// The signed 8-bit grid: what a grid attribute left out reads as.
constexpr std::int32_t kDefaultQmin = -128, kDefaultQmax = 127;

std::int32_t int32_attr(const Node& n, const char* key, std::int32_t fallback) {
  const std::int64_t v = n.attr_int(key, fallback);
  return static_cast<std::int32_t>(std::clamp<std::int64_t>(
      v, std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::max()));
}

}  // namespace

bool is_fake_quant(const Node& node) {
  return node.op_type == "FakeQuant" && node.domain == kQuantscopeDomain &&
         node.inputs.size() == 1 && node.outputs.size() == 1 && !node.inputs[0].empty();
}

Grid read_fake_quant(const Node& node) {
  Grid g;
  g.scale = node.attr_float(kScale, 0.0f);
  g.zero_point = int32_attr(node, kZeroPoint, 0);
  g.qmin = int32_attr(node, kQmin, kDefaultQmin);
  g.qmax = int32_attr(node, kQmax, kDefaultQmax);
  g.bits = static_cast<int>(std::clamp<std::int64_t>(node.attr_int(kBits, 8), 1, 32));
  return g;
}

Node make_fake_quant(const std::string& name, const std::string& input, const std::string& output,
                     const Grid& grid) {
  Node f;
  f.name = name;
  f.op_type = "FakeQuant";
  f.domain = kQuantscopeDomain;
  f.inputs = {input};
  f.outputs = {output};
  f.attributes[kScale] = {grid.scale};
  f.attributes[kZeroPoint] = {std::int64_t{grid.zero_point}};
  f.attributes[kQmin] = {std::int64_t{grid.qmin}};
  f.attributes[kQmax] = {std::int64_t{grid.qmax}};
  f.attributes[kBits] = {std::int64_t{grid.bits}};
  return f;
}

std::optional<Grid> read_input_grid(const Node& node) {
  if (!node.has_attr(kInputScale)) return std::nullopt;
  Grid g;
  g.scale = node.attr_float(kInputScale, 0.0f);
  g.zero_point = int32_attr(node, kInputZeroPoint, 0);
  g.qmin = int32_attr(node, kInputQmin, kDefaultQmin);
  g.qmax = int32_attr(node, kInputQmax, kDefaultQmax);
  g.bits = 0;
  for (std::int64_t span = std::int64_t{g.qmax} - g.qmin; span > 0; span >>= 1) ++g.bits;
  return g;
}

void write_input_grid(Node& node, const Grid& grid) {
  node.attributes[kInputScale] = {grid.scale};
  node.attributes[kInputZeroPoint] = {std::int64_t{grid.zero_point}};
  node.attributes[kInputQmin] = {std::int64_t{grid.qmin}};
  node.attributes[kInputQmax] = {std::int64_t{grid.qmax}};
}

bool has_quantized_weights(const Node& node) {
  return node.has_attr(kWeightCodes);
}

std::optional<LayerWeights> read_weights(const Node& node, std::string& why) {
  LayerWeights w;
  w.codes = node.attr_tensor(kWeightCodes);
  w.scales = node.attr_tensor(kWeightScales);
  w.zero_points = node.attr_tensor(kWeightZeroPoints);
  if (!w.codes || !w.scales || !w.zero_points || w.codes->dtype() != DType::i8 ||
      w.scales->dtype() != DType::f32 || w.zero_points->dtype() != DType::i32 ||
      !w.codes->has_data() || !w.scales->has_data() || !w.zero_points->has_data() ||
      w.scales->numel() != w.zero_points->numel() || w.scales->numel() == 0) {
    why = "no weight codes";
    return std::nullopt;
  }
  const std::int64_t bits = node.attr_int(kWeightBits, 8);
  if (bits < 2 || bits > 8) {
    why = "weight bits " + std::to_string(bits);
    return std::nullopt;
  }
  w.bits = static_cast<int>(bits);
  w.groups_per_row = node.attr_int(kWeightGroupsPerRow, 1);
  if (w.groups_per_row < 1 || w.scales->numel() % w.groups_per_row != 0) {
    why = "weight groups";
    return std::nullopt;
  }
  w.rows = w.scales->numel() / w.groups_per_row;
  if (w.codes->numel() % w.rows != 0) {
    why = "weight codes do not fit their scales";
    return std::nullopt;
  }
  w.cols = w.codes->numel() / w.rows;
  w.group_size = node.attr_int(kWeightGroupSize, w.cols / w.groups_per_row);
  if (w.group_size < 1 || w.group_size > w.cols ||
      groups_in_row(w.cols, w.group_size) != w.groups_per_row) {
    why = "weight groups of " + std::to_string(w.group_size) + " do not cut " +
          std::to_string(w.cols) + " inputs into " + std::to_string(w.groups_per_row);
    return std::nullopt;
  }
  w.bias_codes = node.attr_tensor(kBiasCodes);
  if (w.bias_codes && (w.bias_codes->dtype() != DType::i32 || !w.bias_codes->has_data() ||
                       w.bias_codes->numel() != w.rows)) {
    why = "bias codes";
    return std::nullopt;
  }
  return w;
}

void write_weights(Node& node, int bits, Tensor codes, Tensor scales, Tensor zero_points,
                   std::int64_t groups_per_row, std::int64_t group_size) {
  node.attributes[kWeightBits] = {std::int64_t{bits}};
  node.attributes[kWeightCodes] = {std::move(codes)};
  node.attributes[kWeightScales] = {std::move(scales)};
  node.attributes[kWeightZeroPoints] = {std::move(zero_points)};
  node.attributes[kWeightGroupsPerRow] = {groups_per_row};
  node.attributes[kWeightGroupSize] = {group_size};
}

void write_bias_codes(Node& node, Tensor codes) {
  node.attributes[kBiasCodes] = {std::move(codes)};
}

void erase_quantization(Node& node) {
  for (auto it = node.attributes.begin(); it != node.attributes.end();)
    it = it->first.rfind(kPrefix, 0) == 0 ? node.attributes.erase(it) : std::next(it);
}

}  // namespace qs::quant
