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

void Registry::add_calibrator(const std::string& name, const std::string& description,
                              CalibratorFactory factory) {
  if (name.empty() || name.find(':') != std::string::npos)
    throw Error("calibrator name '" + name + "': a name is not empty and has no ':'");
  for (const CalibratorEntry& c : calibrators_)
    if (c.name == name)
      throw Error("calibrator '" + name + "' is already registered by " + c.origin);
  calibrators_.push_back({name, description, current_origin_, std::move(factory)});
}

std::vector<std::string> Registry::calibrator_names() const {
  std::vector<std::string> names;
  for (const CalibratorEntry& c : calibrators_) names.push_back(c.name);
  return names;
}

std::string Registry::calibrator_description(const std::string& name) const {
  for (const CalibratorEntry& c : calibrators_)
    if (c.name == name) return c.description;
  return {};
}

std::unique_ptr<Calibrator> Registry::create_calibrator(const std::string& text) const {
  const std::size_t colon = text.find(':');
  const std::string name = text.substr(0, colon);
  const std::string parameter = colon == std::string::npos ? "" : text.substr(colon + 1);
  for (const CalibratorEntry& c : calibrators_) {
    if (c.name != name) continue;
    if (colon != std::string::npos && parameter.empty())
      throw Error("calibrator \"" + text + "\": nothing follows the ':'");
    return c.factory(parameter);
  }
  std::string known;
  for (const CalibratorEntry& c : calibrators_) known += (known.empty() ? "" : ", ") + c.name;
  throw Error("unknown calibrator \"" + text + "\" (available: " + known + ")");
}

}  // namespace qs
