// Conv and pool geometry, following the reference kernels' rules exactly, so that oneDNN is
// asked for the same output sizes.
#include <algorithm>

#include "onednn_common.h"

namespace qs::onednn {

namespace {

constexpr std::int64_t kLimit = std::int64_t{1} << 31;

// Reads `count` values of an attribute or `fallback` repeated; false on a wrong count or a value
// below `minimum`.
bool read_attr(const Node& node, const char* name, int count, std::int64_t fallback,
               std::int64_t minimum, dims& out) {
  std::vector<std::int64_t> v = node.attr_ints(name);
  if (v.empty()) v.assign(count, fallback);
  if (static_cast<int>(v.size()) != count) return false;
  for (std::int64_t x : v)
    if (x < minimum || x > kLimit) return false;
  out.assign(v.begin(), v.end());
  return true;
}

// auto_pad SAME_*: output ceil(in / stride); the odd pad goes to the end (UPPER) or start.
void same_padding(std::int64_t in, std::int64_t stride, std::int64_t extent, bool upper,
                  Geometry& g, int i) {
  g.out[i] = (in + stride - 1) / stride;
  const std::int64_t total = std::max<std::int64_t>(0, (g.out[i] - 1) * stride + extent - in);
  g.pad_begin[i] = upper ? total / 2 : total - total / 2;
  g.pad_end[i] = total - g.pad_begin[i];
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

}  // namespace

std::string conv_geometry(const Node& node, const Shape& x, const Shape& w, Geometry& g) {
  if (x.size() < 3 || x.size() > 5 || w.size() != x.size()) return "rank";
  const int k = static_cast<int>(x.size()) - 2;
  dims pads;
  if (!read_attr(node, "strides", k, 1, 1, g.strides) ||
      !read_attr(node, "dilations", k, 1, 1, g.dilations) ||
      !read_attr(node, "pads", 2 * k, 0, 0, pads))
    return "invalid attributes";
  std::vector<std::int64_t> ks = node.attr_ints("kernel_shape");
  if (!ks.empty() &&
      (static_cast<int>(ks.size()) != k || !std::equal(ks.begin(), ks.end(), w.begin() + 2)))
    return "kernel_shape does not match the weights";
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  g.kernel.assign(w.begin() + 2, w.end());
  g.pad_begin.assign(pads.begin(), pads.begin() + k);
  g.pad_end.assign(pads.begin() + k, pads.end());
  g.out.resize(k);
  for (int i = 0; i < k; ++i) {
    const std::int64_t in = x[i + 2], s = g.strides[i];
    const std::int64_t extent = (g.kernel[i] - 1) * g.dilations[i] + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      same_padding(in, s, extent, auto_pad == "SAME_UPPER", g, i);
    } else if (auto_pad == "VALID") {
      g.pad_begin[i] = g.pad_end[i] = 0;
      g.out[i] = in >= extent ? (in - extent) / s + 1 : 0;
    } else if (auto_pad == "NOTSET") {
      const std::int64_t padded = in + g.pad_begin[i] + g.pad_end[i];
      g.out[i] = padded >= extent ? (padded - extent) / s + 1 : 0;
    } else {
      return "auto_pad " + auto_pad;
    }
    if (g.out[i] <= 0) return "empty output";
    // oneDNN wants the trailing pad that makes its own floor formula give this size.
    g.pad_end[i] =
        std::max<std::int64_t>(g.pad_end[i], (g.out[i] - 1) * s + extent - in - g.pad_begin[i]);
    g.dilations[i] -= 1;
  }
  return "";
}

std::string pool_geometry(const Node& node, const Shape& x, Geometry& g) {
  if (x.size() < 3 || x.size() > 5) return "rank " + std::to_string(x.size());
  const int k = static_cast<int>(x.size()) - 2;
  g.overhang = false;
  if (node.op_type == "GlobalAveragePool" || node.op_type == "GlobalMaxPool") {
    g.kernel.assign(x.begin() + 2, x.end());
    g.strides.assign(k, 1);
    g.dilations.assign(k, 0);
    g.pad_begin.assign(k, 0);
    g.pad_end.assign(k, 0);
    g.out.assign(k, 1);
    return "";
  }
  dims pads;
  if (!node.has_attr("kernel_shape") || !read_attr(node, "kernel_shape", k, 1, 1, g.kernel) ||
      !read_attr(node, "strides", k, 1, 1, g.strides) ||
      !read_attr(node, "dilations", k, 1, 1, g.dilations) ||
      !read_attr(node, "pads", 2 * k, 0, 0, pads))
    return "invalid attributes";
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  const bool ceil_mode = node.attr_int("ceil_mode", 0) != 0;
  g.pad_begin.assign(pads.begin(), pads.begin() + k);
  g.pad_end.assign(pads.begin() + k, pads.end());
  g.out.resize(k);
  for (int i = 0; i < k; ++i) {
    const std::int64_t in = x[i + 2], s = g.strides[i];
    const std::int64_t extent = (g.kernel[i] - 1) * g.dilations[i] + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      same_padding(in, s, extent, auto_pad == "SAME_UPPER", g, i);
    } else if (auto_pad == "VALID") {
      if (in < extent) return "kernel larger than the input";
      g.out[i] = (in - extent) / s + 1;
      g.pad_begin[i] = g.pad_end[i] = 0;
    } else if (auto_pad == "NOTSET") {
      const std::int64_t span = in + g.pad_begin[i] + g.pad_end[i] - extent;
      if (span < 0) return "kernel larger than the padded input";
      g.out[i] = (ceil_mode ? -floor_div(-span, s) : span / s) + 1;
      if (ceil_mode && (g.out[i] - 1) * s >= in + g.pad_begin[i]) --g.out[i];
    } else {
      return "auto_pad " + auto_pad;
    }
    const std::int64_t needed = (g.out[i] - 1) * s + extent - in - g.pad_begin[i];
    if (needed > g.pad_end[i]) {
      g.overhang = true;
      g.pad_end[i] = needed;
    }
    // A window entirely in the padding has no input; the reference and oneDNN disagree there.
    if (g.pad_begin[i] >= extent || g.pad_end[i] >= extent) return "pads as large as the kernel";
    g.dilations[i] -= 1;
  }
  return "";
}

}  // namespace qs::onednn
