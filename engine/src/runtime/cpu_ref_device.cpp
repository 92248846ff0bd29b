#include "runtime/cpu_ref_device.h"

#include <Eigen/Core>
#include <chrono>

#include "quantscope/reference.h"
#include "runtime/graph_runner.h"

namespace qs {

namespace {

class CpuRefGraph : public CompiledGraph {
 public:
  // Quantized layers' integer forms are derived once here, not on every batch.
  explicit CpuRefGraph(const Graph& graph)
      : graph_(graph), prepared_(kernels::prepare_integer_layers(graph)) {}

  TensorMap run(const TensorMap& inputs) override {
    check_inputs(graph_, inputs);
    TensorMap values = inputs;
    if (!profiling_) {
      run_nodes(graph_, values, RunMode::execute, {}, nullptr, &prepared_);
      TensorMap result;
      for (const ValueInfo& out : graph_.outputs) {
        auto v = values.find(out.name);
        if (v == values.end() && !graph_.initializers.count(out.name))
          throw Error("output '" + out.name + "' was not computed");
        result[out.name] = v != values.end() ? v->second : graph_.initializers.at(out.name);
      }
      return result;
    }
    // Node by node with a clock around each; the same kernels as the plain path.
    timings_.clear();
    for (const Node& node : graph_.nodes) {
      std::vector<const Tensor*> in;
      for (const std::string& name : node.inputs) {
        if (name.empty()) {
          in.push_back(nullptr);
          continue;
        }
        auto v = values.find(name);
        in.push_back(v != values.end() ? &v->second : &graph_.initializers.at(name));
      }
      const auto start = std::chrono::steady_clock::now();
      auto form = prepared_.find(&node);
      std::vector<Tensor> outs = run_node(node, graph_.opset, in, RunMode::execute,
                                          form != prepared_.end() ? &form->second : nullptr);
      const auto stop = std::chrono::steady_clock::now();
      timings_.push_back({node.name, node.op_type,
                          std::chrono::duration<double, std::milli>(stop - start).count(),
                          "reference"});
      for (std::size_t k = 0; k < node.outputs.size(); ++k)
        if (!node.outputs[k].empty()) values[node.outputs[k]] = std::move(outs[k]);
    }
    TensorMap result;
    for (const ValueInfo& out : graph_.outputs) {
      auto v = values.find(out.name);
      result[out.name] = v != values.end() ? v->second : graph_.initializers.at(out.name);
    }
    return result;
  }

  void set_profiling(bool on) override { profiling_ = on; }
  std::vector<NodeTiming> last_timings() const override { return timings_; }

 private:
  const Graph& graph_;
  const kernels::PreparedLayers prepared_;
  bool profiling_ = false;
  std::vector<NodeTiming> timings_;
};

}  // namespace

std::string CpuRefDevice::description() const {
  return "reference kernels on the CPU (fp32, plain loops and Eigen)";
}

std::string CpuRefDevice::unsupported_reason(const Graph&, const Node& node) const {
  return reference_supports(node.op_type, node.domain) ? "" : "op " + node.op_type;
}

std::unique_ptr<CompiledGraph> CpuRefDevice::compile(const Graph& graph) {
  return std::make_unique<CpuRefGraph>(graph);
}

std::map<std::string, std::string> CpuRefDevice::environment() const {
  return {{"isa", "generic (Eigen " + std::to_string(EIGEN_WORLD_VERSION) + "." +
                      std::to_string(EIGEN_MAJOR_VERSION) + "." +
                      std::to_string(EIGEN_MINOR_VERSION) + ")"},
          {"threads", std::to_string(Eigen::nbThreads())}};
}

}  // namespace qs
