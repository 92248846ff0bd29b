// quantscope-cli plugins: what the registry holds, what loaded and what was refused.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "quantscope/plugin.h"

namespace qs::cli {

int cmd_plugins(const std::vector<std::string>& argv) {
  Args args(argv, {common("json")});
  if (!args.positional().empty()) throw UsageError{"plugins takes no positional arguments"};
  Registry& r = registry();
  nlohmann::json devices = nlohmann::json::array();
  for (const std::string& name : r.device_names()) {
    std::unique_ptr<Device> d = r.create_device(name);
    const DeviceStatus status = d->status();
    devices.push_back(
        {{"name", name},
         {"description", status.usable ? d->description() : r.device_description(name)},
         {"origin", r.device_origin(name)},
         {"usable", status.usable},
         {"reason", status.reason},
         {"environment", status.usable ? d->environment() : std::map<std::string, std::string>{}}});
  }
  nlohmann::json calibrators = nlohmann::json::array();
  for (const std::string& name : r.calibrator_names())
    calibrators.push_back({{"name", name}, {"description", r.calibrator_description(name)}});
  nlohmann::json roundings = nlohmann::json::array();
  for (const std::string& name : r.rounding_names())
    roundings.push_back({{"name", name}, {"description", r.rounding_description(name)}});
  nlohmann::json plugins = nlohmann::json::array();
  for (const PluginRecord& p : r.plugins())
    plugins.push_back({{"path", p.path},
                       {"name", p.name},
                       {"version", p.version},
                       {"loaded", p.loaded},
                       {"reason", p.reason},
                       {"provides", p.provides}});
  if (args.flag("json")) {
    nlohmann::json j{{"abi_version", QS_PLUGIN_ABI_VERSION},
                     {"folders", default_plugin_folders()},
                     {"devices", devices},
                     {"calibrators", calibrators},
                     {"roundings", roundings},
                     {"plugins", plugins}};
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("devices:\n");
  for (const auto& d : devices) {
    std::string env;
    for (const auto& [k, v] : d["environment"].items()) env += " " + k + "=" + v.get<std::string>();
    std::printf("  %-12s %-8s %s  [%s]%s\n", d["name"].get<std::string>().c_str(),
                d["usable"].get<bool>() ? "usable" : "UNUSABLE",
                d["description"].get<std::string>().c_str(), d["origin"].get<std::string>().c_str(),
                env.c_str());
    if (!d["usable"].get<bool>())
      std::printf("               why: %s\n", d["reason"].get<std::string>().c_str());
  }
  std::printf("\ncalibrators:\n");
  for (const auto& c : calibrators)
    std::printf("  %-12s %s\n", c["name"].get<std::string>().c_str(),
                c["description"].get<std::string>().c_str());
  std::printf("\nweight rounding:\n");
  for (const auto& c : roundings)
    std::printf("  %-12s %s\n", c["name"].get<std::string>().c_str(),
                c["description"].get<std::string>().c_str());
  std::printf("\nplugin folders (ABI version 0x%07x):\n", QS_PLUGIN_ABI_VERSION);
  for (const std::string& f : default_plugin_folders()) std::printf("  %s\n", f.c_str());
  std::printf("\nplugins:\n");
  if (r.plugins().empty()) std::printf("  none found\n");
  for (const PluginRecord& p : r.plugins()) {
    if (p.loaded) {
      std::string provides;
      for (const std::string& x : p.provides) provides += " " + x;
      std::printf("  loaded   %s %s (%s):%s\n", p.name.c_str(), p.version.c_str(), p.path.c_str(),
                  provides.c_str());
    } else {
      std::printf("  REFUSED  %s: %s\n", p.path.c_str(), p.reason.c_str());
    }
  }
  return 0;
}

}  // namespace qs::cli
