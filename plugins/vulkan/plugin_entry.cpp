// The plugin's entry point: its descriptor and what it registers.
#include <string>

#include "quantscope/plugin.h"
#include "quantscope/registry.h"
#include "vulkan_device.h"

namespace {

void register_plugin(qs::Registry& registry) {
  // Nothing is asked of the Vulkan loader until a device is opened: a process that never uses
  // Vulkan never loads a driver (the device's own description lists what was found).
  registry.add_device(
      "vulkan", "Vulkan compute shaders (fp32; int8/int4 weight-only)",
      [](const std::string& variant) -> std::unique_ptr<qs::Device> {
        if (variant.empty()) return std::make_unique<qs::vk::VulkanDevice>();
        std::size_t used = 0;
        int index = -1;
        try {
          index = std::stoi(variant, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used != variant.size() || index < 0)
          throw qs::Error("vulkan:" + variant + ": expected vulkan:N with N a device number");
        return std::make_unique<qs::vk::VulkanDevice>(index);
      });
}

const QsPluginDescriptor descriptor{QS_PLUGIN_ABI_VERSION, "vulkan", "0.1.0",
                                    "Vulkan compute device (GPU, or Mesa's lavapipe on the CPU)",
                                    register_plugin};

}  // namespace

extern "C" __attribute__((visibility("default"))) const QsPluginDescriptor* quantscope_plugin(
    void) {
  return &descriptor;
}
