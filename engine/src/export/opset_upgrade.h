// Raising a graph's default-domain opset for export (QDQ needs 13 for per-channel scales and 21
// for int4, int16 and blocked scales): the ops whose inputs moved from attributes to tensors are
// rewritten; ops whose meaning changed in ways not converted here are refused by name.
#pragma once

#include <cstdint>

#include "quantscope/graph.h"

namespace qs::exporter {

// Rewrites `graph` (opset graph.opset) for `target` >= graph.opset and sets graph.opset.
// Throws Error naming the node when an op cannot be carried to the target opset.
void upgrade_opset(Graph& graph, std::int64_t target);

}  // namespace qs::exporter
