#include "quantscope/registry.h"

#include <algorithm>

namespace qs {

void Registry::add_device(const std::string& name, const std::string& description,
                          DeviceFactory factory) {
  add_device(name, description, VariantFactory([factory = std::move(factory)](const std::string&) {
               return factory();
             }));
  devices_.back().variants = false;
}

void Registry::add_device(const std::string& name, const std::string& description,
                          VariantFactory factory) {
  for (const DeviceEntry& d : devices_)
    if (d.name == name) throw Error("device '" + name + "' is already registered by " + d.origin);
  devices_.push_back({name, description, current_origin_, std::move(factory), true});
}

std::vector<std::string> Registry::device_names() const {
  std::vector<std::string> names;
  for (const DeviceEntry& d : devices_) names.push_back(d.name);
  return names;
}

std::string Registry::device_description(const std::string& name) const {
  for (const DeviceEntry& d : devices_)
    if (d.name == name) return d.description;
  return {};
}

std::string Registry::device_origin(const std::string& name) const {
  for (const DeviceEntry& d : devices_)
    if (d.name == name) return d.origin;
  return {};
}

std::unique_ptr<Device> Registry::create_device(const std::string& name) const {
  for (const DeviceEntry& d : devices_)
    if (d.name == name) return d.factory("");
  const std::size_t colon = name.find(':');
  if (colon != std::string::npos)
    for (const DeviceEntry& d : devices_)
      if (d.variants && d.name == name.substr(0, colon)) return d.factory(name.substr(colon + 1));
  std::string known;
  for (const DeviceEntry& d : devices_) known += (known.empty() ? "" : ", ") + d.name;
  std::string refused;
  for (const PluginRecord& p : plugins_)
    if (!p.loaded) refused += "; refused plugin " + p.path + ": " + p.reason;
  throw Error("unknown device '" + name + "' (available: " + known + ")" + refused);
}

}  // namespace qs
