// Conv, ConvTranspose and pooling windows as the shaders read them: the engine's (the reference
// kernels' rules, quantscope/window_geometry.h) in 2-D, a 1-D node as height 1, within the
// 16-bit range the push constants hold.
#include "ops.h"
#include "quantscope/window_geometry.h"

namespace qs::vk {

namespace {

std::string to_taps(const std::string& why, const WindowGeometry& w, Geometry2d& g) {
  if (!why.empty()) return why;
  const int rank = w.spatial_rank();
  if (rank < 1 || rank > 2) return "rank " + std::to_string(rank + 2);
  const int off = 2 - rank;  // a 1-D window is the width's
  std::int64_t k[2] = {1, 1}, s[2] = {1, 1}, d[2] = {1, 1}, pb[2] = {0, 0}, pe[2] = {0, 0};
  for (int i = 0; i < rank; ++i) {
    k[i + off] = w.kernel[i];
    s[i + off] = w.strides[i];
    d[i + off] = w.dilations[i];
    pb[i + off] = w.pad_begin[i];
    pe[i + off] = w.pad_end[i];
  }
  for (int i = 0; i < 2; ++i) {
    if (s[i] > 65535) return "strides";
    if (d[i] > 65535) return "dilations";
    if (pb[i] < 0 || pb[i] > 65535 || pe[i] < 0 || pe[i] > 65535) return "pads";
  }
  g.taps = Taps{i32(k[0]),  i32(k[1]),  i32(s[0]), i32(s[1]),
                i32(pb[0]), i32(pb[1]), i32(d[0]), i32(d[1])};
  g.peh = i32(pe[0]);
  g.pew = i32(pe[1]);
  return "";
}

}  // namespace

std::string conv_taps(const Node& node, const Shape& x, const Shape& w, Geometry2d& g) {
  WindowGeometry window;
  return to_taps(conv_window(node, x, w, window), window, g);
}

std::string conv_transpose_taps(const Node& node, const Shape& x, const Shape& w, Geometry2d& g) {
  WindowGeometry window;
  return to_taps(conv_transpose_window(node, x, w, window), window, g);
}

std::string pool_taps(const Node& node, const Shape& x, Geometry2d& g) {
  WindowGeometry window;
  return to_taps(pool_window(node, x, window), window, g);
}

}  // namespace qs::vk
