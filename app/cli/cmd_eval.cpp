// quantscope-cli eval: accuracy of a model on a dataset.
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "project_cache.h"
#include "quantscope/evaluate.h"
#include "quantscope/language_model.h"
#include "quantscope/model.h"
#include "quantscope/text_data.h"
#include "text_common.h"

namespace qs::cli {

namespace {

// The float model and its quantized form over the same data, side by side.
int eval_quantized(const std::string& path, const Graph& g, const Args& args, Dataset& data,
                   const EvalOptions& options) {
  auto q = std::make_shared<QuantizedModel>();
  graph_for_config(g, args, q.get());  // checks that the configuration fits the model
  CompareRequest request;
  request.in = recipe_inputs(args, path);
  request.quantized = q;
  request.integer_kernels = args.flag("real");
  request.batch = options.batch;
  ProjectCache cache(args, path);
  request.in.model_id = cache.model_id();
  PairEvalResult r = cache.get(request, "eval");
  const std::int64_t fp32_bytes = model_size_bytes(g), q_bytes = model_size_bytes(g, q.get());
  const char* mode = args.flag("real") ? "integer kernels" : "simulated";
  if (args.flag("json")) {
    nlohmann::json j{{"model", path},
                     {"config", args.get("config")},
                     {"mode", args.flag("real") ? "real" : "simulated"},
                     {"data", args.get("data")},
                     {"samples", r.candidate.samples},
                     {"device", r.candidate.device},
                     {"batch", options.batch},
                     {"seconds", r.candidate.seconds},
                     {"fp32_seconds", r.reference.seconds},
                     {"sqnr_db", r.sqnr_db},
                     {"size_bytes", q_bytes},
                     {"fp32_size_bytes", fp32_bytes}};
    const bool labels = r.candidate.has_labels && !r.candidate.image_output;
    j["fp32_top1"] = labels ? nlohmann::json(r.reference.top1) : nlohmann::json(nullptr);
    j["top1"] = labels ? nlohmann::json(r.candidate.top1) : nlohmann::json(nullptr);
    j["top5"] = labels ? nlohmann::json(r.candidate.top5) : nlohmann::json(nullptr);
    j["agreement"] = r.classifier ? nlohmann::json(r.agreement) : nlohmann::json(nullptr);
    j["kl"] = r.classifier ? nlohmann::json(r.kl) : nlohmann::json(nullptr);
    // The paired count behind the top-1 difference, and whether it is more than chance.
    j["right_only_fp32"] = labels ? nlohmann::json(r.only_reference) : nlohmann::json(nullptr);
    j["right_only_quantized"] = labels ? nlohmann::json(r.only_candidate) : nlohmann::json(nullptr);
    j["mcnemar_z"] = labels ? nlohmann::json(r.mcnemar_z()) : nlohmann::json(nullptr);
    if (r.candidate.image_output) {
      j["fp32_psnr_db"] = r.reference.psnr_db;
      j["psnr_db"] = r.candidate.psnr_db;
    }
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("model      %s\nconfig     %s (%s)\ndata       %s\nsamples    %lld\ndevice     %s\n",
              path.c_str(), args.get("config").c_str(), mode, data.describe().c_str(),
              static_cast<long long>(r.candidate.samples), r.candidate.device.c_str());
  std::printf("            %10s %10s\n", "fp32", "quantized");
  if (r.candidate.image_output)
    std::printf("psnr       %9.2f  %9.2f  dB\n", r.reference.psnr_db, r.candidate.psnr_db);
  else if (r.candidate.has_labels)
    std::printf("top-1      %9.2f  %9.2f  %%\ntop-5      %9.2f  %9.2f  %%\n", r.reference.top1,
                r.candidate.top1, r.reference.top5, r.candidate.top5);
  if (r.candidate.has_labels && !r.candidate.image_output) {
    const double z = r.mcnemar_z();
    std::printf("paired     %lld right only in fp32, %lld only quantized: z = %+.2f (%s)\n",
                static_cast<long long>(r.only_reference), static_cast<long long>(r.only_candidate),
                z, std::abs(z) < 1.96 ? "within chance on these samples" : "significant, 95 %");
  }
  std::printf("size       %9lld  %9lld  bytes\n", static_cast<long long>(fp32_bytes),
              static_cast<long long>(q_bytes));
  if (r.classifier)
    std::printf("agreement  %.2f %% of samples keep the float top-1\nkl         %.5f nats\n",
                r.agreement, r.kl);
  std::printf("sqnr       %.2f dB\n", r.sqnr_db);
  return 0;
}

}  // namespace

int cmd_eval(const std::vector<std::string>& argv) {
  Args args(argv, {common("data"),
                   common("limit"),
                   common("mean"),
                   common("std"),
                   common("device"),
                   common("batch"),
                   common("config"),
                   common("real"),
                   common("project"),
                   common("json"),
                   common("tokenizer"),
                   common("context"),
                   common("stride"),
                   {"against", "MODEL.onnx",
                    "a language model only: score this other model (another export, another tool's "
                    "quantization) on the same windows, with llama.cpp's per-token statistics"}});
  const std::string path = single_model_argument(args);
  if (!args.has("data")) throw UsageError{"missing --data SPEC"};
  Graph g = load_model_for_data(path);
  if (is_text_spec(args.get("data")) || decoder_layout(g)) return eval_text(path, g, args);
  if (args.has("against")) throw UsageError{"--against is for language models"};
  std::unique_ptr<Device> device = open_device(args);
  EvalOptions options;
  options.batch = args.get_int("batch", 64, 1);
  const long long limit = args.get_int("limit", -1, 0);
  DataOptions data_options;
  data_options.preprocess = preprocess_for(g, args);
  data_options.limit = limit;
  auto data = open_dataset(args.get("data"), data_options);
  if (args.has("config")) return eval_quantized(path, g, args, *data, options);
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
