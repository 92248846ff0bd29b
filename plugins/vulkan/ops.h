// Shared by the op builders: checks and small helpers.
#pragma once

#include <string>

#include "plan.h"

namespace qs::vk {

// gemm.comp's and depthwise.comp's ACT values for a fused activation node (0: none), with the
// Clip bounds; false when the node is not one of them or its bounds are not constants.
bool activation_code(const Graph& graph, const Node& node, int& act, float& lo, float& hi);
// Clip's bounds: attributes before opset 11, constant inputs after; false when not constant.
bool clip_bounds(const Graph& graph, const Node& node, float& lo, float& hi);

// The kernel window of a Conv or pool as the shaders read it: KH, KW, SH, SW, PH, PW, DH, DW,
// eight consecutive push constants.
struct Taps {
  std::int32_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
};
struct Geometry2d {
  Taps taps;
  std::int32_t peh = 0, pew = 0;  // the end pads
};
// The engine's windows (quantscope/window_geometry.h) of a 2-D node, or a 1-D one as height 1,
// as the shaders take them (geometry.cpp); "" or why not. `x` and `w` are the node's own shapes.
std::string conv_taps(const Node& node, const Shape& x, const Shape& w, Geometry2d& g);
std::string conv_transpose_taps(const Node& node, const Shape& x, const Shape& w, Geometry2d& g);
std::string pool_taps(const Node& node, const Shape& x, Geometry2d& g);

// Conv, ConvTranspose, Gemm and MatMul (ops_matmul.cpp).
std::string matmul_unsupported(const Graph& graph, const Node& node, const ShapeOf& shape_of,
                               bool packed);
void build_matmul(Plan& p, const Node& node, const PackedLayer* packed, int act, float lo,
                  float hi);

inline bool is_f32(const Tensor* t) {
  return t && t->dtype() == DType::f32;
}

// A dimension as a push constant (tensors are checked to stay under kMaxElements).
inline std::int32_t i32(std::int64_t v) {
  return static_cast<std::int32_t>(v);
}

constexpr std::int64_t kMaxElements = (std::int64_t{1} << 31) - 1;

}  // namespace qs::vk
