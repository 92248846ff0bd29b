// quantscope-cli bench: latency of a model on a device, with the statistics to trust it.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "quantscope/bench.h"
#include "quantscope/language_model.h"
#include "quantscope/model.h"
#include "quantscope/results_json.h"

namespace qs::cli {

namespace {

void print_layers(const std::vector<LayerLatency>& layers) {
  std::printf("\n%-44s %-22s %10s  %s\n", "layer", "op", "median ms", "kernel");
  for (const LayerLatency& l : layers)
    std::printf("%-44s %-22s %10.4f  %s\n", l.name.c_str(), l.op.c_str(), l.median_ms,
                l.kernel.c_str());
}

// Prefill and decode speed of a language model.
int bench_decoder(const std::string& path, const Args& args) {
  std::unique_ptr<Device> device = open_device(args);
  DecodeBenchOptions options;
  options.prompt_tokens = args.get_int("prompt-tokens", 128, 1);
  options.decode_tokens = args.get_int("decode", 64, 1);
  options.threads = static_cast<int>(args.get_int("threads", 0, 0));
  options.runs = static_cast<int>(args.get_int("runs", 3, 1));
  options.per_layer = args.flag("per-layer");
  const Graph g = graph_for_config(load_model(path), args);
  use_integer_kernels_if_asked(*device, args);
  const DecodeBenchResult r = benchmark_decoder(g, *device, options, terminal_progress("bench"));
  const std::string isa = r.environment.count("isa") ? r.environment.at("isa") : "unknown";
  auto stats = [](const LatencyStats& s) {
    return nlohmann::json::parse(latency_stats_to_json(s));
  };
  if (args.flag("json")) {
    nlohmann::json j{{"model", path},
                     {"device", r.device},
                     {"threads", r.threads},
                     {"prompt_tokens", r.prompt_tokens},
                     {"decode_tokens", r.decode_tokens},
                     {"prefill", stats(r.prefill)},
                     {"decode", stats(r.decode)},
                     {"prefill_tokens_per_s", r.prefill_tokens_per_s},
                     {"decode_tokens_per_s", r.decode_tokens_per_s},
                     {"isa", isa},
                     {"environment", r.environment}};
    if (options.per_layer) {
      j["prefill_layers"] = nlohmann::json::parse(layer_latencies_to_json(r.prefill_layers));
      j["decode_layers"] = nlohmann::json::parse(layer_latencies_to_json(r.decode_layers));
    }
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("model      %s\ndevice     %s (isa %s, %d threads)\n", path.c_str(), r.device.c_str(),
              isa.c_str(), r.threads);
  std::printf("prefill    %lld tokens: median %.2f ms (%.0f tokens/s), p90 %.2f, %lld runs\n",
              static_cast<long long>(r.prompt_tokens), r.prefill.median_ms, r.prefill_tokens_per_s,
              r.prefill.p90_ms, static_cast<long long>(r.prefill.runs));
  std::printf(
      "decode     %lld tokens after it: median %.3f ms per token (%.1f tokens/s), p90 %.3f, "
      "p99 %.3f\n",
      static_cast<long long>(r.decode_tokens), r.decode.median_ms, r.decode_tokens_per_s,
      r.decode.p90_ms, r.decode.p99_ms);
  if (options.per_layer) {
    std::printf("\nprefill of %lld tokens, per node:", static_cast<long long>(r.prompt_tokens));
    print_layers(r.prefill_layers);
    std::printf("\na decode step, per node (median over %lld steps):",
                static_cast<long long>(r.decode_tokens));
    print_layers(r.decode_layers);
  }
  return 0;
}

}  // namespace

int cmd_bench(const std::vector<std::string>& argv) {
  Args args(argv,
            {common("device"),
             common("batch"),
             common("threads"),
             {"warmup", "W", "warm-up runs, discarded (default 10)"},
             {"runs", "N", "timed runs, at least (default 50; a language model: generations, 3)"},
             {"min-seconds", "S", "seconds of timed runs, at least (default 1)"},
             common("config"),
             common("real"),
             {"per-layer", "",
              "also time each node, in separate profiled runs (a language model: the prefill's "
              "and the decode steps')"},
             {"prompt-tokens", "P",
              "a language model: time the prefill of a P-token prompt (default 128)..."},
             {"decode", "N", "...and N greedy decode steps after it (default 64)"},
             common("json")});
  const std::string path = single_model_argument(args);
  if (args.has("prompt-tokens") || args.has("decode")) return bench_decoder(path, args);
  std::unique_ptr<Device> device = open_device(args);
  BenchOptions options;
  options.batch = args.get_int("batch", 1, 1);
  options.threads = static_cast<int>(args.get_int("threads", 0, 0));
  options.warmup = static_cast<int>(args.get_int("warmup", 10, 0));
  options.runs = static_cast<int>(args.get_int("runs", 50, 1));
  options.min_seconds = args.has("min-seconds") ? args.get_floats("min-seconds").at(0) : 1.0;
  if (options.min_seconds < 0) throw UsageError{"--min-seconds must not be negative"};
  options.per_layer = args.flag("per-layer");

  const Graph g = graph_for_config(load_model_for_data(path), args);
  use_integer_kernels_if_asked(*device, args);
  BenchResult r = benchmark(g, *device, options, terminal_progress("bench"));
  const LatencyStats& s = r.end_to_end;
  if (args.flag("json")) {
    // The end-to-end statistics at the top level, beside what the run was.
    nlohmann::json j = nlohmann::json::parse(latency_stats_to_json(s));
    j.update({{"model", path},
              {"config",
               args.has("config") ? nlohmann::json(args.get("config")) : nlohmann::json(nullptr)},
              {"mode", args.flag("real")    ? "real"
                       : args.has("config") ? "simulated"
                                            : "fp32"},
              {"device", r.device},
              {"batch", r.batch},
              {"threads", r.threads},
              {"unstable", r.unstable},
              {"cold_ms", r.cold_ms},
              {"warmup", options.warmup},
              {"throughput_per_s", r.throughput_per_s},
              {"isa", r.environment.count("isa") ? r.environment.at("isa") : "unknown"},
              {"environment", r.environment}});
    if (r.device_time.runs > 0)
      j["device_time"] = {{"median_ms", r.device_time.median_ms},
                          {"p90_ms", r.device_time.p90_ms},
                          {"min_ms", r.device_time.min_ms},
                          {"runs", r.device_time.runs}};
    else
      j["device_time"] = nullptr;
    if (options.per_layer) j["layers"] = nlohmann::json::parse(layer_latencies_to_json(r.layers));
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  if (args.has("config"))
    std::printf("config     %s (%s)\n", args.get("config").c_str(),
                args.flag("real") ? "integer kernels" : "simulated");
  std::printf("model      %s\ndevice     %s (isa %s, %d threads)\nbatch      %lld\n", path.c_str(),
              r.device.c_str(), r.environment.count("isa") ? r.environment.at("isa").c_str() : "?",
              r.threads, static_cast<long long>(r.batch));
  std::printf("cold       %.3f ms (first run, includes preparation)\n", r.cold_ms);
  std::printf("median     %.3f ms   p90 %.3f   p99 %.3f   min %.3f   mean %.3f\n", s.median_ms,
              s.p90_ms, s.p99_ms, s.min_ms, s.mean_ms);
  std::printf("spread     cv %.1f %% over %lld runs after %d warm-up runs%s\n", 100 * s.cv,
              static_cast<long long>(s.runs), options.warmup,
              r.unstable ? "  UNSTABLE: cv above 5 %, the machine was busy; rerun" : "");
  std::printf("throughput %.0f samples/s\n", r.throughput_per_s);
  if (r.device_time.runs > 0)
    std::printf("on device  median %.3f ms   p90 %.3f   min %.3f (the device's timestamps)\n",
                r.device_time.median_ms, r.device_time.p90_ms, r.device_time.min_ms);
  if (options.per_layer) print_layers(r.layers);
  return 0;
}

}  // namespace qs::cli
