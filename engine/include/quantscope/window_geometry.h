// The spatial windows of Conv, ConvTranspose and the pools as ONNX defines them: kernel,
// strides, dilations and pads with auto_pad and ceil_mode resolved, and the output size. One
// definition for the reference kernels, their gradients and every device plugin; a device adds
// only what its library wants on top (oneDNN's pad convention, a shader's limits).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "quantscope/graph.h"

namespace qs {

struct WindowGeometry {
  std::vector<std::int64_t> in;         // input spatial dims
  std::vector<std::int64_t> kernel;     // kernel spatial dims
  std::vector<std::int64_t> strides;    // >= 1
  std::vector<std::int64_t> dilations;  // >= 1 (ONNX's convention: 1 is dense)
  std::vector<std::int64_t> pad_begin;  // resolved from pads or auto_pad
  std::vector<std::int64_t> pad_end;
  std::vector<std::int64_t> out;  // output spatial dims, each >= 1
  int spatial_rank() const { return static_cast<int>(in.size()); }
  // The dilated kernel's extent along spatial dimension i.
  std::int64_t extent(int i) const { return (kernel[i] - 1) * dilations[i] + 1; }
};

// Each fills `g` for a node reading an input `x` [N, C, spatial...] (and weights `w` [M, C/g,
// kernel...]) and returns "", or a sentence saying what is wrong (a wrong attribute count, a
// kernel larger than the padded input, an unknown auto_pad) for an error or a device's reason.
std::string conv_window(const Node& node, const Shape& x, const Shape& w, WindowGeometry& g);
// ConvTranspose: also output_padding and output_shape.
std::string conv_transpose_window(const Node& node, const Shape& x, const Shape& w,
                                  WindowGeometry& g);
// MaxPool, AveragePool, LpPool (kernel_shape required; ceil_mode as ONNX and PyTorch: a last
// window that would start in the trailing padding is dropped) and the Global pools (one window
// over the whole input).
std::string pool_window(const Node& node, const Shape& x, WindowGeometry& g);

}  // namespace qs
