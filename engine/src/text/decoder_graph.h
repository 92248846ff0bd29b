// The graphs a decoder session runs, rewritten from the model's for generation.
#pragma once

#include <optional>

#include "quantscope/graph.h"
#include "quantscope/language_model.h"

namespace qs {

// `graph` with its logits computed for the last position only ([batch, 1, vocab]): generation
// reads nothing else, and the head (hidden x vocab) is a large share of a prompt's work. The
// head (a MatMul with a constant weight, then an optional constant bias) reads a Slice of the
// last row of its input. nullopt when the logits come from anything else.
std::optional<Graph> with_last_position_logits(const Graph& graph, const DecoderLayout& layout);

// `graph` with its attention fused (fuse_attention) and its cache appended to by the caller:
// each graph output present.{i}.key / .value is replaced by the step's own keys / values
// [batch, kv_heads, sequence, head_dim], the Attention reading the past where it is and making
// no present. The returned names are those outputs, in the order of layout.cache. nullopt when
// some cache entry is not read by a fused Attention alone.
struct AppendedCacheGraph {
  Graph graph;
  std::vector<std::string> rows;  // per layout.cache entry: the output with the step's rows
};
std::optional<AppendedCacheGraph> with_appended_cache(const Graph& graph,
                                                      const DecoderLayout& layout);

}  // namespace qs
