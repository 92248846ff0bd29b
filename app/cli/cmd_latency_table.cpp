// quantscope-cli latency-table: each layer's measured time at each bit width on a device, for
// `search --objective latency`.
#include <cstdio>

#include "cli_common.h"
#include "project_cache.h"
#include "quantscope/model.h"
#include "quantscope/search.h"

namespace qs::cli {

int cmd_latency_table(const std::vector<std::string>& argv) {
  Args args(argv, {common("data"),
                   common("limit"),
                   common("mean"),
                   common("std"),
                   {"device", "NAME", "the device timed"},
                   {"calib-device", "NAME", "the device that calibrates (default cpu-ref)"},
                   {"bits", "LIST", "weight widths, comma-separated (default 2,3,4,6,8)"},
                   {"acts", "8|float", "activation bits (default 8)"},
                   common("granularity"),
                   common("batch"),
                   common("threads"),
                   {"runs", "N", "timed runs per width, at least (default 20)"},
                   {"warmup", "W", "warm-up runs, discarded (default 5)"},
                   {"min-seconds", "S", "seconds of timed runs per width, at least (default 0.2)"},
                   {"o", "TABLE.json", "where to write the table"},
                   common("project"),
                   common("json")});
  const std::string path = single_model_argument(args);
  if (!args.has("data")) throw UsageError{"missing --data SPEC (calibration samples)"};
  if (!args.has("o") && !args.flag("json")) throw UsageError{"missing -o TABLE.json (or --json)"};
  open_device(args);  // an unknown or unusable device is an error before any work
  LatencyTableRequest request;
  request.in = recipe_inputs(args, path);
  request.in.limit = args.get_int("limit", 256, 1);
  request.calibration_device = args.get("calib-device", "cpu-ref");
  request.bits = parse_bit_list("bits", args.get("bits", "2,3,4,6,8"));
  const std::string acts = args.get("acts", "8");
  request.act_bits = acts == "float" ? 0 : static_cast<int>(args.get_int("acts", 8, 0));
  BenchOptions& bench = request.options;
  bench.batch = args.get_int("batch", 1, 1);
  bench.threads = static_cast<int>(args.get_int("threads", 0, 0));
  bench.runs = static_cast<int>(args.get_int("runs", 20, 1));
  bench.warmup = static_cast<int>(args.get_int("warmup", 5, 0));
  bench.min_seconds = args.has("min-seconds") ? args.get_floats("min-seconds").at(0) : 0.2;
  if (args.has("granularity")) parse_granularity(args.get("granularity"), request.base.defaults);
  ProjectCache cache(args, path);
  request.in.model_id = cache.model_id();
  const LatencyTable t = cache.get(request, "latency-table");
  const std::vector<int>& bits = request.bits;
  if (args.has("o")) save_latency_table(args.get("o"), t);
  if (args.flag("json")) {
    std::printf("%s\n", latency_table_to_json(t).c_str());
    return 0;
  }
  std::printf("device     %s (batch %lld, %s)\n", t.device.c_str(), static_cast<long long>(t.batch),
              t.integer_kernels ? "integer kernels" : "simulated in float");
  std::printf("\n%-36s", "layer (ms)");
  for (int b : bits) std::printf(" %8d-bit", b);
  std::printf("\n");
  for (const auto& [layer, m] : t.layer_ms) {
    std::printf("%-36s", layer.c_str());
    for (int b : bits) std::printf(" %12.4f", m.at(b));
    std::printf("\n");
  }
  std::printf("%-36s", "(rest of the run)");
  for (int b : bits) std::printf(" %12.4f", t.rest_ms.at(b));
  std::printf("\n%-36s", "(whole run, end to end)");
  for (int b : bits) std::printf(" %12.4f", t.total_ms.at(b));
  std::printf("\nwritten    %s\n", args.get("o").c_str());
  return 0;
}

}  // namespace qs::cli
