// quantscope-cli errors: per layer, the error a configuration introduces and the one it
// accumulates.
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "project_cache.h"
#include "quantscope/analysis.h"
#include "quantscope/model.h"

namespace qs::cli {

int cmd_errors(const std::vector<std::string>& argv) {
  Args args(argv, {common("config"), common("data"), common("limit"), common("mean"), common("std"),
                   common("device"), common("batch"), common("project"), common("json")});
  const std::string path = single_model_argument(args);
  if (!args.has("data")) throw UsageError{"missing --data SPEC"};
  if (!args.has("config")) throw UsageError{"missing --config CONFIG.json"};
  ErrorsRequest request;
  request.in = recipe_inputs(args, path);
  open_device(args);  // an unknown or unusable device is an error before any work
  auto q = std::make_shared<QuantizedModel>();
  graph_for_config(*request.in.graph, args, q.get());  // checks that it fits the model
  request.quantized = q;
  request.batch = args.get_int("batch", 64, 1);
  ProjectCache cache(args, path);
  request.in.model_id = cache.model_id();
  const std::vector<LayerError> errors = cache.get(request, "errors").layers;
  auto db = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  if (args.flag("json")) {
    nlohmann::json j{{"model", path}, {"config", args.get("config")}, {"data", args.get("data")}};
    j["layers"] = nlohmann::json::array();
    for (const LayerError& e : errors)
      j["layers"].push_back({{"name", e.name},
                             {"op", e.op},
                             {"introduced_sqnr_db", db(e.introduced_sqnr_db)},
                             {"accumulated_sqnr_db", db(e.accumulated_sqnr_db)}});
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("model   %s\nconfig  %s\n\n%-40s %-8s %16s %17s\n", path.c_str(),
              args.get("config").c_str(), "layer", "op", "introduced (dB)", "accumulated (dB)");
  for (const LayerError& e : errors)
    std::printf("%-40s %-8s %16.2f %17.2f\n", e.name.c_str(), e.op.c_str(), e.introduced_sqnr_db,
                e.accumulated_sqnr_db);
  std::printf(
      "\nSQNR of each layer's output against the float model's: alone with float inputs\n"
      "(the error it introduces) and inside the quantized model (what it has accumulated).\n");
  return 0;
}

}  // namespace qs::cli
