// The plugin ABI. A plugin is a shared library in a plugin folder that exports one C function,
// quantscope_plugin, returning its descriptor. The engine refuses a library whose ABI version
// differs from QS_PLUGIN_ABI_VERSION, which changes whenever anything a plugin sees changes
// (this header, device.h, registry.h, calibrator.h, rounding.h, quant_format.h, tensor.h,
// graph.h).
#pragma once

#include <cstdint>

#define QS_PLUGIN_ABI_VERSION 5
#define QS_PLUGIN_ENTRY_POINT "quantscope_plugin"

namespace qs {
class Registry;
}

extern "C" {

struct QsPluginDescriptor {
  std::uint32_t abi_version;  // QS_PLUGIN_ABI_VERSION when built
  const char* name;           // "cpu-onednn"
  const char* version;        // the plugin's own version
  const char* description;    // one line
  // Adds the plugin's devices (and later calibrators, rounding methods, ...) to the registry.
  // Called once, on the thread that loads plugins. May throw qs::Error to refuse loading.
  void (*register_plugin)(qs::Registry& registry);
};

// What every plugin exports (with C linkage and default visibility).
typedef const QsPluginDescriptor* (*QsPluginEntryPoint)(void);
}
