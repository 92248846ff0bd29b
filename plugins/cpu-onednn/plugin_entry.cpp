// The plugin's entry point: its descriptor and what it registers.

#include "onednn_device.h"
#include "quantscope/plugin.h"
#include "quantscope/registry.h"

namespace {

void register_plugin(qs::Registry& registry) {
  registry.add_device("cpu-onednn",
                      qs::onednn::onednn_version() +
                          " on the CPU (fp32; int8 for quantized graphs with integer kernels)",
                      [] { return std::make_unique<qs::onednn::OnednnDevice>(); });
}

const QsPluginDescriptor descriptor{QS_PLUGIN_ABI_VERSION, "cpu-onednn", "0.1.0",
                                    "oneDNN fp32 and int8 device for the CPU", register_plugin};

}  // namespace

extern "C" __attribute__((visibility("default"))) const QsPluginDescriptor* quantscope_plugin(
    void) {
  return &descriptor;
}
