// quantscope-cli import: a QDQ model or a package back into a float model and a configuration.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "quantscope/atomic_file.h"
#include "quantscope/export.h"

namespace qs::cli {

int cmd_import(const std::vector<std::string>& argv) {
  Args args(argv, {{"config", "CONFIG.json", "where to write the recovered quantization"},
                   {"float-model", "FLOAT.onnx", "where to write the float model"},
                   common("json")});
  const std::string path = single_model_argument(args);
  if (!args.has("config")) throw UsageError{"missing --config CONFIG.json (where to write it)"};
  if (!args.has("float-model"))
    throw UsageError{"missing --float-model FLOAT.onnx (where to write it)"};
  const QdqImport r = import_qdq(path);
  const std::string bytes = write_onnx_model(r.graph);
  write_file_atomically(args.get("float-model"),
                        [&](const ByteSink& sink) { sink(bytes.data(), bytes.size()); });
  save_quantized_model(args.get("config"), r.quantized);
  if (args.flag("json")) {
    nlohmann::json j{{"source", path},
                     {"float_model", args.get("float-model")},
                     {"config", args.get("config")},
                     {"quantized_weights", r.quantized.weights.size()},
                     {"quantized_activations", r.quantized.activations.size()},
                     {"notes", r.notes}};
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("source       %s\nfloat model  %s (weights dequantized)\nconfig       %s\n",
              path.c_str(), args.get("float-model").c_str(), args.get("config").c_str());
  std::printf("recovered    %zu quantized weights, %zu quantized activations\n",
              r.quantized.weights.size(), r.quantized.activations.size());
  for (const std::string& n : r.notes) std::printf("note         %s\n", n.c_str());
  return 0;
}

}  // namespace qs::cli
