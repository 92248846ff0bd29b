#include "project_cache.h"

#include <cstdio>
#include <filesystem>

namespace qs::cli {

ProjectCache::ProjectCache(const Args& args, const std::string& model_path)
    : path_(args.get("project")) {
  if (path_.empty()) return;
  namespace fs = std::filesystem;
  const bool file = fs::is_regular_file(model_path);
  const std::string sha = file ? file_sha256(model_path) : std::string();
  // A package folder has no digest: its absolute path stands in for it (as in the workbench).
  model_ = file ? sha : "path:" + fs::absolute(model_path).lexically_normal().string();
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

void ProjectCache::said(const std::string& kind, const std::string& key) const {
  if (const CachedResult* hit = find_cached(project_, kind, key))
    std::fprintf(stderr, "%s: the result computed %s, from %s\n", kind.c_str(),
                 hit->created.c_str(), path_.c_str());
}

}  // namespace qs::cli
