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

namespace qs::kernels {

namespace {

// A tensor's bytes as [outer, count, inner] around `axis`.
struct Around {
  std::int64_t outer = 1, count = 1, inner = 1;  // inner in bytes
};

Around around(const Tensor& t, int axis) {
  Around a;
  for (int d = 0; d < axis; ++d) a.outer *= t.dim(d);
  a.count = t.dim(axis);
  a.inner = static_cast<std::int64_t>(dtype_size(t.dtype()));
  for (int d = axis + 1; d < t.rank(); ++d) a.inner *= t.dim(d);
  return a;
}

// Element `i` along `axis`, the axis removed.
Tensor slice_at(const Tensor& t, int axis, std::int64_t i) {
  const Around a = around(t, axis);
  Shape shape = t.shape();
  shape.erase(shape.begin() + axis);
  Tensor out(t.dtype(), shape);
  const auto* src = static_cast<const std::byte*>(t.raw());
  auto* dst = static_cast<std::byte*>(out.raw());
  for (std::int64_t o = 0; o < a.outer; ++o)
    std::memcpy(dst + o * a.inner, src + (o * a.count + i) * a.inner,
                static_cast<std::size_t>(a.inner));
  return out;
}

// Writes `part` (the output's shape without `axis`) at position `i` along `axis`.
void place_at(Tensor& out, int axis, std::int64_t i, const Tensor& part) {
  const Around a = around(out, axis);
  const auto* src = static_cast<const std::byte*>(part.raw());
  auto* dst = static_cast<std::byte*>(out.raw());
  for (std::int64_t o = 0; o < a.outer; ++o)
    std::memcpy(dst + (o * a.count + i) * a.inner, src + o * a.inner,
                static_cast<std::size_t>(a.inner));
}

}  // namespace

// Scan (opset 9 on): N state values carried through the body and M scan inputs sliced along
// their axes (forward or reverse); the body's K further outputs stacked along theirs. Opset 8's
// form (a leading batch dimension on every input, optional sequence_lens first) runs the same
// loop once per batch entry.
void scan(KernelContext& c) {
  const Graph* body = c.node.attr_graph("body");
  if (!body) c.fail("attribute 'body' (a graph) is missing");
  const bool v8 = c.opset < 9;
  const int own = static_cast<int>(c.node.inputs.size()) - c.node.outer_inputs;
  const int first = v8 ? 1 : 0;  // opset 8: sequence_lens before the states
  const std::int64_t m = c.node.attr_int("num_scan_inputs", -1);
  const int states = own - first - static_cast<int>(m);
  if (m < 1 || states < 0)
    c.fail("num_scan_inputs " + std::to_string(m) + " does not fit the inputs");
  const int scans_out = static_cast<int>(body->outputs.size()) - states;
  if (static_cast<int>(body->inputs.size()) != states + m || scans_out < 0)
    c.fail("the body's inputs and outputs do not match the node's states and scan inputs");
  for (int i = first; i < own; ++i)
    if (!c.in(i).has_data())
      throw DataDependentShape("Scan: its outputs depend on run-time values");
  auto list = [&](const char* key, std::size_t n, std::int64_t fallback) {
    std::vector<std::int64_t> v = c.node.attr_ints(key);
    if (v.empty()) v.assign(n, fallback);
    if (v.size() != n)
      c.fail(std::string("'") + key + "' must have " + std::to_string(n) + " values");
    return v;
  };
  const auto in_dirs = list(v8 ? "directions" : "scan_input_directions", m, 0);
  const auto in_axes = v8 ? std::vector<std::int64_t>(m, 0) : list("scan_input_axes", m, 0);
  const auto out_dirs =
      v8 ? std::vector<std::int64_t>(scans_out, 0) : list("scan_output_directions", scans_out, 0);
  const auto out_axes_attr =
      v8 ? std::vector<std::int64_t>(scans_out, 0) : list("scan_output_axes", scans_out, 0);
  std::map<std::string, Tensor> outer;
  for (int i = own; i < static_cast<int>(c.node.inputs.size()); ++i)
    outer[c.node.inputs[i]] = c.in(i);
  std::vector<std::string> keep;
  for (const ValueInfo& out : body->outputs) keep.push_back(out.name);

  // One scan over states and scan inputs (opset 9 form); `length`: iterations (-1: all).
  auto run = [&](std::vector<Tensor> state, const std::vector<Tensor>& xs, std::int64_t length,
                 std::vector<Tensor>& scanned) {
    std::vector<int> axes;
    std::int64_t count = -1;
    for (std::int64_t j = 0; j < m; ++j) {
      const Tensor& x = xs[j];
      axes.push_back(normalize_axis(c, in_axes[j], x.rank()));
      if (count >= 0 && x.dim(axes.back()) != count)
        c.fail("scan inputs differ in length along their axes");
      count = x.dim(axes.back());
    }
    const std::int64_t iterations = length >= 0 ? std::min(length, count) : count;
    std::vector<std::vector<Tensor>> parts(static_cast<std::size_t>(scans_out));
    for (std::int64_t i = 0; i < iterations; ++i) {
      std::map<std::string, Tensor> values = outer;
      for (int k = 0; k < states; ++k) values[body->inputs[k].name] = state[k];
      for (std::int64_t j = 0; j < m; ++j) {
        const std::int64_t at = in_dirs[j] ? count - 1 - i : i;
        values[body->inputs[states + j].name] = slice_at(xs[j], axes[j], at);
      }
      run_nodes(*body, values, RunMode::execute, keep);
      auto result = [&](int k) -> Tensor {
        const std::string& name = body->outputs[k].name;
        if (auto v = values.find(name); v != values.end()) return v->second;
        if (auto init = body->initializers.find(name); init != body->initializers.end())
          return init->second;
        c.fail("the body's output '" + name + "' was not computed");
      };
      for (int k = 0; k < states; ++k) state[k] = result(k);
      for (int k = 0; k < scans_out; ++k) parts[k].push_back(result(states + k));
    }
    for (int k = 0; k < scans_out; ++k) {
      if (parts[k].empty()) c.fail("scan output " + std::to_string(k) + " has no iterations");
      const Tensor& p0 = parts[k][0];
      const int axis = normalize_axis(c, out_axes_attr[k], p0.rank() + 1);
      Shape shape = p0.shape();
      shape.insert(shape.begin() + axis, count);
      Tensor out(p0.dtype(), shape);  // zeros past a shorter sequence (opset 8)
      for (std::int64_t i = 0; i < iterations; ++i) {
        const Tensor& p = parts[k][static_cast<std::size_t>(i)];
        if (p.shape() != p0.shape() || p.dtype() != p0.dtype())
          c.fail("scan output " + std::to_string(k) + " changes shape between iterations");
        place_at(out, axis, out_dirs[k] ? count - 1 - i : i, p);
      }
      scanned.push_back(out);
    }
    return state;
  };

  std::vector<Tensor> states_in, xs;
  for (int k = 0; k < states; ++k) states_in.push_back(c.in(first + k));
  for (std::int64_t j = 0; j < m; ++j) xs.push_back(c.in(first + states + static_cast<int>(j)));
  std::vector<Tensor> final_states, scanned;
  if (!v8) {
    final_states = run(states_in, xs, -1, scanned);
  } else {
    // Every input [batch, ...]: one scan per batch entry, results stacked along axis 0.
    const std::int64_t batch = states_in.empty() ? xs[0].dim(0) : states_in[0].dim(0);
    std::vector<std::int64_t> lengths;
    if (c.has(0)) lengths = c.in_ints(0);
    if (!lengths.empty() && static_cast<std::int64_t>(lengths.size()) != batch)
      c.fail("sequence_lens must have " + std::to_string(batch) + " values");
    std::vector<std::vector<Tensor>> per_state(states), per_scan(scans_out);
    for (std::int64_t b = 0; b < batch; ++b) {
      std::vector<Tensor> s, x, out;
      for (const Tensor& t : states_in) s.push_back(slice_at(t, 0, b));
      for (const Tensor& t : xs) x.push_back(slice_at(t, 0, b));
      const std::vector<Tensor> f = run(s, x, lengths.empty() ? -1 : lengths[b], out);
      for (int k = 0; k < states; ++k) per_state[k].push_back(f[k]);
      for (int k = 0; k < scans_out; ++k) per_scan[k].push_back(out[k]);
    }
    for (int k = 0; k < states; ++k)
      final_states.push_back(stack(c, per_state[k], body->outputs[k].name));
    for (int k = 0; k < scans_out; ++k)
      scanned.push_back(stack(c, per_scan[k], body->outputs[states + k].name));
  }
  for (int k = 0; k < states; ++k)
    if (k < static_cast<int>(c.node.outputs.size())) c.set_output(k, final_states[k]);
  for (int k = 0; k < scans_out; ++k)
    if (states + k < static_cast<int>(c.node.outputs.size())) c.set_output(states + k, scanned[k]);
}

}  // namespace qs::kernels
