// The device harness's cases: one op (or a short idiom) per graph, with seeded random weights,
// small shapes and a dynamic batch, each with the tolerance its float result is held to.
#pragma once

#include <string>
#include <vector>

#include "quantscope/graph.h"

namespace qs::harness {

struct Case {
  std::string name;  // "Conv 3x3 pad 1"
  std::string op;    // the op under test: a node of this op must run on the device
  Graph graph;       // inputs with a dynamic first dimension
  // Largest |device - cpu-ref| / max |cpu-ref| accepted in float (transcendentals and
  // reductions get more than exact arithmetic).
  double tol = 1e-5;
};

std::vector<Case> cases();

}  // namespace qs::harness
