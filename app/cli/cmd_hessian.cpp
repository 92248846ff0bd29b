// quantscope-cli hessian: per-layer Hessian traces (Hutchinson) and GPTQ's layer-wise trace.
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

int cmd_hessian(const std::vector<std::string>& argv) {
  Args args(argv,
            {common("data"),
             common("limit"),
             common("mean"),
             common("std"),
             common("batch"),
             common("threads"),
             {"probes", "N", "most Rademacher probes (default 200)"},
             {"min-probes", "N", "fewest probes before stopping (default 10)"},
             {"tol", "T",
              "stop when no layer's running mean moves by more than T, relative (default 0.001)"},
             {"step", "S", "the finite-difference step of Hv"},
             {"seed", "S", "the probes' random seed (default 1)"},
             {"no-layerwise", "", "skip tr(2XX^T/n), the layer-wise Hessian GPTQ uses"},
             common("project"),
             common("json")});
  const std::string path = single_model_argument(args);
  if (!args.has("data")) throw UsageError{"missing --data SPEC"};
  HessianOptions options;
  options.max_probes = static_cast<int>(args.get_int("probes", 200, 1));
  options.min_probes =
      static_cast<int>(args.get_int("min-probes", std::min(10, options.max_probes), 1));
  options.tol = args.get_double("tol", options.tol);
  options.step = args.get_double("step", options.step);
  options.batch = args.get_int("batch", 64, 1);
  options.seed = static_cast<std::uint64_t>(args.get_int("seed", 1, 0));
  options.threads = static_cast<int>(args.get_int("threads", 0, 0));
  options.layerwise = !args.flag("no-layerwise");

  HessianRequest request;
  request.in.graph = std::make_shared<const Graph>(load_model_for_data(path));
  const DataOptions data_options = data_options_for(*request.in.graph, args);
  request.in.calibration = args.get("data");
  request.in.preprocess = data_options.preprocess;
  request.in.limit = data_options.limit;
  request.options = options;
  // The traces do not depend on the thread count: the request's key leaves it out.
  ProjectCache cache(args, path);
  request.in.model_id = cache.model_id();
  HessianResult r = cache.get(request, "hessian");
  if (args.flag("json")) {
    nlohmann::json j = nlohmann::json::parse(hessian_to_json(r));
    j["model"] = path;
    j["data"] = args.get("data");
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("model    %s\ndata     %s (%lld samples)\nloss     %s\nprobes   %d (%s)\n",
              path.c_str(), args.get("data").c_str(), static_cast<long long>(r.samples),
              r.loss.c_str(), r.probes, r.converged ? "converged" : "the maximum; not converged");
  std::printf("method   %s\n\n", r.method.c_str());
  std::printf("%-36s %-6s %8s %12s %10s %12s %14s\n", "layer", "op", "params", "tr(H)", "+-",
              "tr(H)/n", "tr(2XX^T/n)");
  for (const LayerHessian& l : r.layers) {
    std::printf("%-36s %-6s %8lld %12.4g %10.2g %12.4g", l.name.c_str(), l.op.c_str(),
                static_cast<long long>(l.params), l.trace, l.std_error,
                l.trace / double(std::max<std::int64_t>(1, l.params)));
    l.layerwise_trace >= 0 ? std::printf(" %14.4g\n", l.layerwise_trace)
                           : std::printf(" %14s\n", "-");
  }
  for (const std::string& n : r.notes) std::printf("note: %s\n", n.c_str());
  return 0;
}

}  // namespace qs::cli
