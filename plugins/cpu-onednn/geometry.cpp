// Conv, ConvTranspose and pool windows as oneDNN takes them: the engine's (the reference
// kernels' rules, quantscope/window_geometry.h), with oneDNN's conventions on top: dilations
// counted from 0, and the trailing pad that makes its own output formula give the same size.
#include <algorithm>

#include "onednn_common.h"
#include "quantscope/window_geometry.h"

namespace qs::onednn {

namespace {

// The engine's window in oneDNN's terms; "" or why oneDNN cannot take it.
std::string from_window(const WindowGeometry& w, Geometry& g) {
  if (w.spatial_rank() > 3) return "rank " + std::to_string(w.spatial_rank() + 2);
  g.kernel.assign(w.kernel.begin(), w.kernel.end());
  g.strides.assign(w.strides.begin(), w.strides.end());
  g.dilations.assign(w.dilations.begin(), w.dilations.end());
  for (auto& d : g.dilations) d -= 1;
  g.pad_begin.assign(w.pad_begin.begin(), w.pad_begin.end());
  g.pad_end.assign(w.pad_end.begin(), w.pad_end.end());
  g.out.assign(w.out.begin(), w.out.end());
  g.overhang = false;
  return "";
}

}  // namespace

std::string conv_geometry(const Node& node, const Shape& x, const Shape& w, Geometry& g) {
  WindowGeometry window;
  std::string why = conv_window(node, x, w, window);
  if (why.empty()) why = from_window(window, g);
  if (!why.empty()) return why;
  // oneDNN wants the trailing pad that makes its own floor formula give this size.
  for (int i = 0; i < window.spatial_rank(); ++i)
    g.pad_end[i] =
        std::max<std::int64_t>(g.pad_end[i], (g.out[i] - 1) * g.strides[i] + window.extent(i) -
                                                 window.in[i] - g.pad_begin[i]);
  return "";
}

std::string pool_geometry(const Node& node, const Shape& x, Geometry& g) {
  WindowGeometry window;
  std::string why = pool_window(node, x, window);
  if (why.empty()) why = from_window(window, g);
  if (!why.empty()) return why;
  for (int i = 0; i < window.spatial_rank(); ++i) {
    const std::int64_t extent = window.extent(i);
    const std::int64_t needed =
        (g.out[i] - 1) * g.strides[i] + extent - window.in[i] - g.pad_begin[i];
    if (needed > g.pad_end[i]) {
      g.overhang = true;
      g.pad_end[i] = needed;
    }
    // A window entirely in the padding has no input; the reference and oneDNN disagree there.
    if (g.pad_begin[i] >= extent || g.pad_end[i] >= extent) return "pads as large as the kernel";
  }
  return "";
}

std::string deconv_geometry(const Node& node, const Shape& x, const Shape& w, Geometry& g) {
  WindowGeometry window;
  std::string why = conv_transpose_window(node, x, w, window);
  if (why.empty()) why = from_window(window, g);
  if (!why.empty()) return why;
  for (int i = 0; i < window.spatial_rank(); ++i) {
    const std::int64_t extent = window.extent(i);
    // oneDNN: out = (in - 1) * s + extent - pad_begin - pad_end; a negative pad_end extends the
    // output past the last input's reach (output_padding), where only the bias lands.
    g.pad_end[i] = (window.in[i] - 1) * g.strides[i] + extent - g.pad_begin[i] - g.out[i];
    if (g.pad_begin[i] >= extent || g.pad_end[i] >= extent) return "pads as large as the kernel";
  }
  return "";
}

}  // namespace qs::onednn
