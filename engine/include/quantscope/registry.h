// One registry of everything that can be chosen by name: devices, activation calibrators and
// weight rounding methods (search strategies as they arrive). Built-ins are added by
// register_builtins(); plugins are shared libraries loaded from the plugin folders.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "quantscope/calibrator.h"
#include "quantscope/device.h"
#include "quantscope/rounding.h"

namespace qs {

// A plugin library that was found: loaded, or refused with the reason.
struct PluginRecord {
  std::string path;
  std::string name;  // from its descriptor, when it got that far
  std::string version;
  bool loaded = false;
  std::string reason;                 // why it was refused
  std::vector<std::string> provides;  // "device:cpu-onednn"
};

class Registry {
 public:
  using DeviceFactory = std::function<std::unique_ptr<Device>()>;
  // For devices with numbered instances: "vulkan:1" calls the factory of "vulkan" with "1"
  // ("" for plain "vulkan"). It throws Error for a variant it does not know.
  using VariantFactory = std::function<std::unique_ptr<Device>(const std::string& variant)>;

  // Adds a device; `origin` is "built-in" or the plugin's path. A second device with the same
  // name is refused with an Error.
  void add_device(const std::string& name, const std::string& description, DeviceFactory factory);
  void add_device(const std::string& name, const std::string& description, VariantFactory factory);
  std::vector<std::string> device_names() const;
  std::string device_description(const std::string& name) const;
  std::string device_origin(const std::string& name) const;
  // Creates a device by name ("cpu-ref"; "vulkan:1" passes "1" to the factory of "vulkan").
  // Throws Error listing the known names when there is none.
  std::unique_ptr<Device> create_device(const std::string& name) const;

  // Activation calibrators by name. create_calibrator() takes "name" or "name:parameter"
  // ("percentile:99.9") and throws Error listing the known names for one it does not know. A
  // second calibrator with the same name is refused with an Error.
  void add_calibrator(const std::string& name, const std::string& description,
                      CalibratorFactory factory);
  std::vector<std::string> calibrator_names() const;
  std::string calibrator_description(const std::string& name) const;
  std::unique_ptr<Calibrator> create_calibrator(const std::string& text) const;

  // Weight rounding methods by name, the same way: "rtn", "gptq:damp=0.05".
  void add_rounding(const std::string& name, const std::string& description,
                    RoundingFactory factory);
  std::vector<std::string> rounding_names() const;
  std::string rounding_description(const std::string& name) const;
  std::unique_ptr<Rounding> create_rounding(const std::string& text) const;

  // Loads every plugin library (qsplugin_*.so) in the folders, in order. Failures are recorded,
  // never thrown: everything else keeps working.
  void load_plugins(const std::vector<std::string>& folders);
  const std::vector<PluginRecord>& plugins() const { return plugins_; }

 private:
  struct DeviceEntry {
    std::string name, description, origin;
    VariantFactory factory;
    bool variants = false;  // accepts name:variant
  };
  // An algorithm chosen by "name" or "name:parameter".
  template <class Factory>
  struct Named {
    std::string name, description, origin;
    Factory factory;
  };
  std::vector<DeviceEntry> devices_;
  std::vector<Named<CalibratorFactory>> calibrators_;
  std::vector<Named<RoundingFactory>> roundings_;
  std::vector<PluginRecord> plugins_;
  std::string current_origin_ = "built-in";
};

// Registers the built-in devices (cpu-ref) and algorithms. The one place built-ins are listed.
void register_builtins(Registry& registry);
// The plugin folders: beside the running program (<dir of exe>/plugins, the build tree), the
// install location (<prefix>/lib/quantscope/plugins), then each folder in QUANTSCOPE_PLUGIN_PATH
// (colon-separated).
std::vector<std::string> default_plugin_folders();
// A registry with the built-ins and the plugins of default_plugin_folders(); what the CLI and
// the GUI use.
Registry make_default_registry();
// The built-ins alone, made once: what engine calls given no registry choose from.
const Registry& builtin_registry();

}  // namespace qs
