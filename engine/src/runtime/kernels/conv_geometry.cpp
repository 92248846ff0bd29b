#include "runtime/kernels/conv_geometry.h"

#include <algorithm>

namespace qs::kernels {

std::vector<std::int64_t> spatial_attr(const KernelContext& c, const char* name, int spatial_rank,
                                       std::int64_t fallback, std::int64_t minimum) {
  std::vector<std::int64_t> v = c.node.attr_ints(name);
  if (v.empty()) return std::vector<std::int64_t>(spatial_rank, fallback);
  if (static_cast<int>(v.size()) != spatial_rank)
    c.fail(std::string(name) + " has " + std::to_string(v.size()) + " values for " +
           std::to_string(spatial_rank) + " spatial dimensions");
  for (std::int64_t x : v)
    if (x < minimum || x > (std::int64_t{1} << 31))
      c.fail(std::string(name) + " value " + std::to_string(x) + " is out of range");
  return v;
}

namespace {

ConvGeometry common(const KernelContext& c, const Shape& x, const Shape& w) {
  if (x.size() < 3) c.fail("input must have rank >= 3, got " + shape_to_string(x));
  if (w.size() != x.size())
    c.fail("weights " + shape_to_string(w) + " do not match input " + shape_to_string(x));
  ConvGeometry g;
  g.spatial_rank = static_cast<int>(x.size()) - 2;
  g.in.assign(x.begin() + 2, x.end());
  g.kernel = spatial_attr(c, "kernel_shape", g.spatial_rank, 0, 1);
  for (int i = 0; i < g.spatial_rank; ++i) {
    if (c.node.has_attr("kernel_shape") && g.kernel[i] != w[i + 2])
      c.fail("kernel_shape does not match the weights " + shape_to_string(w));
    g.kernel[i] = w[i + 2];
  }
  g.strides = spatial_attr(c, "strides", g.spatial_rank, 1, 1);
  g.dilations = spatial_attr(c, "dilations", g.spatial_rank, 1, 1);
  std::vector<std::int64_t> pads = c.node.attr_ints("pads");
  if (pads.empty()) pads.assign(2 * g.spatial_rank, 0);
  if (static_cast<int>(pads.size()) != 2 * g.spatial_rank)
    c.fail("pads has " + std::to_string(pads.size()) + " values, expected " +
           std::to_string(2 * g.spatial_rank));
  for (std::int64_t p : pads)
    if (p < 0 || p > (std::int64_t{1} << 31))
      c.fail("pad " + std::to_string(p) + " is out of range");
  g.pad_begin.assign(pads.begin(), pads.begin() + g.spatial_rank);
  g.pad_end.assign(pads.begin() + g.spatial_rank, pads.end());
  return g;
}

}  // namespace

ConvGeometry conv_geometry(const KernelContext& c, const Shape& x, const Shape& w) {
  ConvGeometry g = common(c, x, w);
  const std::string auto_pad = c.node.attr_string("auto_pad", "NOTSET");
  g.out.resize(g.spatial_rank);
  for (int i = 0; i < g.spatial_rank; ++i) {
    const std::int64_t extent = (g.kernel[i] - 1) * g.dilations[i] + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      g.out[i] = (g.in[i] + g.strides[i] - 1) / g.strides[i];
      std::int64_t total =
          std::max<std::int64_t>(0, (g.out[i] - 1) * g.strides[i] + extent - g.in[i]);
      std::int64_t small = total / 2;
      g.pad_begin[i] = auto_pad == "SAME_UPPER" ? small : total - small;
      g.pad_end[i] = total - g.pad_begin[i];
    } else if (auto_pad == "VALID") {
      g.pad_begin[i] = g.pad_end[i] = 0;
      g.out[i] = g.in[i] >= extent ? (g.in[i] - extent) / g.strides[i] + 1 : 0;
    } else if (auto_pad == "NOTSET") {
      std::int64_t padded = g.in[i] + g.pad_begin[i] + g.pad_end[i];
      g.out[i] = padded >= extent ? (padded - extent) / g.strides[i] + 1 : 0;
    } else {
      c.fail("auto_pad '" + auto_pad + "' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID");
    }
    if (g.out[i] <= 0)
      c.fail("kernel " + shape_to_string(g.kernel) + " is larger than the padded input " +
             shape_to_string(x));
  }
  return g;
}

ConvGeometry conv_transpose_geometry(const KernelContext& c, const Shape& x, const Shape& w) {
  ConvGeometry g = common(c, x, w);
  const std::string auto_pad = c.node.attr_string("auto_pad", "NOTSET");
  std::vector<std::int64_t> output_padding =
      spatial_attr(c, "output_padding", g.spatial_rank, 0, 0);
  std::vector<std::int64_t> output_shape = c.node.attr_ints("output_shape");
  if (output_shape.size() > static_cast<std::size_t>(g.spatial_rank))
    output_shape.erase(output_shape.begin(), output_shape.end() - g.spatial_rank);
  if (!output_shape.empty() && static_cast<int>(output_shape.size()) != g.spatial_rank)
    c.fail("output_shape has the wrong number of values");
  g.out.resize(g.spatial_rank);
  for (int i = 0; i < g.spatial_rank; ++i) {
    const std::int64_t extent = (g.kernel[i] - 1) * g.dilations[i] + 1;
    const std::int64_t full = g.strides[i] * (g.in[i] - 1) + output_padding[i] + extent;
    const bool same = auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
    if (!output_shape.empty() || same) {
      g.out[i] = !output_shape.empty() ? output_shape[i] : g.in[i] * g.strides[i];
      std::int64_t total = std::max<std::int64_t>(0, full - g.out[i]);
      // ONNX puts the larger half at the end for SAME_UPPER, at the beginning otherwise.
      if (auto_pad == "SAME_UPPER") {
        g.pad_begin[i] = total / 2;
        g.pad_end[i] = total - total / 2;
      } else {
        g.pad_begin[i] = total - total / 2;
        g.pad_end[i] = total / 2;
      }
    } else if (auto_pad == "VALID" || auto_pad == "NOTSET") {
      if (auto_pad == "VALID") g.pad_begin[i] = g.pad_end[i] = 0;
      g.out[i] = full - g.pad_begin[i] - g.pad_end[i];
    } else {
      c.fail("auto_pad '" + auto_pad + "' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID");
    }
    if (g.out[i] <= 0) c.fail("computed an empty output");
  }
  return g;
}

}  // namespace qs::kernels
