// What the pattern-fusion passes share: who reads and writes each tensor, the constants a
// pattern compares against, and the splice that puts a fused node where its chain was.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "quantscope/graph.h"

namespace qs::patterns {

struct Uses {
  std::map<std::string, int> readers;   // tensor -> number of node inputs reading it
  std::map<std::string, int> producer;  // tensor -> node index
  std::set<std::string> outputs;        // graph outputs
};
Uses find_uses(const Graph& g);

// The single float value of a scalar-like f32 initializer, or false.
bool scalar_constant(const Graph& g, const std::string& name, float& value);

// A ReduceMean's axes as a count of trailing axes ({-1} -> 1, {-2,-1} -> 2), or 0 when they are
// not the last dimensions of a tensor of `rank` or keepdims is off.
int trailing_axes(const Graph& g, const Node& reduce_mean, int rank);

// Walks a chain of single-use intermediates, collecting the node indices it passes.
class ChainWalker {
 public:
  ChainWalker(const Graph& g, const Uses& u) : g_(g), u_(u) {}

  // How many node inputs read `name`; -1 when it is also a graph output.
  int intermediate(const std::string& name) const;
  // The one node of type `op` reading `name`, which exactly `readers` node inputs read (and no
  // graph output); appended to chain.
  const Node* only_reader(const std::string& name, int readers, const char* op,
                          std::vector<int>& chain) const;
  // The f32 initializer operand of a two-input Mul/Add on `value` whose shape is exactly the
  // trailing `axes` dimensions of `x` (a normalization's scale or shift); "" otherwise.
  std::string trailing_operand(const Node& n, const std::string& value, const Shape& x,
                               int axes) const;

 protected:
  const Graph& g_;
  const Uses& u_;
};

// A fused node and the indices of the nodes it replaces (its first and last among them).
struct Fusion {
  Node node;
  std::vector<int> chain;
};
// Replaces each fusion's chain by its node, placed where the chain's last node (the producer of
// the fused node's first output) was, so that every input it reads is ready there. Chains must
// not overlap.
void splice(Graph& graph, std::vector<Fusion> fusions);

// Tries `match` from every node in order; a chain overlapping one already taken is skipped, a
// normalization's missing scale (input 1, "") becomes ones (ones_scale), and the chains are
// spliced. Returns how many were fused.
int fuse_matches(Graph& graph, const std::function<bool(int first, Fusion& fusion)>& match);

// A scale of ones over `x`'s dimensions from `axis` on, added as an initializer named
// `<node>.scale_ones`, for normalizations written without one (ONNX's ops require it).
std::string ones_scale(Graph& graph, const Node& node, int axis);

}  // namespace qs::patterns
