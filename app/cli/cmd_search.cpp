// quantscope-cli search: the Pareto front of predicted loss against size, BOPs or latency, with
// baselines, verified points and (with a budget) the chosen configuration.
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "project_cache.h"
#include "quantscope/model.h"
#include "quantscope/recipes.h"
#include "quantscope/results_json.h"
#include "quantscope/search.h"

namespace qs::cli {

namespace {

// "size", "bops" or "latency:DEVICE" (the device in `latency_device`).
SearchObjective parse_objective(const std::string& text, const std::string& option,
                                std::string& latency_device) {
  if (text == "size") return SearchObjective::size;
  if (text == "bops") return SearchObjective::bops;
  if (text.rfind("latency", 0) == 0) {
    if (text.size() < 9 || text[7] != ':')
      throw UsageError{option + " latency needs a device: latency:cpu-onednn"};
    if (!latency_device.empty() && latency_device != text.substr(8))
      throw UsageError{"both costs are latency on different devices"};
    latency_device = text.substr(8);
    return SearchObjective::latency;
  }
  throw UsageError{option + " takes size, bops or latency:DEVICE"};
}

const char* unit_of(SearchObjective o) {
  return o == SearchObjective::size ? "bytes" : o == SearchObjective::bops ? "BOPs" : "ms";
}

}  // namespace

int cmd_search(const std::vector<std::string>& argv) {
  Args args(
      argv,
      {common("data"),
       common("eval-data"),
       common("limit"),
       common("eval-limit"),
       common("mean"),
       common("std"),
       common("device"),
       common("batch"),
       {"objective", "size|bops|latency:DEVICE", "the cost traded against the loss (default size)"},
       {"budget", "X", "pick the best point whose cost is at most X"},
       {"o", "CONFIG.json", "write the picked point's configuration"},
       {"also", "size|bops|latency:DEVICE", "a second cost, held under --also-budget"},
       {"also-budget", "Y", "the bound on the second cost"},
       {"latency-table", "TABLE.json",
        "per-layer latencies from 'latency-table' (default: measured now on DEVICE)"},
       {"latency-batch", "B", "the batch the latency table is measured at (default 1)"},
       {"bits", "LIST", "weight widths to choose from, comma-separated (default 2,3,4,6,8)"},
       {"acts", "8|16|float", "activation bits (default 8)"},
       common("granularity"),
       common("rounding"),
       {"keep-ends", "", "keep the first and last layer at 8 bits"},
       {"pin", "NODE=BITS", "fix one layer's width (repeatable)"},
       {"verify", "K", "front points evaluated for real, with the baselines (default 6)"},
       {"estimate", "kl|hawq",
        "the per-layer loss: measured KL, or HAWQ-V2's estimate from Hessian traces"},
       common("hessian"),
       common("project"),
       common("json")});
  const std::string path = single_model_argument(args);
  if (!args.has("data")) throw UsageError{"missing --data SPEC"};
  SearchOptions options;
  const std::string objective = args.get("objective", "size");
  std::string latency_device;
  options.objective = parse_objective(objective, "--objective", latency_device);
  if (args.has("also")) {
    options.has_second = true;
    options.second = parse_objective(args.get("also"), "--also", latency_device);
    if (options.second == options.objective) throw UsageError{"--also names the same cost"};
    if (!args.has("also-budget")) throw UsageError{"--also needs --also-budget"};
    options.budget2 = args.get_double("also-budget", -1);
  } else if (args.has("also-budget")) {
    throw UsageError{"--also-budget needs --also"};
  }
  const std::string estimate = args.get("estimate", "kl");
  if (estimate == "hawq")
    options.estimate = SearchEstimate::hawq;
  else if (estimate != "kl")
    throw UsageError{"--estimate takes kl or hawq"};
  if (args.has("hessian") && options.estimate != SearchEstimate::hawq)
    throw UsageError{"--hessian needs --estimate hawq"};
  if (args.has("bits")) options.bits = parse_bit_list("bits", args.get("bits"));
  const std::string acts = args.get("acts", "8");
  options.act_bits = acts == "float" ? 0 : static_cast<int>(args.get_int("acts", 8, 0));
  options.keep_ends_at_8 = args.flag("keep-ends");
  options.verify = static_cast<int>(args.get_int("verify", 6, 0));
  options.batch = args.get_int("batch", 64, 1);
  options.budget = args.get_double("budget", options.budget);
  if (args.has("o") && !args.has("budget")) throw UsageError{"-o needs --budget"};
  for (const std::string& pin : args.all("pin")) {
    const std::size_t eq = pin.rfind('=');
    if (eq == std::string::npos) throw UsageError{"--pin takes NODE=BITS"};
    options.pinned[pin.substr(0, eq)] = std::stoi(pin.substr(eq + 1));
  }
  QuantConfig base;
  base.defaults.rounding = args.get("rounding", "rtn");
  if (args.has("granularity")) parse_granularity(args.get("granularity"), base.defaults);

  // --limit counts calibration samples, and evaluation ones too unless --eval-limit says otherwise.
  if (args.has("eval-limit") && !args.has("eval-data"))
    throw UsageError{"--eval-limit needs --eval-data"};
  if (args.has("latency-table") && latency_device.empty())
    throw UsageError{"--latency-table needs a latency objective (--objective or --also)"};
  SearchRequest request;
  request.in = recipe_inputs(args, path);
  request.base = base;
  ProjectCache cache(args, path);
  request.in.model_id = cache.model_id();
  const Graph& g = *request.in.graph;
  if (options.estimate == SearchEstimate::hawq) {
    if (args.has("hessian")) {
      request.hessian = load_hessian(args.get("hessian"));
    } else {  // the traces of the first 256 calibration samples, kept in the project too
      HessianRequest traces;
      traces.in = request.in;
      traces.in.limit = traces.in.limit > 0 ? std::min<std::int64_t>(256, traces.in.limit) : 256;
      request.hessian = cache.get(traces, "hessian");
    }
  }
  // Latency: the table (read, or built now on the device) and the device verified points run on.
  if (!latency_device.empty()) {
    std::unique_ptr<Device> timer = registry().create_device(latency_device);
    if (const DeviceStatus st = timer->status(); !st.usable)
      throw Error("device '" + latency_device + "' is not usable here: " + st.reason);
    if (args.has("latency-table")) {
      request.latency = load_latency_table(args.get("latency-table"));
      if (request.latency->device != timer->name())
        throw Error(args.get("latency-table") + " was measured on " + request.latency->device +
                    ", not " + latency_device);
    } else {
      // Kept per device in the project (with --project), and reused by later searches and by
      // latency-table and the workbench's Measure page with the same settings.
      LatencyTableRequest table;
      table.in = request.in;
      table.in.device = latency_device;
      table.base = base;
      table.bits = options.bits;
      table.act_bits = options.act_bits;
      table.calibration_device = request.in.device;
      table.options.batch = args.get_int("latency-batch", 1, 1);
      table.options.runs = 20;
      table.options.warmup = 5;
      table.options.min_seconds = 0.2;
      request.latency = cache.get(table, "latency-table");
    }
    request.latency_device = latency_device;
    options.latency_bench.batch = request.latency->batch;
    options.latency_bench.runs = 20;
    options.latency_bench.warmup = 5;
    options.latency_bench.min_seconds = 0.2;
  }
  request.options = options;
  const bool timed = !latency_device.empty();
  SearchResult r = cache.get(request, "search");
  if (r.best >= 0 && args.has("o")) {
    const SearchPoint& best = r.front[static_cast<std::size_t>(r.best)];
    CalibrationOptions calibration;
    calibration.registry = &registry();
    QuantizedModel q =
        quantize_model(g, config_for_bits(base, best.bits, options.act_bits),
                       *request.in.open_calibration(), *request.in.open_device(), calibration);
    save_quantized_model(args.get("o"), q);
  }
  if (args.flag("json")) {
    nlohmann::json j = nlohmann::json::parse(search_result_to_json(r));
    j["model"] = path;
    j["objective"] = objective;
    j["also"] = args.has("also") ? nlohmann::json(args.get("also")) : nlohmann::json(nullptr);
    if (r.best >= 0 && args.has("o")) j["written"] = args.get("o");
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  const char* unit = unit_of(options.objective);
  std::printf("model      %s\nobjective  %s", path.c_str(), objective.c_str());
  if (std::isfinite(r.fp32_cost)) std::printf(" (float model: %.4g %s)", r.fp32_cost, unit);
  if (options.has_second)
    std::printf("\nalso       %s under %.4g %s", args.get("also").c_str(), options.budget2,
                unit_of(options.second));
  std::printf("\nfront      %zu points\n", r.front.size());
  if (r.fp32_top1 >= 0) std::printf("fp32       top-1 %.2f %%\n", r.fp32_top1);
  const bool share = std::isfinite(r.fp32_cost), two = options.has_second;
  std::printf("\n%-18s %12s", "point", unit);
  if (share) std::printf(" %8s", "% fp32");
  if (two) std::printf(" %12s", unit_of(options.second));
  std::printf(" %10s %8s %8s %10s%s\n", "pred. KL", "top-1", "agree", "meas. KL",
              timed ? "   meas. ms" : "");
  auto row = [&](const SearchPoint& p) {
    std::printf("%-18s %12.4g", p.label.c_str(), p.cost);
    if (share) std::printf(" %8.1f", 100 * p.cost / r.fp32_cost);
    if (two) std::printf(" %12.4g", p.cost2);
    std::printf(" %10.5f", p.predicted_loss);
    if (p.measured.measured) {
      std::printf(" %8.2f %8.2f %10.5f", p.measured.top1, p.measured.agreement, p.measured.kl);
      if (timed) std::printf(" %10.4f", p.measured.latency_ms);
    }
    std::printf("\n");
  };

  for (const SearchPoint& p : r.front)
    if (p.measured.measured) row(p);
  for (const SearchPoint& p : r.baselines) row(p);
  bool header = false;  // each baseline beside the front's point verified at its cost
  for (const SearchPoint& b : r.baselines) {
    if (b.front_match < 0 || !b.measured.measured) continue;
    const SearchPoint& f = r.front[static_cast<std::size_t>(b.front_match)];
    if (!f.measured.measured) continue;
    if (!header)
      std::printf(
          "\nat each baseline's %s, the front's point (least predicted KL):\n%-18s %12s "
          "%12s %10s %10s %10s %10s\n",
          unit, "baseline", "its cost", "front cost", "its top-1", "front", "its KL", "front KL");
    header = true;
    std::printf("%-18s %12.4g %12.4g", b.label.c_str(), b.cost, f.cost);
    if (b.measured.top1 >= 0 && f.measured.top1 >= 0)
      std::printf(" %10.2f %10.2f", b.measured.top1, f.measured.top1);
    else
      std::printf(" %10s %10s", "-", "-");
    std::printf(" %10.5f %10.5f\n", b.measured.kl, f.measured.kl);
  }
  std::printf("\nfront computed in %.3f s (%zu points)\n", r.front_seconds, r.front.size());
  if (std::isfinite(r.rank_correlation))
    std::printf("\nrank correlation, predicted vs measured KL on the verified front: %.3f\n",
                r.rank_correlation);
  if (r.best >= 0) {
    std::printf("\nbest under the budget:");
    for (const auto& [layer, b] : r.front[static_cast<std::size_t>(r.best)].bits)
      std::printf(" %s=%d", layer.c_str(), b);
    std::printf("\n");
    if (args.has("o")) std::printf("written    %s\n", args.get("o").c_str());
  }
  for (const std::string& n : r.notes) std::printf("note: %s\n", n.c_str());
  return 0;
}

}  // namespace qs::cli
