// quantscope-cli sensitivity: each quantizable layer alone at each bit width, against float.
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "project_cache.h"
#include "quantscope/analysis.h"
#include "quantscope/model.h"
#include "quantscope/recipes.h"
#include "quantscope/results_json.h"

namespace qs::cli {

namespace {

// A decoder's sweep: per layer and width, the mean KL divergence of the next-token distributions
// from the float model's and how often both rank the same token first.
void print_language_model_sensitivity(const SensitivityResult& r, const std::vector<int>& bits) {
  std::printf(
      "\nmean KL divergence of the next-token distribution, nats (lower: less sensitive); same "
      "top token in %% below\n");
  std::printf("%-44s %8s", "layer", "params");
  for (int b : bits) std::printf(" %8d", b);
  std::printf("\n");
  for (const LayerSensitivity& l : r.layers) {
    std::printf("%-44s %8lld", l.name.c_str(), static_cast<long long>(l.params));
    for (int b : bits)
      l.bits.count(b) ? std::printf(" %8.5f", l.bits.at(b).kl) : std::printf(" %8s", "-");
    std::printf("\n%-44s %8s", "", "");
    for (int b : bits)
      l.bits.count(b) ? std::printf(" %7.2f%%", l.bits.at(b).agreement) : std::printf(" %8s", "-");
    std::printf("\n");
  }
  for (const std::string& n : r.notes) std::printf("note: %s\n", n.c_str());
}

}  // namespace

int cmd_sensitivity(const std::vector<std::string>& argv) {
  Args args(argv,
            {common("data"),
             common("eval-data"),
             common("limit"),
             common("tokenizer"),
             common("context"),
             common("mean"),
             common("std"),
             common("device"),
             common("batch"),
             {"bits", "LIST", "widths swept, comma-separated (default 2,3,4,5,6,8)"},
             {"what", "weights|acts|both", "what is quantized per layer (default weights)"},
             common("granularity"),
             common("rounding"),
             common("calib"),
             common("symmetric"),
             common("asymmetric"),
             {"shard", "i/n",
              "compute every n-th point only, from the i-th (a job array; 'merge' joins them)"},
             common("hessian"),
             common("project"),
             common("json")});
  const std::string path = single_model_argument(args);
  if (!args.has("data")) throw UsageError{"missing --data SPEC"};
  SensitivityOptions options;
  if (args.has("bits")) options.bits = parse_bit_list("bits", args.get("bits"));
  const std::string what = args.get("what", "weights");
  if (what == "weights")
    options.what = SensitivityTarget::weights;
  else if (what == "acts")
    options.what = SensitivityTarget::acts;
  else if (what == "both")
    options.what = SensitivityTarget::both;
  else
    throw UsageError{"--what takes weights, acts or both"};
  options.batch = args.get_int("batch", 64, 1);
  if (args.has("shard")) {
    const std::string shard = args.get("shard");
    const std::size_t slash = shard.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == shard.size() ||
        shard.find_first_not_of("0123456789/") != std::string::npos || slash > 6 ||
        shard.size() - slash > 7)
      throw UsageError{"--shard takes i/n (for example 0/4), got '" + shard + "'"};
    options.shard_index = std::stoi(shard.substr(0, slash));
    options.shard_count = std::stoi(shard.substr(slash + 1));
  }
  QuantConfig base;
  if (args.has("calib")) base.defaults.calibrator = args.get("calib");
  if (args.has("granularity")) parse_granularity(args.get("granularity"), base.defaults);
  if (args.has("rounding")) base.defaults.rounding = args.get("rounding");
  if (args.flag("symmetric")) base.defaults.weight_symmetric = base.defaults.act_symmetric = true;
  if (args.flag("asymmetric")) base.defaults.weight_symmetric = base.defaults.act_symmetric = false;

  SensitivityRequest request;
  if (args.has("hessian")) {
    if (options.what == SensitivityTarget::acts)
      throw UsageError{"--hessian gives the HAWQ estimate of weights; --what acts has none"};
    request.hessian = load_hessian(args.get("hessian"));
  }
  // Calibration and evaluation on the same data unless --eval-data is given.
  request.in = recipe_inputs(args, path);
  request.base = base;
  request.options = options;
  ProjectCache cache(args, path);
  request.in.model_id = cache.model_id();
  SensitivityResult r = cache.get(request, "sensitivity");
  if (args.flag("json")) {
    nlohmann::json j = nlohmann::json::parse(sensitivity_to_json(r));
    j["model"] = path;
    j["data"] = args.get("data");
    j["what"] = what;
    j["bits"] = options.bits;
    j["shard"] = std::to_string(options.shard_index) + "/" + std::to_string(options.shard_count);
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("model    %s\ndata     %s (%lld %s)\nswept    %s, one layer at a time\n",
              path.c_str(), args.get("data").c_str(), static_cast<long long>(r.samples),
              r.language_model ? "windows" : "samples", what.c_str());
  if (r.fp32_top1 >= 0) std::printf("fp32     top-1 %.2f %%\n", r.fp32_top1);
  if (r.language_model) {
    print_language_model_sensitivity(r, options.bits);
    return 0;
  }
  std::printf("\noutput SQNR in dB (higher: less sensitive)%s\n",
              r.classifier ? "; top-1 agreement in % below" : "");
  std::printf("%-36s %-8s %8s", "layer", "op", "params");
  for (int b : options.bits) std::printf(" %7d", b);
  std::printf("\n");
  for (const LayerSensitivity& l : r.layers) {
    std::printf("%-36s %-8s %8lld", l.name.c_str(), l.op.c_str(), static_cast<long long>(l.params));
    for (int b : options.bits)
      l.bits.count(b) ? std::printf(" %7.1f", l.bits.at(b).sqnr_db) : std::printf(" %7s", "-");
    std::printf("\n");
    if (request.hessian) {
      std::printf("%-36s %-8s %8s", "", "HAWQ", "");
      for (int b : options.bits)
        l.bits.count(b) && std::isfinite(l.bits.at(b).hawq)
            ? std::printf(" %7.2g", l.bits.at(b).hawq)
            : std::printf(" %7s", "-");
      std::printf("\n");
    }
    if (!r.classifier) continue;
    std::printf("%-36s %-8s %8s", "", "", "");
    for (int b : options.bits)
      l.bits.count(b) ? std::printf(" %6.1f%%", l.bits.at(b).agreement) : std::printf(" %7s", "-");
    std::printf("\n");
  }
  for (const std::string& n : r.notes) std::printf("note: %s\n", n.c_str());
  return 0;
}

}  // namespace qs::cli
