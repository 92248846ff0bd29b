// quantscope-cli merge: the shards of one sensitivity sweep (sensitivity --shard i/n --json)
// into the whole, as the unsharded sweep would have printed it.
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "quantscope/atomic_file.h"
#include "quantscope/results_json.h"

namespace qs::cli {

int cmd_merge(const std::vector<std::string>& argv) {
  Args args(argv, {{"o", "MERGED.json", "where to write the merged sweep (default: stdout)"}});
  if (args.positional().size() < 2) throw UsageError{"merge needs at least two shard files"};
  std::vector<SensitivityResult> parts;
  nlohmann::json first;
  for (const std::string& path : args.positional()) {
    std::ifstream in(path);
    if (!in) throw Error("cannot open '" + path + "'");
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw Error(path + ": not valid JSON: " + e.what());
    }
    if (first.is_null())
      first = j;
    else if (j.value("model", "") != first.value("model", "") ||
             j.value("data", "") != first.value("data", "") ||
             j.value("what", "") != first.value("what", ""))
      throw Error(path + ": a shard of another sweep (model, data or target differ)");
    parts.push_back(sensitivity_from_json(j.dump(), path));
  }
  const SensitivityResult merged = merge_sensitivity(parts);
  if (first.contains("bits") && first["bits"].is_array())
    for (const LayerSensitivity& l : merged.layers)
      for (const auto& b : first["bits"])
        if (b.is_number_integer() && !l.bits.count(b.get<int>()))
          throw Error("layer '" + l.name + "' at " + std::to_string(b.get<int>()) +
                      " bits is in no shard: a shard is missing");
  nlohmann::json out = nlohmann::json::parse(sensitivity_to_json(merged));
  for (const char* key : {"model", "data", "what", "bits"})
    if (first.contains(key)) out[key] = first[key];
  out["shard"] = "merged from " + std::to_string(parts.size());
  const std::string text = out.dump(2) + "\n";
  if (args.has("o")) {
    write_file_atomically(args.get("o"),
                          [&](const ByteSink& sink) { sink(text.data(), text.size()); });
  } else {
    std::fputs(text.c_str(), stdout);
  }
  return 0;
}

}  // namespace qs::cli
