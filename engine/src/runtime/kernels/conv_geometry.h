// Spatial geometry shared by Conv and ConvTranspose: kernel size, strides, dilations, pads.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/kernel.h"

namespace qs::kernels {

struct ConvGeometry {
  int spatial_rank = 0;
  std::vector<std::int64_t> in;      // input spatial dims
  std::vector<std::int64_t> kernel;  // kernel spatial dims
  std::vector<std::int64_t> strides;
  std::vector<std::int64_t> dilations;
  std::vector<std::int64_t> pad_begin;
  std::vector<std::int64_t> pad_end;
  std::vector<std::int64_t> out;  // output spatial dims
};

// Geometry of a Conv node for input x and weights w (auto_pad, pads, strides, dilations).
ConvGeometry conv_geometry(const KernelContext& c, const Shape& x, const Shape& w);
// Geometry of a ConvTranspose node (also output_padding and output_shape).
ConvGeometry conv_transpose_geometry(const KernelContext& c, const Shape& x, const Shape& w);

// Reads an attribute of spatial_rank values, or `fallback` repeated; fails on a wrong count
// or values below `minimum`.
std::vector<std::int64_t> spatial_attr(const KernelContext& c, const char* name, int spatial_rank,
                                       std::int64_t fallback, std::int64_t minimum);

}  // namespace qs::kernels
