// quantscope-cli eval: accuracy of a model on a dataset.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "quantscope/evaluate.h"
#include "quantscope/model.h"

namespace qs::cli {

int cmd_eval(const std::vector<std::string>& argv) {
  Args args(argv, {"data", "limit", "device", "batch", "mean", "std"}, {"json"});
  const std::string path = single_model_argument(args);
  if (!args.has("data")) throw UsageError{"missing --data SPEC"};
  std::unique_ptr<Device> device = open_device(args);
  EvalOptions options;
  options.batch = args.get_int("batch", 64, 1);
  const long long limit = args.get_int("limit", -1, 0);

  Graph g = load_model(path);
  DataOptions data_options;
  data_options.preprocess = preprocess_for(g, args);
  data_options.limit = limit;
  auto data = open_dataset(args.get("data"), data_options);
  EvalResult r = evaluate(g, *data, *device, options, terminal_progress("eval"));

  if (args.flag("json")) {
    nlohmann::json j{{"model", path},      {"data", args.get("data")}, {"samples", r.samples},
                     {"device", r.device}, {"seconds", r.seconds},     {"batch", options.batch}};
    j["top1"] = r.has_labels && !r.image_output ? nlohmann::json(r.top1) : nlohmann::json(nullptr);
    j["top5"] = r.has_labels && !r.image_output ? nlohmann::json(r.top5) : nlohmann::json(nullptr);
    if (r.image_output) j["psnr_db"] = r.psnr_db;
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("model    %s\ndata     %s\nsamples  %lld\ndevice   %s\n", path.c_str(),
              data->describe().c_str(), static_cast<long long>(r.samples), r.device.c_str());
  if (r.image_output)
    std::printf("psnr     %.2f dB (output vs input)\n", r.psnr_db);
  else if (r.has_labels)
    std::printf("top-1    %.2f %%\ntop-5    %.2f %%\n", r.top1, r.top5);
  else
    std::printf("accuracy n/a (the data has no labels)\n");
  std::printf("seconds  %.3f (%.0f samples/s)\n", r.seconds,
              r.seconds > 0 ? r.samples / r.seconds : 0.0);
  return 0;
}

}  // namespace qs::cli
