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

namespace {

template <class Entry>
void add_named(std::vector<Entry>& list, const std::string& kind, Entry entry) {
  if (entry.name.empty() || entry.name.find(':') != std::string::npos)
    throw Error(kind + " name '" + entry.name + "': a name is not empty and has no ':'");
  for (const Entry& e : list)
    if (e.name == entry.name)
      throw Error(kind + " '" + entry.name + "' is already registered by " + e.origin);
  list.push_back(std::move(entry));
}

template <class Entry>
std::vector<std::string> names_of(const std::vector<Entry>& list) {
  std::vector<std::string> names;
  for (const Entry& e : list) names.push_back(e.name);
  return names;
}

template <class Entry>
std::string description_of(const std::vector<Entry>& list, const std::string& name) {
  for (const Entry& e : list)
    if (e.name == name) return e.description;
  return {};
}

// "name" or "name:parameter": the entry's factory called with the parameter.
template <class Entry>
auto create_named(const std::vector<Entry>& list, const std::string& kind,
                  const std::string& text) {
  const std::size_t colon = text.find(':');
  const std::string name = text.substr(0, colon);
  const std::string parameter = colon == std::string::npos ? "" : text.substr(colon + 1);
  for (const Entry& e : list) {
    if (e.name != name) continue;
    if (colon != std::string::npos && parameter.empty())
      throw Error(kind + " \"" + text + "\": nothing follows the ':'");
    return e.factory(parameter);
  }
  std::string known;
  for (const Entry& e : list) known += (known.empty() ? "" : ", ") + e.name;
  throw Error("unknown " + kind + " \"" + text + "\" (available: " + known + ")");
}

}  // namespace

void Registry::add_calibrator(const std::string& name, const std::string& description,
                              CalibratorFactory factory) {
  add_named(calibrators_, "calibrator", {name, description, current_origin_, std::move(factory)});
}

std::vector<std::string> Registry::calibrator_names() const {
  return names_of(calibrators_);
}

std::string Registry::calibrator_description(const std::string& name) const {
  return description_of(calibrators_, name);
}

std::unique_ptr<Calibrator> Registry::create_calibrator(const std::string& text) const {
  return create_named(calibrators_, "calibrator", text);
}

void Registry::add_rounding(const std::string& name, const std::string& description,
                            RoundingFactory factory) {
  add_named(roundings_, "rounding", {name, description, current_origin_, std::move(factory)});
}

std::vector<std::string> Registry::rounding_names() const {
  return names_of(roundings_);
}

std::string Registry::rounding_description(const std::string& name) const {
  return description_of(roundings_, name);
}

std::unique_ptr<Rounding> Registry::create_rounding(const std::string& text) const {
  return create_named(roundings_, "rounding", text);
}

}  // namespace qs
