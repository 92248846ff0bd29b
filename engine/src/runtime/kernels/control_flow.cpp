// Control flow on the reference kernels: If runs the branch its condition picks, with the
// enclosing graph's values it reads (the node's outer inputs, see Node::outer_inputs).
#include <cstring>

#include "runtime/graph_runner.h"
#include "runtime/kernel_util.h"
#include "runtime/kernels/kernels.h"

namespace qs::kernels {

void if_op(KernelContext& c) {
  const Tensor& cond = c.in(0);
  if (!cond.has_data()) throw DataDependentShape("If: the branch taken depends on run-time values");
  if (cond.numel() != 1) c.fail("cond must hold one value, got " + shape_to_string(cond.shape()));
  const char* key = cond.to_f32()[0] != 0.0f ? "then_branch" : "else_branch";
  const Graph* branch = c.node.attr_graph(key);
  if (!branch) c.fail(std::string("attribute '") + key + "' (a graph) is missing");
  std::map<std::string, Tensor> values;
  const int count = static_cast<int>(c.node.inputs.size());
  for (int i = count - c.node.outer_inputs; i < count; ++i)
    if (c.has(i)) values[c.node.inputs[i]] = c.in(i);
  std::vector<std::string> keep;
  for (const ValueInfo& out : branch->outputs) keep.push_back(out.name);
  run_nodes(*branch, values, c.shape_only ? RunMode::infer_shapes : RunMode::execute, keep);
  if (branch->outputs.size() < c.node.outputs.size())
    c.fail(std::string(key) + " has " + std::to_string(branch->outputs.size()) +
           " outputs; the node has " + std::to_string(c.node.outputs.size()));
  for (std::size_t k = 0; k < c.node.outputs.size(); ++k) {
    const std::string& name = branch->outputs[k].name;
    auto v = values.find(name);
    auto init = branch->initializers.find(name);
    if (v != values.end())
      c.set_output(static_cast<int>(k), v->second);
    else if (init != branch->initializers.end())
      c.set_output(static_cast<int>(k), init->second);
    else
      throw DataDependentShape("If: output '" + name + "' of the branch is not known");
  }
}

}  // namespace qs::kernels

namespace qs::kernels {

namespace {

// A Loop without a trip count whose condition never turns false would run forever: past this
// many iterations it is an error naming the node (a hostile or broken model, not a hang).
constexpr std::int64_t kMaxLoopIterations = std::int64_t{1} << 20;
// While shapes are inferred at load, a loop is computed only when it is short.
constexpr std::int64_t kMaxIterationsAtLoad = 4096;

// Stacks the per-iteration values of a scan output along a new first axis.
Tensor stack(const KernelContext& c, const std::vector<Tensor>& parts, const std::string& name) {
  if (parts.empty()) c.fail("scan output '" + name + "' has no iterations to stack");
  Shape shape = parts[0].shape();
  shape.insert(shape.begin(), static_cast<std::int64_t>(parts.size()));
  Tensor out(parts[0].dtype(), shape);
  auto* dst = static_cast<std::byte*>(out.raw());
  for (const Tensor& p : parts) {
    if (p.shape() != parts[0].shape() || p.dtype() != parts[0].dtype())
      c.fail("scan output '" + name + "' changes shape between iterations");
    std::memcpy(dst, p.raw(), p.size_bytes());
    dst += p.size_bytes();
  }
  return out;
}

}  // namespace

void loop(KernelContext& c) {
  const Graph* body = c.node.attr_graph("body");
  if (!body) c.fail("attribute 'body' (a graph) is missing");
  const int own = static_cast<int>(c.node.inputs.size()) - c.node.outer_inputs;
  const int carried = own - 2;
  if (carried < 0) c.fail("needs the inputs M and cond (either may be empty)");
  if (static_cast<int>(body->inputs.size()) != carried + 2 ||
      static_cast<int>(body->outputs.size()) < carried + 1)
    c.fail("the body's inputs and outputs do not match the node's loop-carried values");
  const int scans = static_cast<int>(body->outputs.size()) - 1 - carried;
  for (int i = 0; i < own; ++i)
    if (c.has(i) && !c.in(i).has_data())
      throw DataDependentShape("Loop: its outputs depend on run-time values");
  std::int64_t trips = kMaxLoopIterations;
  if (c.has(0)) trips = c.in_ints(0).at(0);
  bool go = !c.has(1) || c.in(1).to_f32().at(0) != 0.0f;
  if (c.small_outputs_only && trips > kMaxIterationsAtLoad)
    throw DataDependentShape("Loop: too many iterations to compute while loading");
  std::map<std::string, Tensor> outer;
  for (int i = own; i < static_cast<int>(c.node.inputs.size()); ++i)
    outer[c.node.inputs[i]] = c.in(i);
  std::vector<Tensor> state;
  for (int i = 0; i < carried; ++i) state.push_back(c.in(2 + i));
  std::vector<std::vector<Tensor>> scanned(static_cast<std::size_t>(scans));
  std::vector<std::string> keep;
  for (const ValueInfo& out : body->outputs) keep.push_back(out.name);
  std::int64_t i = 0;
  for (; go && i < trips; ++i) {
    if (i >= kMaxLoopIterations)
      c.fail("ran " + std::to_string(kMaxLoopIterations) + " iterations without stopping");
    std::map<std::string, Tensor> values = outer;
    values[body->inputs[0].name] = Tensor::from_vector<std::int64_t>({}, {i});
    values[body->inputs[1].name] = Tensor::from_vector<bool>({}, {go});
    for (int k = 0; k < carried; ++k) values[body->inputs[2 + k].name] = state[k];
    run_nodes(*body, values, RunMode::execute, keep);
    auto result = [&](int k) -> Tensor {
      const std::string& name = body->outputs[k].name;
      auto v = values.find(name);
      if (v != values.end()) return v->second;
      auto init = body->initializers.find(name);
      if (init != body->initializers.end()) return init->second;
      c.fail("the body's output '" + name + "' was not computed");
    };
    go = result(0).to_f32().at(0) != 0.0f;
    for (int k = 0; k < carried; ++k) state[k] = result(1 + k);
    for (int k = 0; k < scans; ++k) scanned[k].push_back(result(1 + carried + k));
  }
  for (int k = 0; k < carried; ++k)
    if (k < static_cast<int>(c.node.outputs.size())) c.set_output(k, state[k]);
  for (int k = 0; k < scans; ++k)
    if (carried + k < static_cast<int>(c.node.outputs.size()))
      c.set_output(carried + k, stack(c, scanned[k], body->outputs[1 + carried + k].name));
}

}  // namespace qs::kernels
