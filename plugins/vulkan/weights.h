// Weight-only quantized layers on the device: a layer's weight codes (quant_format.h) packed
// into 32-bit words, one row per output channel, for gemm.comp to dequantize.
#pragma once

#include <memory>
#include <string>

#include "plan.h"
#include "quantscope/quant_format.h"

namespace qs::vk {

// The packed weights of a quantized Conv, Gemm or MatMul, or nullptr with `why` set when the
// layer has no usable codes or the device reads its float weights instead (depthwise Convs).
std::shared_ptr<const PackedLayer> pack_layer(const Graph& graph, const Node& node,
                                              std::string& why);

}  // namespace qs::vk
