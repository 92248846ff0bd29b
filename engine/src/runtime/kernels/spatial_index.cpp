#include "runtime/kernels/spatial_index.h"

namespace qs::kernels {

namespace {

// Enumerates every (kernel position, source position) pair and maps it to a target position:
// target = source * stride - pad_begin + k * dilation, -1 when outside `target_dims`.
SpatialIndex build(const ConvGeometry& g, const std::vector<std::int64_t>& source_dims,
                   const std::vector<std::int64_t>& target_dims) {
  const int r = g.spatial_rank();
  SpatialIndex s;
  for (int d = 0; d < r; ++d) {
    s.kernel_size *= g.kernel[d];
    s.out_size *= source_dims[d];
    s.in_size *= target_dims[d];
  }
  s.offsets.resize(static_cast<std::size_t>(s.kernel_size * s.out_size));
  std::vector<std::int64_t> k(r, 0);
  for (std::int64_t ki = 0; ki < s.kernel_size; ++ki) {
    std::vector<std::int64_t> o(r, 0);
    for (std::int64_t pi = 0; pi < s.out_size; ++pi) {
      std::int64_t flat = 0;
      bool inside = true;
      for (int d = 0; d < r; ++d) {
        std::int64_t pos = o[d] * g.strides[d] - g.pad_begin[d] + k[d] * g.dilations[d];
        if (pos < 0 || pos >= target_dims[d]) {
          inside = false;
          break;
        }
        flat = flat * target_dims[d] + pos;
      }
      s.offsets[ki * s.out_size + pi] = inside ? flat : -1;
      for (int d = r - 1; d >= 0 && ++o[d] == source_dims[d]; --d) o[d] = 0;
    }
    for (int d = r - 1; d >= 0 && ++k[d] == g.kernel[d]; --d) k[d] = 0;
  }
  return s;
}

}  // namespace

SpatialIndex gather_index(const ConvGeometry& g) {
  return build(g, g.out, g.in);
}

SpatialIndex scatter_index(const ConvGeometry& g) {
  return build(g, g.in, g.out);
}

}  // namespace qs::kernels
