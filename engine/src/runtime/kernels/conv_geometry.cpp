#include "runtime/kernels/conv_geometry.h"

namespace qs::kernels {

WindowGeometry conv_geometry(const KernelContext& c, const Shape& x, const Shape& w) {
  WindowGeometry g;
  if (const std::string why = conv_window(c.node, x, w, g); !why.empty()) c.fail(why);
  return g;
}

WindowGeometry conv_transpose_geometry(const KernelContext& c, const Shape& x, const Shape& w) {
  WindowGeometry g;
  if (const std::string why = conv_transpose_window(c.node, x, w, g); !why.empty()) c.fail(why);
  return g;
}

WindowGeometry pool_geometry(const KernelContext& c, const Shape& x) {
  WindowGeometry g;
  if (const std::string why = pool_window(c.node, x, g); !why.empty()) c.fail(why);
  return g;
}

}  // namespace qs::kernels
