// `--project FILE` for the long commands (sensitivity, hessian, search): their results are kept
// in a Quantscope project, the workbench's file, keyed by the command, the program's version,
// the model's SHA-256, every option given and the contents of the files options name. Asked
// again with the same inputs, the command answers from the file at once. The project is created
// when missing (model and data from the command) and written atomically.
#pragma once

#include <set>
#include <string>

#include "args.h"
#include "quantscope/project.h"

namespace qs::cli {

class ProjectCache {
 public:
  // `file_options`: options whose values are files read by the command (hashed into the key).
  // `ignored`: options that do not change the result (thread counts).
  ProjectCache(const Args& args, const std::string& kind, const std::string& model_path,
               const std::set<std::string>& file_options = {},
               const std::set<std::string>& ignored = {});
  bool enabled() const { return !path_.empty(); }
  // The cached result (a JSON object) or nullptr; says so on stderr when found.
  const std::string* find() const;
  void store(const std::string& result_json);
  // A part of a result, kept under its own kind and the model plus `parts` (a latency table:
  // the device, widths and batch), so other commands reuse it.
  const std::string* find(const std::string& kind, const std::vector<std::string>& parts) const;
  void store(const std::string& kind, const std::vector<std::string>& parts,
             const std::string& result_json);

 private:
  std::string partKey(const std::vector<std::string>& parts) const;
  std::string path_, kind_, key_, model_;
  Project project_;
};

}  // namespace qs::cli
