// The project file (*.qsproj): JSON with a format name and a version. It records the model (its
// path and SHA-256, so a model changed since the save is detected), the data sets, the device,
// the workbench's settings, named configurations, and cached results keyed by what they were
// computed from, so a repeated job is instant and a changed setting recomputes only what it
// touches. Written atomically; the reader checks every field and names what is wrong.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace qs {

constexpr int kProjectVersion = 1;

struct CachedResult {
  std::string kind;     // the job that computed it: "quantize", "analyze", "search", ...
  std::string key;      // result_key() of everything it was computed from
  std::string created;  // UTC, ISO 8601
  std::string json;     // the result: a JSON object, as text
};

struct Project {
  std::string model_path;  // absolute in memory; relative in the file when beside the project
  std::string model_sha256;
  std::string calibration, evaluation;  // data specs (quantscope/dataset.h)
  std::int64_t limit = -1;              // samples taken from each set; -1: all
  std::string device;
  std::string settings = "{}";                        // a JSON object: the pages' settings
  std::map<std::string, std::string> configurations;  // name -> a JSON object
  std::vector<CachedResult> cache;                    // oldest first
};

// `project_dir` anchors relative model paths (the folder of the .qsproj).
std::string project_to_json(const Project& p, const std::string& project_dir);
Project project_from_json(const std::string& text, const std::string& where,
                          const std::string& project_dir);
void save_project(const std::string& path, const Project& p);  // atomic
Project load_project(const std::string& path);                 // Error names the path

// Lower-case hex SHA-256 of a file's bytes; Error names the file when it cannot be read.
std::string file_sha256(const std::string& path);
// A key for the cache: SHA-256 of the parts, each length-prefixed (so ("ab","c") != ("a","bc")).
std::string result_key(const std::vector<std::string>& parts);

const CachedResult* find_cached(const Project& p, const std::string& kind, const std::string& key);
// Adds or replaces (same kind and key) an entry; keeps the newest `keep_per_kind` of its kind.
void store_cached(Project& p, CachedResult entry, std::size_t keep_per_kind = 4);

// Whether the project's model file is still the one it was saved with.
enum class ModelState { same, changed, missing };
ModelState model_state(const Project& p);
// The same from the digest of the file as it is now, when the caller has just computed it
// (file_sha256; empty when the file could not be read), so a large model is not read twice.
ModelState model_state(const Project& p, const std::string& sha256_now);

}  // namespace qs
