// The plugin ABI. A plugin is a shared library in a plugin folder that exports one C function,
// quantscope_plugin, returning its descriptor. The engine refuses a library whose ABI version
// differs from QS_PLUGIN_ABI_VERSION. That number is generated at configure time
// (quantscope/plugin_abi.h): a fingerprint of this header, registry.h and every public header
// they include, so it changes whenever anything a plugin sees changes, and only then. The
// descriptor's first field stays a 32-bit version, so a plugin of any age is read safely.
#pragma once

#include <cstdint>

#include "quantscope/plugin_abi.h"

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
