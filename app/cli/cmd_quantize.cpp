// quantscope-cli quantize: calibrate and round a model for a configuration; writes CONFIG.json.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "project_cache.h"
#include "quantscope/model.h"
#include "quantscope/quant.h"

namespace qs::cli {

namespace {

QuantConfig config_from_args(const Args& args) {
  QuantConfig c;
  LayerQuantSettings& d = c.defaults;
  if (args.has("weights")) {
    const std::string w = args.get("weights");
    d.weight_bits = w == "float" ? 0 : static_cast<int>(args.get_int("weights", 8, 0));
  }
  if (args.has("acts")) {
    const std::string a = args.get("acts");
    d.act_bits = a == "float" ? 0 : static_cast<int>(args.get_int("acts", 8, 0));
  }
  if (args.has("granularity")) parse_granularity(args.get("granularity"), d);
  if (args.flag("symmetric") && args.flag("asymmetric"))
    throw UsageError{"--symmetric and --asymmetric exclude each other"};
  if (args.flag("symmetric")) d.weight_symmetric = d.act_symmetric = true;
  if (args.flag("asymmetric")) d.weight_symmetric = d.act_symmetric = false;
  if (args.has("calib")) d.calibrator = args.get("calib");
  if (args.has("weight-range")) d.weight_range = args.get("weight-range");
  if (args.has("rounding")) d.rounding = args.get("rounding");
  d.bias_correction = args.flag("bias-correction");
  for (const std::string& o : args.all("override")) {
    const std::size_t eq = o.rfind('=');
    if (eq == std::string::npos || eq == 0)
      throw UsageError{"--override takes NODE=BITS (or NODE=float, NODE=w4a8): '" + o + "'"};
    c.overrides[o.substr(0, eq)] = parse_override(o.substr(eq + 1));
  }
  return c;
}

}  // namespace

int cmd_quantize(const std::vector<std::string>& argv) {
  Args args(argv, {common("data"),
                   common("limit"),
                   common("tokenizer"),
                   common("context"),
                   common("mean"),
                   common("std"),
                   common("device"),
                   common("batch"),
                   {"o", "CONFIG.json", "where to write the configuration (atomically)"},
                   {"weights", "BITS|float", "weight bits (default 8)"},
                   {"acts", "8|16|float", "activation bits (default 8)"},
                   common("granularity"),
                   common("symmetric"),
                   common("asymmetric"),
                   common("calib"),
                   {"weight-range", "minmax|mse", "how weight ranges are chosen"},
                   common("rounding"),
                   {"bias-correction", "",
                    "correct each layer's bias for the mean shift its quantization causes"},
                   {"override", "NODE=BITS|float|wBaA", "one node's widths (repeatable)"},
                   common("project"),
                   common("json")});
  const std::string path = single_model_argument(args);
  if (!args.has("data")) throw UsageError{"missing --data SPEC (the calibration set)"};
  if (!args.has("o")) throw UsageError{"missing -o CONFIG.json"};
  QuantizeRequest request;
  request.config = config_from_args(args);
  request.in = recipe_inputs(args, path);
  request.batch = args.get_int("batch", 64, 1);
  const Graph& g = *request.in.graph;
  ProjectCache cache(args, path);
  request.in.model_id = cache.model_id();
  const QuantizedModel q = cache.get(request, "quantize");
  save_quantized_model(args.get("o"), q);

  const std::int64_t fp32_bytes = model_size_bytes(g), q_bytes = model_size_bytes(g, &q);
  if (args.flag("json")) {
    nlohmann::json j{{"model", path},
                     {"config", args.get("o")},
                     {"calibration_samples", q.calibration_samples},
                     {"quantized_weights", q.weights.size()},
                     {"quantized_activations", q.activations.size()},
                     {"fp32_size_bytes", fp32_bytes},
                     {"size_bytes", q_bytes},
                     {"notes", q.notes}};
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf(
      "model        %s\ncalibration  %s\nweights      %zu layers quantized\n"
      "activations  %zu tensors quantized\nsize         %lld -> %lld bytes (%.1f %%)\n",
      path.c_str(), q.calibration_data.c_str(), q.weights.size(), q.activations.size(),
      static_cast<long long>(fp32_bytes), static_cast<long long>(q_bytes),
      100.0 * double(q_bytes) / double(fp32_bytes));
  for (const std::string& n : q.notes) std::printf("note         %s\n", n.c_str());
  std::printf("written      %s\n", args.get("o").c_str());
  return 0;
}

}  // namespace qs::cli
