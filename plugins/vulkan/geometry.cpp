// Conv, ConvTranspose and pooling windows: strides, dilations and pads (auto_pad resolved) as
// the shaders read them.
#include <algorithm>

#include "ops.h"

namespace qs::vk {

std::string geometry(const Node& node, const Shape& x, const Shape& kernel, const Shape& out,
                     Geometry2d& g, bool one_d) {
  auto read = [&](const char* name, int count, std::vector<std::int64_t> fallback) {
    std::vector<std::int64_t> v = node.attr_ints(name);
    if (v.empty()) v = fallback;
    if (one_d && static_cast<int>(v.size()) == count / 2) {
      // 1-D attributes on the width axis.
      if (count == 2)
        v.insert(v.begin(), fallback[0]);
      else
        v = {fallback[0], v[0], fallback[0], v[1]};
    }
    return v;
  };
  const std::vector<std::int64_t> strides = read("strides", 2, {1, 1});
  const std::vector<std::int64_t> dil = read("dilations", 2, {1, 1});
  std::vector<std::int64_t> pads = read("pads", 4, {0, 0, 0, 0});
  if (strides.size() != 2 || dil.size() != 2 || pads.size() != 4) return "attributes";
  for (std::int64_t v : strides)
    if (v < 1 || v > 65535) return "strides";
  for (std::int64_t v : dil)
    if (v < 1 || v > 65535) return "dilations";
  for (std::int64_t v : pads)
    if (v < 0 || v > 65535) return "pads";
  if (kernel.size() != 2 || out.size() != 4) return "rank";
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  for (int i = 0; i < 2; ++i) {
    const std::int64_t extent = (kernel[i] - 1) * dil[i] + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const std::int64_t total =
          std::max<std::int64_t>(0, (out[i + 2] - 1) * strides[i] + extent - x[i + 2]);
      pads[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      pads[i + 2] = total - pads[i];
    } else if (auto_pad == "VALID") {
      pads[i] = pads[i + 2] = 0;
    } else if (auto_pad != "NOTSET") {
      return "auto_pad " + auto_pad;
    }
  }
  g.taps = Taps{i32(kernel[0]), i32(kernel[1]), i32(strides[0]), i32(strides[1]),
                i32(pads[0]),   i32(pads[1]),   i32(dil[0]),     i32(dil[1])};
  g.peh = i32(pads[2]);
  g.pew = i32(pads[3]);
  return "";
}

std::string transpose_geometry(const Node& node, const Shape& x, const Shape& kernel,
                               const Shape& out, Geometry2d& g) {
  // Strides, dilations and explicit pads read as for Conv; the output is not derived from them.
  std::string why = geometry(node, x, kernel, {out[0], out[1], 1, 1}, g);
  if (!why.empty() && why != "empty output") return why;
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  std::vector<std::int64_t> output_padding = node.attr_ints("output_padding");
  if (output_padding.empty()) output_padding = {0, 0};
  if (output_padding.size() != 2) return "output_padding";
  const bool same = auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
  const int stride[2] = {g.taps.sh, g.taps.sw}, dil[2] = {g.taps.dh, g.taps.dw};
  std::int32_t* begin[2] = {&g.taps.ph, &g.taps.pw};
  for (int i = 0; i < 2; ++i) {
    const std::int64_t extent = (kernel[static_cast<std::size_t>(i)] - 1) * dil[i] + 1;
    const std::int64_t full = stride[i] * (x[static_cast<std::size_t>(i) + 2] - 1) +
                              output_padding[static_cast<std::size_t>(i)] + extent;
    if (node.has_attr("output_shape") || same) {
      const std::int64_t total =
          std::max<std::int64_t>(0, full - out[static_cast<std::size_t>(i) + 2]);
      *begin[i] = i32(auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2);
    } else if (auto_pad == "VALID") {
      *begin[i] = 0;
    }
  }
  return "";
}

}  // namespace qs::vk
