// Reading JSON documents the engine writes (configurations, projects): members that must be
// there and of one type, with errors that name where in the document the problem is.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "quantscope/error.h"

namespace qs::json_read {

using nlohmann::json;

// obj[key]; `where` names obj ("project", "overrides.conv1", ...).
inline const json& member(const json& obj, const char* key, const std::string& where) {
  if (!obj.is_object()) throw Error(where + " must be an object");
  auto it = obj.find(key);
  if (it == obj.end()) throw Error(where + ": missing \"" + key + "\"");
  return *it;
}

inline std::string string_of(const json& v, const std::string& where) {
  if (!v.is_string()) throw Error(where + " must be a string");
  return v.get<std::string>();
}

inline bool bool_of(const json& v, const std::string& where) {
  if (!v.is_boolean()) throw Error(where + " must be true or false");
  return v.get<bool>();
}

}  // namespace qs::json_read
