// The windows of Conv, ConvTranspose and the pools for the reference kernels and their
// gradients: quantscope/window_geometry.h's, failing the node when they are wrong.
#pragma once

#include "quantscope/window_geometry.h"
#include "runtime/kernel.h"

namespace qs::kernels {

using ConvGeometry = WindowGeometry;

WindowGeometry conv_geometry(const KernelContext& c, const Shape& x, const Shape& w);
WindowGeometry conv_transpose_geometry(const KernelContext& c, const Shape& x, const Shape& w);
WindowGeometry pool_geometry(const KernelContext& c, const Shape& x);

}  // namespace qs::kernels
