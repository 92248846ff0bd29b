// The project file (quantscope/project.h).
#include "quantscope/project.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "export/sha256.h"
#include "json/read.h"
#include "quantscope/atomic_file.h"
#include "quantscope/error.h"

namespace qs {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr char kFormat[] = "quantscope-project";
constexpr std::uintmax_t kMaxProjectBytes = 1ull << 30;  // cached packages of big models fit

using json_read::member;
using json_read::string_of;

// A member holding a JSON object, kept as text.
std::string object_text(const json& v, const std::string& where) {
  if (!v.is_object()) throw Error(where + " must be a JSON object");
  return v.dump();
}

json object_of(const std::string& text, const std::string& what) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error(what + " is not a JSON object");
  return j;
}

bool is_hex_digest(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

std::string project_to_json(const Project& p, const std::string& project_dir) {
  std::string model = p.model_path;
  if (!model.empty() && !project_dir.empty()) {
    // Relative when the model lies in or below the project's folder, so the pair can move.
    const fs::path rel = fs::path(model).lexically_normal().lexically_relative(
        fs::path(project_dir).lexically_normal());
    if (!rel.empty() && *rel.begin() != "..") model = rel.generic_string();
  }
  json configs = json::object();
  for (const auto& [name, text] : p.configurations)
    configs[name] = object_of(text, "configuration '" + name + "'");
  json cache = json::array();
  for (const CachedResult& c : p.cache)
    cache.push_back({{"kind", c.kind},
                     {"key", c.key},
                     {"created", c.created},
                     {"result", object_of(c.json, "cached " + c.kind + " result")}});
  json j{
      {"format", kFormat},
      {"version", kProjectVersion},
      {"model", {{"path", model}, {"sha256", p.model_sha256}}},
      {"data", {{"calibration", p.calibration}, {"evaluation", p.evaluation}, {"limit", p.limit}}},
      {"device", p.device},
      {"settings", object_of(p.settings.empty() ? "{}" : p.settings, "the settings")},
      {"configurations", configs},
      {"cache", cache}};
  return j.dump(1);
}

Project project_from_json(const std::string& text, const std::string& where,
                          const std::string& project_dir) {
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) throw Error(where + ": not valid JSON");
  if (!j.is_object() || !j.contains("format") || j["format"] != kFormat)
    throw Error(where + ": not a Quantscope project (no \"format\": \"" + kFormat + "\")");
  const json& version = member(j, "version", where);
  if (!version.is_number_integer() || version.get<long long>() < 1)
    throw Error(where + ": \"version\" must be a positive integer");
  if (version.get<long long>() > kProjectVersion)
    throw Error(where + ": written by a newer Quantscope (project version " +
                std::to_string(version.get<long long>()) + "; this one reads up to " +
                std::to_string(kProjectVersion) + ")");
  Project p;
  const json& model = member(j, "model", where);
  if (!model.is_object()) throw Error(where + ": \"model\" must be an object");
  p.model_path = string_of(member(model, "path", where + ": model"), where + ": model.path");
  if (!p.model_path.empty() && fs::path(p.model_path).is_relative() && !project_dir.empty())
    p.model_path = (fs::path(project_dir) / p.model_path).lexically_normal().string();
  p.model_sha256 = string_of(member(model, "sha256", where + ": model"), where + ": model.sha256");
  if (!p.model_sha256.empty() && !is_hex_digest(p.model_sha256))
    throw Error(where + ": model.sha256 is not a SHA-256 digest");
  const json& data = member(j, "data", where);
  if (!data.is_object()) throw Error(where + ": \"data\" must be an object");
  p.calibration =
      string_of(member(data, "calibration", where + ": data"), where + ": data.calibration");
  p.evaluation =
      string_of(member(data, "evaluation", where + ": data"), where + ": data.evaluation");
  const json& limit = member(data, "limit", where + ": data");
  if (!limit.is_number_integer() || limit.get<long long>() < -1)
    throw Error(where + ": data.limit must be an integer >= -1");
  p.limit = limit.get<std::int64_t>();
  p.device = string_of(member(j, "device", where), where + ": device");
  p.settings = j.contains("settings") ? object_text(j["settings"], where + ": \"settings\"") : "{}";
  if (j.contains("configurations")) {
    const json& configs = j["configurations"];
    if (!configs.is_object()) throw Error(where + ": \"configurations\" must be an object");
    for (const auto& item : configs.items())
      p.configurations[item.key()] =
          object_text(item.value(), where + ": configuration '" + item.key() + "'");
  }
  if (j.contains("cache")) {
    const json& cache = j["cache"];
    if (!cache.is_array()) throw Error(where + ": \"cache\" must be a list");
    for (std::size_t i = 0; i < cache.size(); ++i) {
      const std::string at = where + ": cache[" + std::to_string(i) + "]";
      const json& e = cache[i];
      if (!e.is_object()) throw Error(at + " must be an object");
      CachedResult c;
      c.kind = string_of(member(e, "kind", at), at + ".kind");
      c.key = string_of(member(e, "key", at), at + ".key");
      if (!is_hex_digest(c.key)) throw Error(at + ".key is not a SHA-256 digest");
      c.created = e.contains("created") ? string_of(e["created"], at + ".created") : "";
      c.json = object_text(member(e, "result", at), at + ".result");
      p.cache.push_back(std::move(c));
    }
  }
  return p;
}

void save_project(const std::string& path, const Project& p) {
  const std::string dir = fs::absolute(fs::path(path)).parent_path().string();
  const std::string text = project_to_json(p, dir);
  write_file_atomically(path, [&](const ByteSink& sink) { sink(text.data(), text.size()); });
}

Project load_project(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) throw Error("cannot open the project " + path + ": " + ec.message());
  if (size > kMaxProjectBytes)
    throw Error(path + ": " + std::to_string(size) + " bytes is too large for a project file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open the project " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string dir = fs::absolute(fs::path(path)).parent_path().string();
  return project_from_json(ss.str(), path, dir);
}

std::string file_sha256(const std::string& path) {
  return exporter::sha256_file(path);
}

std::string result_key(const std::vector<std::string>& parts) {
  std::string joined;
  for (const std::string& part : parts) joined += std::to_string(part.size()) + ':' + part;
  return exporter::sha256_hex(joined);
}

const CachedResult* find_cached(const Project& p, const std::string& kind, const std::string& key) {
  for (auto it = p.cache.rbegin(); it != p.cache.rend(); ++it)
    if (it->kind == kind && it->key == key) return &*it;
  return nullptr;
}

void store_cached(Project& p, CachedResult entry, std::size_t keep_per_kind) {
  std::erase_if(p.cache,
                [&](const CachedResult& c) { return c.kind == entry.kind && c.key == entry.key; });
  if (entry.created.empty()) {
    const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm utc{};
    gmtime_r(&now, &utc);
    char buffer[32];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
    entry.created = buffer;
  }
  const std::string kind = entry.kind;
  p.cache.push_back(std::move(entry));
  std::size_t count = 0;
  for (const CachedResult& c : p.cache) count += c.kind == kind;
  for (auto it = p.cache.begin(); count > keep_per_kind && it != p.cache.end();) {
    if (it->kind == kind) {
      it = p.cache.erase(it);
      --count;
    } else {
      ++it;
    }
  }
}

ModelState model_state(const Project& p) {
  std::error_code ec;
  if (p.model_path.empty() || !fs::exists(p.model_path, ec)) return ModelState::missing;
  // A package folder has no single file to fingerprint; it is saved without a digest.
  if (p.model_sha256.empty() || !fs::is_regular_file(p.model_path, ec)) return ModelState::same;
  try {
    return file_sha256(p.model_path) == p.model_sha256 ? ModelState::same : ModelState::changed;
  } catch (const Error&) {
    return ModelState::missing;
  }
}

ModelState model_state(const Project& p, const std::string& sha256_now) {
  std::error_code ec;
  if (p.model_path.empty() || !fs::exists(p.model_path, ec)) return ModelState::missing;
  if (p.model_sha256.empty() || !fs::is_regular_file(p.model_path, ec)) return ModelState::same;
  if (sha256_now.empty()) return ModelState::missing;
  return sha256_now == p.model_sha256 ? ModelState::same : ModelState::changed;
}

}  // namespace qs
