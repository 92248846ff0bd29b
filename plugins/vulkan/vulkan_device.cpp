#include "vulkan_device.h"

#include <sstream>

#include "plan.h"
#include "weights.h"

namespace qs::vk {

namespace {

ShapeOf shapes_of(const Graph& graph, const TensorMap* metas) {
  return [&graph, metas](const std::string& name) -> const Tensor* {
    if (metas) {
      auto m = metas->find(name);
      if (m != metas->end()) return &m->second;
    }
    auto it = graph.value_info.find(name);
    if (it != graph.value_info.end()) return &it->second;
    auto init = graph.initializers.find(name);
    return init != graph.initializers.end() ? &init->second : nullptr;
  };
}

class VulkanGraph : public CompiledGraph {
 public:
  VulkanGraph(std::shared_ptr<Context> ctx, const Graph& graph, bool integer)
      : ctx_(std::move(ctx)), graph_(graph) {
    if (integer)
      for (const Node& n : graph.nodes) {
        if (!quant::has_quantized_weights(n)) continue;
        std::string why;
        if (auto layer = pack_layer(graph, n, why)) packed_[&n] = std::move(layer);
      }
  }

  TensorMap run(const TensorMap& inputs) override {
    check_inputs(graph_, inputs);
    std::map<std::string, Shape> shapes;
    for (const ValueInfo& in : graph_.inputs) shapes[in.name] = inputs.at(in.name).shape();
    if (!plan_ || shapes != shapes_) {
      plan_.reset();
      plan_ = std::make_unique<Plan>(ctx_, graph_, inputs, packed_);
      shapes_ = std::move(shapes);
    }
    return plan_->run(inputs, profiling_);
  }
  void set_profiling(bool on) override { profiling_ = on; }
  std::vector<NodeTiming> last_timings() const override {
    return profiling_ && plan_ ? plan_->timings() : std::vector<NodeTiming>{};
  }
  double last_device_ms() const override { return plan_ ? plan_->device_ms() : -1.0; }

 private:
  std::shared_ptr<Context> ctx_;
  const Graph& graph_;
  std::map<const Node*, std::shared_ptr<const PackedLayer>> packed_;
  std::unique_ptr<Plan> plan_;
  std::map<std::string, Shape> shapes_;
  bool profiling_ = false;
};

std::string mib(std::uint64_t bytes) {
  return std::to_string(bytes >> 20) + " MiB";
}

// "NVIDIA H200 (discrete GPU, Vulkan 1.4.312; storage buffers up to ...)"
std::string describe(const DeviceInfo& d) {
  std::ostringstream out;
  out << d.name << " (" << d.type << ", Vulkan " << d.api_version << "; storage buffers up to "
      << mib(d.max_storage_buffer_range) << ", " << d.max_shared_memory / 1024
      << " KiB shared memory, " << mib(d.device_local_bytes) << " device memory, timestamps "
      << (d.timestamp_period_ns > 0 ? "yes" : "no") << ")";
  return out.str();
}

}  // namespace

VulkanDevice::VulkanDevice(int index) {
  const Probe& p = probe();
  if (!p.error.empty()) {
    why_not_ = p.error;
    return;
  }
  if (index >= 0) {
    if (index >= static_cast<int>(p.devices.size())) {
      why_not_ = "no Vulkan device " + std::to_string(index) + " (" +
                 std::to_string(p.devices.size()) + " found)";
      return;
    }
    const DeviceInfo& d = p.devices[static_cast<std::size_t>(index)];
    if (!d.usable) {
      why_not_ = d.name + ": " + d.reason;
      return;
    }
    index_ = index;
    return;
  }
  for (const DeviceInfo& d : p.devices)
    if (d.usable) {
      index_ = d.index;
      return;
    }
  why_not_ = "no usable Vulkan device";
  for (const DeviceInfo& d : p.devices) why_not_ += "; " + d.name + ": " + d.reason;
}

std::string VulkanDevice::description() const {
  if (index_ < 0) return "Vulkan compute (unusable: " + why_not_ + ")";
  std::string text =
      "Vulkan compute shaders (fp32; int8/int4 weight-only) on vulkan:" + std::to_string(index_) +
      ". " + describe_devices();
  return text;
}

DeviceStatus VulkanDevice::status() const {
  if (index_ < 0) return {false, why_not_};
  return {};
}

std::string VulkanDevice::unsupported_reason(const Graph& graph, const Node& node) const {
  if (index_ < 0) return "device unusable: " + why_not_;
  bool packed = false;
  if (integer_ && quant::has_quantized_weights(node)) {
    std::string why;
    packed = pack_layer(graph, node, why) != nullptr;
  }
  return unsupported(graph, node, shapes_of(graph, nullptr), packed);
}

std::unique_ptr<CompiledGraph> VulkanDevice::compile(const Graph& graph) {
  if (index_ < 0) throw Error("device vulkan is not usable: " + why_not_);
  if (!ctx_) ctx_ = Context::open(index_);
  return std::make_unique<VulkanGraph>(ctx_, graph, integer_);
}

std::map<std::string, std::string> VulkanDevice::environment() const {
  std::map<std::string, std::string> env;
  if (index_ < 0) {
    env["vulkan"] = "unusable: " + why_not_;
    return env;
  }
  const DeviceInfo& d = probe().devices[static_cast<std::size_t>(index_)];
  env["isa"] = "vulkan (" + d.name + ")";
  env["gpu"] = d.name;
  env["gpu_type"] = d.type;
  env["vulkan_api"] = d.api_version;
  env["vulkan_driver_version"] = d.driver;
  env["vulkan_index"] = std::to_string(d.index);
  env["timestamps"] = d.timestamp_period_ns > 0 ? "yes" : "no";
  return env;
}

std::string describe_devices() {
  const Probe& p = probe();
  if (!p.error.empty()) return "no Vulkan: " + p.error;
  std::ostringstream out;
  for (const DeviceInfo& d : p.devices) {
    out << "vulkan:" << d.index << " " << describe(d);
    if (!d.usable) out << ": unusable, " << d.reason;
    out << "\n";
  }
  std::string s = out.str();
  if (!s.empty()) s.pop_back();
  return s;
}

}  // namespace qs::vk
