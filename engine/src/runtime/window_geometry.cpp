#include "quantscope/window_geometry.h"

#include <algorithm>

namespace qs {

namespace {

constexpr std::int64_t kLimit = std::int64_t{1} << 31;

// floor(a / b) for b > 0 and any sign of a.
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

// "[1,-2,3]" (shape_to_string would print a negative value as a dynamic dimension).
std::string list_text(const std::vector<std::int64_t>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size() && i < 16; ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + (v.size() > 16 ? ",...]" : "]");
}

// `count` values of an attribute, or `fallback` repeated; "" or what is wrong.
std::string read_attr(const Node& node, const char* name, int count, std::int64_t fallback,
                      std::int64_t minimum, std::vector<std::int64_t>& out) {
  out = node.attr_ints(name);
  if (out.empty()) out.assign(static_cast<std::size_t>(count), fallback);
  if (static_cast<int>(out.size()) != count)
    return std::string(name) + " has " + std::to_string(out.size()) + " values, expected " +
           std::to_string(count);
  for (std::int64_t v : out) {
    if (v < minimum)
      return std::string(name) + " " + list_text(out) +
             (minimum > 0 ? " must be positive" : " must not be negative");
    if (v > kLimit)
      return std::string(name) + " value " + std::to_string(v) + " is implausibly large";
  }
  return "";
}

// Strides, dilations and explicit pads for `k` spatial dimensions.
std::string read_common(const Node& node, int k, WindowGeometry& g) {
  std::vector<std::int64_t> pads;
  for (const std::string& why : {read_attr(node, "strides", k, 1, 1, g.strides),
                                 read_attr(node, "dilations", k, 1, 1, g.dilations),
                                 read_attr(node, "pads", 2 * k, 0, 0, pads)})
    if (!why.empty()) return why;
  g.pad_begin.assign(pads.begin(), pads.begin() + k);
  g.pad_end.assign(pads.begin() + k, pads.end());
  return "";
}

// auto_pad SAME_*: output ceil(in / stride); the odd pad goes to the end (UPPER) or the start.
void same_padding(WindowGeometry& g, int i, bool upper) {
  const std::int64_t s = g.strides[i];
  g.out[i] = (g.in[i] + s - 1) / s;
  const std::int64_t total = std::max<std::int64_t>(0, (g.out[i] - 1) * s + g.extent(i) - g.in[i]);
  g.pad_begin[i] = upper ? total / 2 : total - total / 2;
  g.pad_end[i] = total - g.pad_begin[i];
}

std::string weights_window(const Node& node, const Shape& x, const Shape& w, WindowGeometry& g) {
  if (x.size() < 3) return "input must have rank >= 3, got " + shape_to_string(x);
  if (w.size() != x.size())
    return "weights " + shape_to_string(w) + " do not match input " + shape_to_string(x);
  const int k = static_cast<int>(x.size()) - 2;
  g.in.assign(x.begin() + 2, x.end());
  g.kernel.assign(w.begin() + 2, w.end());
  const std::vector<std::int64_t> ks = node.attr_ints("kernel_shape");
  if (!ks.empty() && ks != g.kernel)
    return "kernel_shape does not match the weights " + shape_to_string(w);
  g.out.assign(static_cast<std::size_t>(k), 0);
  return read_common(node, k, g);
}

bool is_same(const std::string& auto_pad) {
  return auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
}

std::string bad_auto_pad(const std::string& auto_pad) {
  return "auto_pad '" + auto_pad + "' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID";
}

}  // namespace

std::string conv_window(const Node& node, const Shape& x, const Shape& w, WindowGeometry& g) {
  if (std::string why = weights_window(node, x, w, g); !why.empty()) return why;
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  for (int i = 0; i < g.spatial_rank(); ++i) {
    const std::int64_t extent = g.extent(i);
    if (is_same(auto_pad)) {
      same_padding(g, i, auto_pad == "SAME_UPPER");
    } else if (auto_pad == "VALID") {
      g.pad_begin[i] = g.pad_end[i] = 0;
      g.out[i] = g.in[i] >= extent ? (g.in[i] - extent) / g.strides[i] + 1 : 0;
    } else if (auto_pad == "NOTSET") {
      const std::int64_t padded = g.in[i] + g.pad_begin[i] + g.pad_end[i];
      g.out[i] = padded >= extent ? (padded - extent) / g.strides[i] + 1 : 0;
    } else {
      return bad_auto_pad(auto_pad);
    }
    if (g.out[i] <= 0)
      return "kernel " + shape_to_string(g.kernel) + " is larger than the padded input " +
             shape_to_string(x);
  }
  return "";
}

std::string conv_transpose_window(const Node& node, const Shape& x, const Shape& w,
                                  WindowGeometry& g) {
  if (std::string why = weights_window(node, x, w, g); !why.empty()) return why;
  const int k = g.spatial_rank();
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  std::vector<std::int64_t> output_padding;
  if (std::string why = read_attr(node, "output_padding", k, 0, 0, output_padding); !why.empty())
    return why;
  std::vector<std::int64_t> output_shape = node.attr_ints("output_shape");
  if (output_shape.size() > static_cast<std::size_t>(k))  // [N, C, spatial...] given whole
    output_shape.erase(output_shape.begin(), output_shape.end() - k);
  if (!output_shape.empty() && static_cast<int>(output_shape.size()) != k)
    return "output_shape has the wrong number of values";
  for (int i = 0; i < k; ++i) {
    const std::int64_t full = g.strides[i] * (g.in[i] - 1) + output_padding[i] + g.extent(i);
    if (!output_shape.empty() || is_same(auto_pad)) {
      g.out[i] = !output_shape.empty() ? output_shape[i] : g.in[i] * g.strides[i];
      const std::int64_t total = std::max<std::int64_t>(0, full - g.out[i]);
      // ONNX puts the larger half at the end for SAME_UPPER, at the beginning otherwise.
      g.pad_begin[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      g.pad_end[i] = total - g.pad_begin[i];
    } else if (auto_pad == "VALID" || auto_pad == "NOTSET") {
      if (auto_pad == "VALID") g.pad_begin[i] = g.pad_end[i] = 0;
      g.out[i] = full - g.pad_begin[i] - g.pad_end[i];
    } else {
      return bad_auto_pad(auto_pad);
    }
    if (g.out[i] <= 0) return "the output would be empty";
  }
  return "";
}

std::string pool_window(const Node& node, const Shape& x, WindowGeometry& g) {
  if (x.size() < 3) return "input must have rank >= 3 ([N, C, D1, ...]), got " + shape_to_string(x);
  const int k = static_cast<int>(x.size()) - 2;
  g.in.assign(x.begin() + 2, x.end());
  if (node.op_type == "GlobalAveragePool" || node.op_type == "GlobalMaxPool" ||
      node.op_type == "GlobalLpPool") {
    g.kernel = g.in;
    g.strides.assign(static_cast<std::size_t>(k), 1);
    g.dilations = g.strides;
    g.pad_begin.assign(static_cast<std::size_t>(k), 0);
    g.pad_end = g.pad_begin;
    g.out.assign(static_cast<std::size_t>(k), 1);
    return "";
  }
  if (!node.has_attr("kernel_shape")) return "attribute 'kernel_shape' is required";
  if (std::string why = read_attr(node, "kernel_shape", k, 1, 1, g.kernel); !why.empty())
    return why;
  if (std::string why = read_common(node, k, g); !why.empty()) return why;
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  const bool ceil_mode = node.attr_int("ceil_mode", 0) != 0;
  g.out.assign(static_cast<std::size_t>(k), 0);
  for (int i = 0; i < k; ++i) {
    const std::int64_t extent = g.extent(i), in = g.in[i], s = g.strides[i];
    if (is_same(auto_pad)) {
      same_padding(g, i, auto_pad == "SAME_UPPER");
    } else if (auto_pad == "VALID") {
      if (in < extent)
        return "kernel extent " + std::to_string(extent) + " exceeds input size " +
               std::to_string(in) + " with auto_pad VALID";
      g.out[i] = (in - extent) / s + 1;
      g.pad_begin[i] = g.pad_end[i] = 0;
    } else if (auto_pad == "NOTSET") {
      const std::int64_t span = in + g.pad_begin[i] + g.pad_end[i] - extent;
      if (span < 0)
        return "kernel extent " + std::to_string(extent) + " exceeds padded input size " +
               std::to_string(in + g.pad_begin[i] + g.pad_end[i]);
      g.out[i] = (ceil_mode ? -floor_div(-span, s) : span / s) + 1;
      // With ceil_mode the last window must start inside the input or the leading padding;
      // one that would start in the trailing padding is dropped (PyTorch/ONNX rule).
      if (ceil_mode && (g.out[i] - 1) * s >= in + g.pad_begin[i]) --g.out[i];
    } else {
      return bad_auto_pad(auto_pad);
    }
  }
  return "";
}

}  // namespace qs
