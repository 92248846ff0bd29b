// Index tables that map (kernel position, output position) to an input position, shared by
// the im2col of Conv and the col2im of ConvTranspose.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/kernels/conv_geometry.h"

namespace qs::kernels {

struct SpatialIndex {
  std::int64_t kernel_size = 1;       // K: product of kernel dims
  std::int64_t out_size = 1;          // P: product of output spatial dims
  std::int64_t in_size = 1;           // product of input spatial dims
  std::vector<std::int64_t> offsets;  // K * P flat input offsets, -1 where the tap is padding
};

// For Conv: input position = out * stride - pad_begin + k * dilation.
SpatialIndex gather_index(const ConvGeometry& g);
// For ConvTranspose: output position = in * stride - pad_begin + k * dilation; the table maps
// (k, input position) to an output offset, -1 where it falls outside the output.
SpatialIndex scatter_index(const ConvGeometry& g);

}  // namespace qs::kernels
