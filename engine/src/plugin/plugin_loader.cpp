// Plugins by dlopen: a library is refused, with the reason, when it cannot be loaded
// (unresolved symbols: RTLD_NOW makes that fail here rather than later), lacks the entry
// point, has another ABI version, or throws while registering.
#include <dlfcn.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "quantscope/plugin.h"
#include "quantscope/registry.h"

namespace qs {

namespace fs = std::filesystem;

namespace {

std::string hex(std::uint32_t v) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%07x", v);
  return text;
}

bool is_plugin_file(const fs::path& p) {
  const std::string name = p.filename().string();
  return name.rfind("qsplugin_", 0) == 0 && p.extension() == ".so";
}

}  // namespace

void Registry::load_plugins(const std::vector<std::string>& folders) {
  std::vector<std::string> seen_names;
  for (const PluginRecord& p : plugins_) seen_names.push_back(p.name);
  for (const std::string& folder : folders) {
    std::error_code ec;
    if (folder.empty() || !fs::is_directory(folder, ec)) continue;
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(folder, ec))
      if (entry.is_regular_file(ec) && is_plugin_file(entry.path())) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) {
      PluginRecord record;
      record.path = file.string();
      void* handle = dlopen(record.path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!handle) {
        const char* why = dlerror();
        record.reason = std::string("cannot be loaded: ") + (why ? why : "unknown dlopen error");
        plugins_.push_back(record);
        continue;
      }
      auto entry = reinterpret_cast<QsPluginEntryPoint>(dlsym(handle, QS_PLUGIN_ENTRY_POINT));
      const QsPluginDescriptor* d = entry ? entry() : nullptr;
      if (!entry || !d) {
        record.reason = std::string("has no entry point ") + QS_PLUGIN_ENTRY_POINT;
      } else if (d->abi_version != QS_PLUGIN_ABI_VERSION) {
        record.reason = "was built for plugin ABI version " + hex(d->abi_version) +
                        ", this Quantscope has version " + hex(QS_PLUGIN_ABI_VERSION) +
                        " (the public headers differ: rebuild the plugin against these)";
      } else if (!d->name || !d->register_plugin) {
        record.reason = "has an incomplete descriptor (no name or no register function)";
      } else if (std::find(seen_names.begin(), seen_names.end(), d->name) != seen_names.end()) {
        record.name = d->name;
        record.reason = "a plugin named '" + record.name + "' is already loaded";
      } else {
        record.name = d->name;
        record.version = d->version ? d->version : "";
        const auto before = device_names();
        const auto calibrators_before = calibrator_names();
        const auto roundings_before = rounding_names();
        current_origin_ = record.path;
        try {
          d->register_plugin(*this);
          record.loaded = true;
        } catch (const std::exception& e) {
          record.reason = std::string("failed to register: ") + e.what();
          // What it registered before failing would dangle once the library is unloaded.
          devices_.erase(
              std::remove_if(devices_.begin(), devices_.end(),
                             [&](const DeviceEntry& dev) { return dev.origin == record.path; }),
              devices_.end());
          auto from_it = [&](const auto& added) { return added.origin == record.path; };
          calibrators_.erase(std::remove_if(calibrators_.begin(), calibrators_.end(), from_it),
                             calibrators_.end());
          roundings_.erase(std::remove_if(roundings_.begin(), roundings_.end(), from_it),
                           roundings_.end());
        }
        current_origin_ = "built-in";
        for (const std::string& n : device_names())
          if (std::find(before.begin(), before.end(), n) == before.end())
            record.provides.push_back("device:" + n);
        for (const std::string& n : calibrator_names())
          if (std::find(calibrators_before.begin(), calibrators_before.end(), n) ==
              calibrators_before.end())
            record.provides.push_back("calibrator:" + n);
        for (const std::string& n : rounding_names())
          if (std::find(roundings_before.begin(), roundings_before.end(), n) ==
              roundings_before.end())
            record.provides.push_back("rounding:" + n);
        if (record.loaded) seen_names.push_back(record.name);
      }
      // A refused library is unloaded; a loaded one stays for the life of the process, since
      // the devices it registered point into it.
      if (!record.loaded) {
        record.provides.clear();
        dlclose(handle);
      }
      plugins_.push_back(record);
    }
  }
}

std::vector<std::string> default_plugin_folders() {
  std::vector<std::string> folders;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    folders.push_back((exe.parent_path() / "plugins").string());
    folders.push_back((exe.parent_path().parent_path() / "lib/quantscope/plugins").string());
  }
  if (const char* extra = std::getenv("QUANTSCOPE_PLUGIN_PATH")) {
    std::string list = extra;
    std::size_t start = 0;
    while (start <= list.size()) {
      std::size_t colon = list.find(':', start);
      folders.push_back(
          list.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
  }
  // The same folder twice would load its plugins twice.
  std::vector<std::string> unique;
  for (const std::string& f : folders) {
    std::string canonical = fs::weakly_canonical(f, ec).string();
    if (ec) canonical = f;
    if (std::find(unique.begin(), unique.end(), canonical) == unique.end())
      unique.push_back(canonical);
  }
  return unique;
}

const Registry& builtin_registry() {
  static const Registry registry = [] {
    Registry r;
    register_builtins(r);
    return r;
  }();
  return registry;
}

Registry make_default_registry() {
  Registry registry;
  register_builtins(registry);
  registry.load_plugins(default_plugin_folders());
  return registry;
}

}  // namespace qs
