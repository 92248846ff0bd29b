// Timing a decoder: prefill of a random prompt and greedy decode steps after it, as
// `bench --prompt-tokens P --decode N` reports them.
#include <algorithm>
#include <random>

#include "quantscope/bench.h"
#include "quantscope/error.h"
#include "quantscope/language_model.h"

namespace qs {

DecodeBenchResult benchmark_decoder(const Graph& graph, Device& device,
                                    const DecodeBenchOptions& options, const JobControl& job) {
  if (options.prompt_tokens < 1) throw Error("the prompt needs at least one token");
  if (options.decode_tokens < 1) throw Error("decode at least one token");
  DecodeBenchResult r;
  r.threads = device.set_threads(options.threads);
  r.device = device.name();
  r.prompt_tokens = options.prompt_tokens;
  r.decode_tokens = options.decode_tokens;
  DecoderSession session(graph, device);
  const std::int64_t vocab = session.layout().vocab > 0 ? session.layout().vocab : 2;
  std::mt19937_64 rng(options.seed);
  std::uniform_int_distribution<std::int64_t> id(0, vocab - 1);
  std::vector<std::int64_t> prompt(static_cast<std::size_t>(options.prompt_tokens));
  for (auto& t : prompt) t = id(rng);

  GenerateOptions greedy;
  greedy.max_tokens = options.decode_tokens + 1;  // the first comes from the prefill's logits
  std::vector<double> prefill_ms, step_ms;
  const int total = std::max(options.runs, 1) + 1;
  for (int run = 0; run < total; ++run) {
    job.check();
    const GenerateResult g = generate(session, prompt, greedy, {}, JobControl{{}, job.cancel});
    if (run == 0) continue;  // the cold run prepares kernels for each new shape
    prefill_ms.push_back(1000.0 * g.prefill_seconds);
    step_ms.insert(step_ms.end(), g.step_ms.begin(), g.step_ms.end());
    job.report(double(run) / double(total - 1), "run " + std::to_string(run));
  }
  r.prefill = latency_stats(prefill_ms);
  r.decode = latency_stats(step_ms);
  r.prefill_tokens_per_s =
      r.prefill.median_ms > 0 ? 1000.0 * double(options.prompt_tokens) / r.prefill.median_ms : 0;
  r.decode_tokens_per_s = r.decode.median_ms > 0 ? 1000.0 / r.decode.median_ms : 0;
  if (options.per_layer) {
    // Kept apart from the numbers above: profiling adds a clock read per node. The first token
    // comes from the prefill's logits, each later one from a decode step.
    session.set_profiling(true);
    LayerTimes prefill, decode;
    std::int64_t seen = 0;
    generate(
        session, prompt, greedy,
        [&](std::int64_t) { (seen++ == 0 ? prefill : decode).add(session.last_timings()); },
        JobControl{{}, job.cancel});
    session.set_profiling(false);
    r.prefill_layers = prefill.medians();
    r.decode_layers = decode.medians();
  }
  r.environment = device.environment();
  r.environment["cpu_model"] = cpu_model_name();
  return r;
}

}  // namespace qs
