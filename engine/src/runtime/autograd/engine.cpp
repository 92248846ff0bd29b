// GradientEngine: forward on the reference kernels, keeping the activations the backward rules
// read, then a reverse sweep over the nodes that lie on a path from a requested tensor to the
// graph's first output.
#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "quantscope/autograd.h"
#include "runtime/autograd/backward.h"
#include "runtime/autograd/pieces.h"
#include "runtime/graph_runner.h"

namespace qs {

namespace {

std::string node_label(const Node& node) {
  return "node '" + node.name + "' (" + node.op_type + ")";
}

// Which nodes the backward sweep visits and which of their inputs need gradients.
struct Plan {
  struct Step {
    std::size_t node = 0;
    const autograd::BackwardRule* rule = nullptr;
    std::vector<bool> needs;
  };
  std::vector<Step> steps;  // forward order
};

// `sources`: the tensors gradients are wanted for. A float tensor depends on them (set F) when
// it is one, or is the output of a node that reads F through an input its rule differentiates
// (any input, for a node without a rule). dtype_of gives undefined where the dtype is unknown,
// taken as float. The steps are the nodes that read F that way and have a float output the
// first output depends on (set B); each must have a rule. With `strict`, F reaching such a node
// through an input its rule does not differentiate is an error too, rather than a gradient that
// would silently miss that path.
template <typename DTypeOf>
Plan plan_backward(const Graph& graph, const std::set<std::string>& sources, DTypeOf dtype_of,
                   bool strict) {
  const std::size_t count = graph.nodes.size();
  std::set<std::string> depends(sources.begin(), sources.end());
  std::vector<bool> touched(count, false);
  for (std::size_t n = 0; n < count; ++n) {
    const Node& node = graph.nodes[n];
    const autograd::BackwardRule* rule = autograd::find_backward_rule(node.op_type, node.domain);
    for (std::size_t i = 0; i < node.inputs.size(); ++i) {
      if (node.inputs[i].empty() || !depends.count(node.inputs[i])) continue;
      if (!rule || rule->differentiates(static_cast<int>(i))) touched[n] = true;
    }
    if (!touched[n]) continue;
    for (const std::string& out : node.outputs) {
      if (out.empty()) continue;
      const DType d = dtype_of(out);
      if (d == DType::f32 || d == DType::undefined) depends.insert(out);
    }
  }
  // Everything the first output depends on, through any input.
  std::set<std::string> reaches{graph.outputs.at(0).name};
  std::vector<bool> on_path(count, false);
  for (std::size_t n = count; n-- > 0;) {
    const Node& node = graph.nodes[n];
    for (const std::string& out : node.outputs)
      if (!out.empty() && reaches.count(out)) on_path[n] = true;
    if (!on_path[n]) continue;
    for (const std::string& in : node.inputs)
      if (!in.empty()) reaches.insert(in);
  }
  Plan plan;
  for (std::size_t n = 0; n < count; ++n) {
    const Node& node = graph.nodes[n];
    // Gradients only flow into the node through a float output the first output depends on.
    bool float_out_on_path = false;
    for (const std::string& out : node.outputs) {
      if (out.empty() || !reaches.count(out)) continue;
      const DType d = dtype_of(out);
      float_out_on_path = float_out_on_path || d == DType::f32 || d == DType::undefined;
    }
    if (!float_out_on_path) continue;
    const autograd::BackwardRule* rule = autograd::find_backward_rule(node.op_type, node.domain);
    if (strict && rule) {
      for (std::size_t i = 0; i < node.inputs.size(); ++i)
        if (!node.inputs[i].empty() && depends.count(node.inputs[i]) &&
            !rule->differentiates(static_cast<int>(i)))
          throw Unsupported(node_label(node) + ": the gradient with respect to input " +
                            std::to_string(i) + " ('" + node.inputs[i] + "') is not supported");
    }
    if (!touched[n]) continue;
    if (!rule)
      throw Unsupported(node_label(node) + ": op " +
                        (node.domain.empty() ? "" : node.domain + ".") + node.op_type +
                        " has no backward rule (gradients are not supported through it)");
    Plan::Step step{n, rule, std::vector<bool>(node.inputs.size(), false)};
    for (std::size_t i = 0; i < node.inputs.size(); ++i) {
      const std::string& in = node.inputs[i];
      step.needs[i] = !in.empty() && depends.count(in) && rule->differentiates(static_cast<int>(i));
    }
    plan.steps.push_back(std::move(step));
  }
  return plan;
}

// Static dtype of a tensor from the graph: initializers, declared inputs, inferred value_info.
DType graph_dtype(const Graph& graph, const std::string& name) {
  if (auto it = graph.initializers.find(name); it != graph.initializers.end())
    return it->second.dtype();
  for (const ValueInfo& info : graph.inputs)
    if (info.name == name) return info.dtype;
  if (auto it = graph.value_info.find(name); it != graph.value_info.end())
    return it->second.dtype();
  return DType::undefined;
}

void accumulate(std::map<std::string, Tensor>& grads, const std::string& name, Tensor g) {
  auto it = grads.find(name);
  if (it == grads.end()) {
    grads.emplace(name, std::move(g));
    return;
  }
  // Gradients may share buffers with others (pass-through rules): sum into a fresh one.
  Tensor sum = autograd::zeros(it->second.shape());
  const float* a = it->second.data<float>();
  const float* b = g.data<float>();
  float* s = sum.data<float>();
  for (std::int64_t i = 0; i < sum.numel(); ++i) s[i] = a[i] + b[i];
  it->second = std::move(sum);
}

}  // namespace

double loss_and_gradient(const Tensor& output, const Loss& loss, Tensor* grad_output) {
  if (output.dtype() != DType::f32)
    throw Error("the loss needs a float32 output, got " + dtype_name(output.dtype()));
  Tensor grad = autograd::zeros(output.shape());
  const float* z = output.data<float>();
  float* g = grad.data<float>();
  double total = 0;
  if (loss.kind == Loss::cross_entropy) {
    if (output.rank() != 2)
      throw Error("cross-entropy needs logits [N, C], got " + shape_to_string(output.shape()));
    const std::int64_t n = output.dim(0), classes = output.dim(1);
    if (static_cast<std::int64_t>(loss.labels.size()) != n)
      throw Error("cross-entropy got " + std::to_string(loss.labels.size()) + " labels for " +
                  std::to_string(n) + " samples");
    for (std::int64_t r = 0; r < n; ++r) {
      const std::int64_t label = loss.labels[r];
      if (label < 0 || label >= classes)
        throw Error("label " + std::to_string(label) + " of sample " + std::to_string(r) +
                    " is outside 0.." + std::to_string(classes - 1));
      const float* row = z + r * classes;
      const double m = *std::max_element(row, row + classes);
      double sum = 0;
      for (std::int64_t k = 0; k < classes; ++k) sum += std::exp(row[k] - m);
      total += m + std::log(sum) - row[label];
      for (std::int64_t k = 0; k < classes; ++k) {
        const double p = std::exp(row[k] - m) / sum;
        g[r * classes + k] = static_cast<float>((p - (k == label ? 1.0 : 0.0)) / double(n));
      }
    }
    total = n > 0 ? total / double(n) : 0.0;
  } else {
    const Tensor& t = loss.target_logits;
    if (!t.defined() || t.dtype() != DType::f32 || t.shape() != output.shape())
      throw Error("the KL loss needs float32 target logits of the output's shape " +
                  shape_to_string(output.shape()) + ", got " +
                  (t.defined() ? dtype_name(t.dtype()) + " " + shape_to_string(t.shape())
                               : std::string("none")));
    if (output.rank() == 0) throw Error("the KL loss needs an output of rank >= 1");
    const std::int64_t classes = output.dim(output.rank() - 1);
    const std::int64_t rows = classes == 0 ? 0 : output.numel() / classes;
    const float* pt = t.data<float>();
    std::vector<double> logp(static_cast<std::size_t>(classes)),
        logq(static_cast<std::size_t>(classes));
    auto log_softmax = [classes](const float* row, std::vector<double>& out) {
      const double m = *std::max_element(row, row + classes);
      double sum = 0;
      for (std::int64_t k = 0; k < classes; ++k) sum += std::exp(row[k] - m);
      const double lse = m + std::log(sum);
      for (std::int64_t k = 0; k < classes; ++k) out[k] = row[k] - lse;
    };
    for (std::int64_t r = 0; r < rows; ++r) {
      log_softmax(pt + r * classes, logp);
      log_softmax(z + r * classes, logq);
      for (std::int64_t k = 0; k < classes; ++k) {
        const double p = std::exp(logp[k]);
        if (p > 0) total += p * (logp[k] - logq[k]);
        g[r * classes + k] = static_cast<float>((std::exp(logq[k]) - p) / double(rows));
      }
    }
    total = rows > 0 ? total / double(rows) : 0.0;
  }
  if (grad_output) *grad_output = std::move(grad);
  return total;
}

GradientEngine::GradientEngine(const Graph& graph) : graph_(graph) {
  if (graph.outputs.empty()) throw Error("the graph has no outputs");
  // Every node a weight or an input can reach the output through needs a rule.
  std::set<std::string> sources;
  for (const ValueInfo& info : graph.inputs)
    if (info.dtype == DType::f32 || info.dtype == DType::undefined) sources.insert(info.name);
  for (const auto& [name, t] : graph.initializers)
    if (t.dtype() == DType::f32) sources.insert(name);
  plan_backward(
      graph, sources, [&](const std::string& name) { return graph_dtype(graph, name); }, false);
}

Gradients GradientEngine::run(const TensorMap& inputs, const Loss& loss,
                              const std::vector<std::string>& wrt, const TensorMap& overrides,
                              const GradientOptions& options) const {
  const Graph& graph = graph_;
  check_inputs(graph, inputs);
  for (const auto& [name, t] : overrides) {
    auto it = graph.initializers.find(name);
    if (it == graph.initializers.end())
      throw Error("override '" + name + "' does not name an initializer");
    if (t.dtype() != it->second.dtype() || t.shape() != it->second.shape() || !t.has_data())
      throw Error("override '" + name + "' must be " + dtype_name(it->second.dtype()) + " " +
                  shape_to_string(it->second.shape()) + ", got " + dtype_name(t.dtype()) + " " +
                  shape_to_string(t.shape()));
  }
  std::set<std::string> produced;
  for (const Node& node : graph.nodes)
    for (const std::string& out : node.outputs)
      if (!out.empty()) produced.insert(out);
  auto dtype_of = [&](const std::string& name) {
    if (auto it = inputs.find(name); it != inputs.end()) return it->second.dtype();
    return graph_dtype(graph, name);
  };
  const std::set<std::string> sources(wrt.begin(), wrt.end());
  for (const std::string& name : sources) {
    if (!inputs.count(name) && !graph.initializers.count(name) && !produced.count(name))
      throw Error("cannot differentiate with respect to '" + name +
                  "': no initializer, input or tensor of that name");
    const DType d = dtype_of(name);
    if (d != DType::f32 && d != DType::undefined)
      throw Error("cannot differentiate with respect to '" + name + "' of dtype " + dtype_name(d));
  }
  const Plan plan = plan_backward(graph, sources, dtype_of, true);
  const std::string& output_name = graph.outputs.at(0).name;

  // Forward, keeping what the backward rules read.
  std::vector<std::string> keep(sources.begin(), sources.end());
  keep.push_back(output_name);
  for (const Plan::Step& step : plan.steps) {
    const Node& node = graph.nodes[step.node];
    keep.insert(keep.end(), node.inputs.begin(), node.inputs.end());
    keep.insert(keep.end(), node.outputs.begin(), node.outputs.end());
  }
  TensorMap values = inputs;
  for (const auto& [name, t] : overrides) values[name] = t;
  Gradients result;
  auto held = [&](const Node& node) -> const Pieces::Held* {
    if (!options.hold || !autograd::is_piecewise(node)) return nullptr;
    auto it = options.hold->nodes.find(node.name);
    return it == options.hold->nodes.end() ? nullptr : &it->second;
  };
  NodeReplacement replace = nullptr;
  if (options.hold || options.record_pieces)
    replace = [&](const Node& node, const std::vector<const Tensor*>& in,
                  std::vector<Tensor>& out) {
      if (!autograd::is_piecewise(node) || in.empty() || !in[0]) return false;
      if (options.record_pieces)
        result.pieces.nodes[node.name] = autograd::hold_pieces(node, graph.opset, in);
      const Pieces::Held* h = held(node);
      if (!h) return false;
      out = autograd::held_forward(node, in, *h);
      return true;
    };
  run_nodes(graph, values, RunMode::execute, keep, replace);
  auto lookup = [&](const std::string& name) -> const Tensor* {
    if (name.empty()) return nullptr;
    if (auto it = values.find(name); it != values.end()) return &it->second;
    if (auto it = graph.initializers.find(name); it != graph.initializers.end()) return &it->second;
    return nullptr;
  };
  const Tensor* output = lookup(output_name);
  if (!output) throw Error("output '" + output_name + "' was not computed");

  Tensor seed;
  result.loss = loss_and_gradient(*output, loss, &seed);
  std::map<std::string, Tensor> grads;
  grads.emplace(output_name, std::move(seed));

  // The earliest step that reads each kept activation: past it, the sweep releases it.
  std::map<std::string, std::size_t> first_use;
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const Node& node = graph.nodes[plan.steps[i].node];
    for (const std::string& in : node.inputs) first_use.emplace(in, i);
    for (const std::string& out : node.outputs) first_use.emplace(out, i);
  }

  for (auto step = plan.steps.rbegin(); step != plan.steps.rend(); ++step) {
    const Node& node = graph.nodes[step->node];
    const std::size_t index = static_cast<std::size_t>(plan.steps.rend() - step) - 1;
    autograd::BackwardContext ctx{node, graph.opset, {}, {}, {}, step->needs, {}};
    bool any = false;
    for (const std::string& out : node.outputs) {
      ctx.outputs.push_back(lookup(out));
      auto it = out.empty() ? grads.end() : grads.find(out);
      ctx.grad_outputs.push_back(it == grads.end() ? nullptr : &it->second);
      any = any || it != grads.end();
    }
    if (!any) continue;
    for (const std::string& in : node.inputs) ctx.inputs.push_back(lookup(in));
    if (const Pieces::Held* h = held(node))
      autograd::held_backward(ctx, *h);
    else
      step->rule->fn(ctx);
    ctx.grad_inputs.resize(node.inputs.size());
    for (std::size_t i = 0; i < node.inputs.size(); ++i)
      if (step->needs[i] && ctx.grad_inputs[i].defined())
        accumulate(grads, node.inputs[i], std::move(ctx.grad_inputs[i]));
    // This node was the last to contribute to its outputs' gradients (topological order).
    for (const std::string& out : node.outputs)
      if (!sources.count(out)) grads.erase(out);
    for (const std::vector<std::string>* names : {&node.inputs, &node.outputs})
      for (const std::string& name : *names)
        if (first_use[name] == index && !sources.count(name) && name != output_name)
          values.erase(name);
  }

  for (const std::string& name : wrt) {
    auto it = grads.find(name);
    if (it != grads.end()) {
      result.wrt[name] = it->second;
    } else {
      const Tensor* t = lookup(name);
      result.wrt[name] = autograd::zeros(t ? t->shape() : Shape{});
    }
  }
  return result;
}

}  // namespace qs
