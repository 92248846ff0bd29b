// A skeleton device plugin: the one to copy. It registers the device "skeleton", which runs
// every node itself by calling the reference kernels one node at a time; a real device replaces
// run_node() with its own kernels and says in unsupported_reason() which nodes it leaves to
// the reference kernels.
#include <map>

#include "quantscope/plugin.h"
#include "quantscope/reference.h"
#include "quantscope/registry.h"

namespace {

class SkeletonGraph : public qs::CompiledGraph {
 public:
  explicit SkeletonGraph(const qs::Graph& graph) : graph_(graph) {}

  qs::TensorMap run(const qs::TensorMap& inputs) override {
    qs::check_inputs(graph_, inputs);
    qs::TensorMap values = inputs;
    for (const qs::Node& node : graph_.nodes) {
      std::vector<const qs::Tensor*> in;
      for (const std::string& name : node.inputs) in.push_back(find(values, name));
      std::vector<qs::Tensor> out = qs::run_reference_node(node, graph_.opset, in);
      for (std::size_t k = 0; k < node.outputs.size(); ++k)
        if (!node.outputs[k].empty()) values[node.outputs[k]] = out[k];
    }
    qs::TensorMap result;
    for (const qs::ValueInfo& o : graph_.outputs) result[o.name] = *find(values, o.name);
    return result;
  }

 private:
  const qs::Tensor* find(const qs::TensorMap& values, const std::string& name) const {
    if (name.empty()) return nullptr;
    auto v = values.find(name);
    if (v != values.end()) return &v->second;
    auto init = graph_.initializers.find(name);
    if (init != graph_.initializers.end()) return &init->second;
    throw qs::Error("skeleton: tensor '" + name + "' is not defined");
  }
  const qs::Graph& graph_;
};

class SkeletonDevice : public qs::Device {
 public:
  std::string name() const override { return "skeleton"; }
  std::string description() const override {
    return "template for new devices: runs every node on the reference kernels";
  }
  qs::DeviceStatus status() const override { return {}; }
  std::string unsupported_reason(const qs::Graph&, const qs::Node& node) const override {
    return qs::reference_supports(node.op_type, node.domain) ? "" : "op " + node.op_type;
  }
  std::unique_ptr<qs::CompiledGraph> compile(const qs::Graph& graph) override {
    return std::make_unique<SkeletonGraph>(graph);
  }
  std::map<std::string, std::string> environment() const override { return {{"isa", "generic"}}; }
};

void register_skeleton(qs::Registry& registry) {
  SkeletonDevice prototype;
  registry.add_device(prototype.name(), prototype.description(),
                      [] { return std::make_unique<SkeletonDevice>(); });
}

const QsPluginDescriptor kDescriptor{QS_PLUGIN_ABI_VERSION, "skeleton", "1.0",
                                     "a device plugin to copy", register_skeleton};

}  // namespace

extern "C" __attribute__((visibility("default"))) const QsPluginDescriptor* quantscope_plugin(
    void) {
  return &kDescriptor;
}
