// The vulkan device: graphs on a Vulkan device through compute shaders.
#pragma once

#include <memory>

#include "context.h"
#include "quantscope/device.h"

namespace qs::vk {

class VulkanDevice : public Device {
 public:
  // `index`: vulkan:<index> in probe() order; -1 picks the first usable device.
  explicit VulkanDevice(int index = -1);
  std::string name() const override { return "vulkan"; }
  std::string description() const override;
  DeviceStatus status() const override;
  std::string unsupported_reason(const Graph& graph, const Node& node) const override;
  std::unique_ptr<CompiledGraph> compile(const Graph& graph) override;
  std::map<std::string, std::string> environment() const override;
  // Weight-only int8 / int4: quantized layers read their packed codes (weights.h).
  bool use_integer_kernels(bool on) override {
    integer_ = on;
    return on;
  }

 private:
  int index_ = -1;  // resolved: the device this object uses, or -1 when none is usable
  std::string why_not_;
  bool integer_ = false;
  std::shared_ptr<Context> ctx_;  // opened on the first compile
};

// One line per device found, for `plugins` and `info --device vulkan`.
std::string describe_devices();

}  // namespace qs::vk
