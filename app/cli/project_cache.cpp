#include "project_cache.h"

#include <cstdio>
#include <filesystem>

namespace qs::cli {

ProjectCache::ProjectCache(const Args& args, const std::string& kind, const std::string& model_path,
                           const std::set<std::string>& file_options,
                           const std::set<std::string>& ignored)
    : path_(args.get("project")), kind_(kind) {
  if (path_.empty()) return;
  namespace fs = std::filesystem;
  const bool file = fs::is_regular_file(model_path);
  const std::string sha = file ? file_sha256(model_path) : std::string();
  model_ = file ? sha : "path:" + model_path;
  std::vector<std::string> parts{"cli " + kind, QS_VERSION, model_};
  std::set<std::string> except = ignored;
  except.insert({"project", "json"});
  for (const std::string& option : args.canonical(except)) parts.push_back(option);
  for (const std::string& option : file_options)
    for (const std::string& value : args.all(option)) parts.push_back(file_sha256(value));
  key_ = result_key(parts);
  if (fs::exists(path_)) {
    project_ = load_project(path_);
  } else {
    project_.model_path = fs::absolute(model_path).lexically_normal().string();
    project_.model_sha256 = sha;
    project_.calibration = args.get("data");
    project_.evaluation = args.get("eval-data", args.get("data"));
    project_.limit = args.get_int("limit", -1, 1);
    project_.device = args.get("device", "cpu-ref");
  }
}

const std::string* ProjectCache::find() const {
  if (!enabled()) return nullptr;
  const CachedResult* hit = find_cached(project_, "cli " + kind_, key_);
  if (!hit) return nullptr;
  std::fprintf(stderr, "%s: the result computed %s, from %s\n", kind_.c_str(), hit->created.c_str(),
               path_.c_str());
  return &hit->json;
}

void ProjectCache::store(const std::string& result_json) {
  if (!enabled()) return;
  store_cached(project_, {"cli " + kind_, key_, {}, result_json});
  save_project(path_, project_);
}

std::string ProjectCache::partKey(const std::vector<std::string>& parts) const {
  std::vector<std::string> all{QS_VERSION, model_};
  all.insert(all.end(), parts.begin(), parts.end());
  return result_key(all);
}

const std::string* ProjectCache::find(const std::string& kind,
                                      const std::vector<std::string>& parts) const {
  if (!enabled()) return nullptr;
  const CachedResult* hit = find_cached(project_, kind, partKey(parts));
  if (!hit) return nullptr;
  std::fprintf(stderr, "%s: measured %s, from %s\n", kind.c_str(), hit->created.c_str(),
               path_.c_str());
  return &hit->json;
}

void ProjectCache::store(const std::string& kind, const std::vector<std::string>& parts,
                         const std::string& result_json) {
  if (!enabled()) return;
  store_cached(project_, {kind, partKey(parts), {}, result_json});
  save_project(path_, project_);
}

}  // namespace qs::cli
