// quantscope-cli eval on text: a language model's perplexity, and one model against another.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "quantscope/model.h"
#include "quantscope/text_data.h"
#include "text_common.h"

namespace qs::cli {

namespace {

nlohmann::json result_json(const TextEvalResult& r) {
  return {{"device", r.device},
          {"windows", r.windows},
          {"tokens", r.tokens},
          {"bytes", r.bytes},
          {"nll", r.nll},
          {"perplexity", r.perplexity()},
          {"bits_per_byte", r.bytes > 0 ? nlohmann::json(r.bits_per_byte()) : nullptr},
          {"seconds", r.seconds}};
}

nlohmann::json statistics_json(const TokenStatistics& s) {
  return {{"mean", s.mean}, {"stderr", s.stderr_of_mean},
          {"rms", s.rms},   {"min", s.min},
          {"p01", s.p01},   {"p05", s.p05},
          {"p10", s.p10},   {"median", s.median},
          {"p90", s.p90},   {"p95", s.p95},
          {"p99", s.p99},   {"p999", s.p999},
          {"max", s.max}};
}

void print_statistics(const char* label, const TokenStatistics& s, const char* unit) {
  std::printf(
      "%-14s mean %.5f ± %.5f, median %.5f, p90 %.5f, p95 %.5f, p99 %.5f, p99.9 %.5f, "
      "max %.5f %s\n",
      label, s.mean, s.stderr_of_mean, s.median, s.p90, s.p95, s.p99, s.p999, s.max, unit);
}

int eval_pair(const std::string& path, const Graph& graph, const Args& args,
              const TokenStream& stream, const TextEvalOptions& options) {
  const std::string against = args.has("against") ? args.get("against") : args.get("config");
  const Graph candidate =
      args.has("against") ? load_model(args.get("against")) : graph_for_config(graph, args);
  std::unique_ptr<Device> reference_device = open_device(args);
  std::unique_ptr<Device> candidate_device = open_device(args);
  use_integer_kernels_if_asked(*candidate_device, args);
  const TextPairResult r =
      evaluate_text_pair(graph, candidate, stream, *reference_device, *candidate_device, options,
                         terminal_progress("eval"));
  if (args.flag("json")) {
    nlohmann::json j{{"model", path},
                     {"candidate", against},
                     {"data", args.get("data")},
                     {"context", r.reference.context},
                     {"stride", r.reference.stride},
                     {"reference", result_json(r.reference)},
                     {"result", result_json(r.candidate)},
                     {"ppl_ratio", r.ppl_ratio()},
                     {"ln_ppl_ratio", r.ln_ppl_ratio},
                     {"ln_ppl_ratio_stderr", r.ln_ppl_ratio_stderr},
                     {"kld", statistics_json(r.kld)},
                     {"delta_p_percent", statistics_json(r.delta_p)},
                     {"same_top_percent", r.same_top}};
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("model          %s\ncandidate      %s\ndata           %s\ndevice         %s\n",
              path.c_str(), against.c_str(), stream.description.c_str(),
              r.candidate.device.c_str());
  std::printf(
      "windows        %lld of %lld tokens, stride %lld; %lld tokens scored\n",
      static_cast<long long>(r.reference.windows), static_cast<long long>(r.reference.context),
      static_cast<long long>(r.reference.stride), static_cast<long long>(r.reference.tokens));
  std::printf("               %12s %12s\n", "reference", "candidate");
  std::printf("perplexity     %12.4f %12.4f\n", r.reference.perplexity(), r.candidate.perplexity());
  if (r.reference.bytes > 0)
    std::printf("bits per byte  %12.4f %12.4f\n", r.reference.bits_per_byte(),
                r.candidate.bits_per_byte());
  std::printf("ln(PPL ratio)  %.5f ± %.5f (PPL ratio %.4f)\n", r.ln_ppl_ratio,
              r.ln_ppl_ratio_stderr, r.ppl_ratio());
  print_statistics("KL divergence", r.kld, "nats");
  print_statistics("delta p", r.delta_p, "%");
  std::printf("%-14s %.3f %%\n", "RMS delta p", r.delta_p.rms);
  std::printf("%-14s %.3f %% of tokens\n", "same top", r.same_top);
  return 0;
}

}  // namespace

std::unique_ptr<Tokenizer> tokenizer_for(const Args& args, const std::string& model_path,
                                         bool required) {
  if (args.has("tokenizer")) return open_tokenizer(args.get("tokenizer"));
  const std::string beside = tokenizer_beside(model_path);
  if (!beside.empty()) {
    std::fprintf(stderr, "note: tokenizer %s (beside the model; --tokenizer FILE for another)\n",
                 beside.c_str());
    return open_tokenizer(beside);
  }
  if (required)
    throw UsageError{
        "missing --tokenizer FILE (no tokenizer.model or tokenizer.json beside the model)"};
  return nullptr;
}

TextEvalOptions text_eval_options(const Args& args) {
  TextEvalOptions options;
  options.context = args.get_int("context", 256, 2);
  options.stride = args.get_int("stride", options.context, 1);
  options.limit = args.get_int("limit", -1, 1);
  return options;
}

int eval_text(const std::string& path, const Graph& graph, const Args& args) {
  if (!is_text_spec(args.get("data")))
    throw UsageError{
        "a language model reads text: --data text:FILE (with --tokenizer) or "
        "tokens:IDS.npy"};
  const std::unique_ptr<Tokenizer> tokenizer =
      tokenizer_for(args, path, args.get("data").rfind("text:", 0) == 0);
  const TokenStream stream = open_token_stream(args.get("data"), tokenizer.get());
  const TextEvalOptions options = text_eval_options(args);
  if (args.has("config") || args.has("against"))
    return eval_pair(path, graph, args, stream, options);
  std::unique_ptr<Device> device = open_device(args);
  const TextEvalResult r =
      evaluate_text(graph, stream, *device, options, terminal_progress("eval"));
  if (args.flag("json")) {
    nlohmann::json j = result_json(r);
    j["model"] = path;
    j["data"] = args.get("data");
    j["context"] = r.context;
    j["stride"] = r.stride;
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("model          %s\ndata           %s\ndevice         %s\n", path.c_str(),
              stream.description.c_str(), r.device.c_str());
  std::printf("windows        %lld of %lld tokens, stride %lld\n",
              static_cast<long long>(r.windows), static_cast<long long>(r.context),
              static_cast<long long>(r.stride));
  std::printf("tokens         %lld scored", static_cast<long long>(r.tokens));
  if (r.bytes > 0) std::printf(" (%lld bytes of text)", static_cast<long long>(r.bytes));
  std::printf("\nperplexity     %.4f\n", r.perplexity());
  if (r.bytes > 0) std::printf("bits per byte  %.4f\n", r.bits_per_byte());
  std::printf("seconds        %.3f (%.0f tokens/s)\n", r.seconds,
              r.seconds > 0 ? double(r.tokens) / r.seconds : 0.0);
  return 0;
}

}  // namespace qs::cli
