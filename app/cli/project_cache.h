// `--project FILE` for the long commands (sensitivity, hessian, search, quantize, eval --config,
// errors, latency-table): their results are kept in a Quantscope project, the workbench's file,
// under the keys of their recipes (quantscope/recipes.h), so the workbench finds what the CLI
// computed, and back. Asked again with the same inputs, a command answers from the file at once.
// The project is created when missing (model and data from the command) and written atomically.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "args.h"
#include "cli_common.h"
#include "quantscope/project.h"
#include "quantscope/recipes.h"

namespace qs::cli {

class ProjectCache {
 public:
  ProjectCache(const Args& args, const std::string& model_path);
  bool enabled() const { return !path_.empty(); }
  // The model's identity for the recipes' keys (RecipeInputs::model_id); empty without --project.
  const std::string& model_id() const { return model_; }

  // The cached result of `request`, saying so on stderr; nothing without --project.
  template <class Request>
  std::optional<typename Request::Result> find(const Request& request) const {
    if (!enabled()) return std::nullopt;
    auto hit = find_result(project_, request);
    if (hit) said(Request::kind, request.cache_key());
    return hit;
  }
  // The cached result of `request`, or its run (progress on the terminal under `label`), kept.
  template <class Request>
  typename Request::Result get(const Request& request, const std::string& label) {
    if (auto hit = find(request)) return std::move(*hit);
    typename Request::Result result = request.run(terminal_progress(label));
    store(request, result);
    return result;
  }
  template <class Request>
  void store(const Request& request, const typename Request::Result& result) {
    if (!enabled()) return;
    store_result(project_, request, result);
    save_project(path_, project_);
  }

 private:
  void said(const std::string& kind, const std::string& key) const;
  std::string path_, model_;
  Project project_;
};

}  // namespace qs::cli
