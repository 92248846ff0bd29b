// quantscope-cli generate: text from a language model, with its prefill and decode speed.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "quantscope/model.h"
#include "text_common.h"

namespace qs::cli {

int cmd_generate(const std::vector<std::string>& argv) {
  Args args(argv, {common("tokenizer"),
                   {"prompt", "TEXT", "the text to continue (led by the tokenizer's <s>)"},
                   {"n", "N", "tokens to generate, at most (default 64; </s> stops sooner)"},
                   {"temperature", "T", "sample from softmax(logits / T) (default 0: greedy)"},
                   {"top-k", "K", "sample from the K most likely tokens only (default: all)"},
                   {"seed", "S", "the sampler's seed (default 1)"},
                   common("device"),
                   common("threads"),
                   common("config"),
                   common("real"),
                   common("json")});
  const std::string path = single_model_argument(args);
  if (!args.has("prompt")) throw UsageError{"missing --prompt TEXT"};
  const std::unique_ptr<Tokenizer> tokenizer = tokenizer_for(args, path, true);
  GenerateOptions options;
  options.max_tokens = args.get_int("n", 64, 0);
  options.temperature = args.get_double("temperature", 0.0);
  if (options.temperature < 0) throw UsageError{"--temperature must not be negative"};
  options.top_k = args.get_int("top-k", 0, 0);
  options.seed = static_cast<std::uint64_t>(args.get_int("seed", 1, 0));
  options.stop_token = tokenizer->eos();

  std::unique_ptr<Device> device = open_device(args);
  const int threads = device->set_threads(static_cast<int>(args.get_int("threads", 0, 0)));
  const Graph graph = graph_for_config(load_model(path), args);
  use_integer_kernels_if_asked(*device, args);
  DecoderSession session(graph, *device);

  std::vector<std::int64_t> prompt;
  if (tokenizer->bos() >= 0) prompt.push_back(tokenizer->bos());
  const auto text_ids = tokenizer->encode(args.get("prompt"));
  prompt.insert(prompt.end(), text_ids.begin(), text_ids.end());

  // Printed as it comes: the text of everything so far minus what is already out (a piece's
  // leading space depends on what precedes it). While the text ends in U+FFFD, a character
  // made of byte tokens is incomplete: it waits for its last byte.
  std::vector<std::int64_t> so_far = text_ids;
  std::string printed = tokenizer->decode(so_far);
  const bool stream = !args.flag("json");
  if (stream) std::printf("%s", printed.c_str());
  auto on_token = [&](std::int64_t token) {
    if (token == options.stop_token) return;
    so_far.push_back(token);
    const std::string text = tokenizer->decode(so_far);
    const bool incomplete =
        text.size() >= 3 && text.compare(text.size() - 3, 3, "\xEF\xBF\xBD") == 0;
    if (!stream || incomplete || text.size() <= printed.size() ||
        text.compare(0, printed.size(), printed) != 0)
      return;
    std::printf("%s", text.c_str() + printed.size());
    std::fflush(stdout);
    printed = text;
  };
  const GenerateResult r = generate(session, prompt, options, on_token);
  const auto generated = static_cast<std::int64_t>(r.tokens.size());
  if (args.flag("json")) {
    std::vector<std::int64_t> text_tokens = r.tokens;
    if (!text_tokens.empty() && text_tokens.back() == options.stop_token) text_tokens.pop_back();
    nlohmann::json j{{"model", path},
                     {"device", device->name()},
                     {"threads", threads},
                     {"prompt", args.get("prompt")},
                     {"prompt_tokens", prompt},
                     {"tokens", r.tokens},
                     {"text", tokenizer->decode(text_tokens)},
                     {"prefill_seconds", r.prefill_seconds},
                     {"prefill_tokens_per_s", r.prefill_tokens_per_s(std::ssize(prompt))},
                     {"decode_tokens_per_s", r.decode_tokens_per_s()},
                     {"step_ms", r.step_ms}};
    std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  std::printf("\n\n%lld prompt tokens, %lld generated on %s (%d threads)\n",
              static_cast<long long>(prompt.size()), static_cast<long long>(generated),
              device->name().c_str(), threads);
  std::printf("prefill  %.1f tokens/s (%.1f ms)\n", r.prefill_tokens_per_s(std::ssize(prompt)),
              1000.0 * r.prefill_seconds);
  if (!r.step_ms.empty())
    std::printf("decode   %.1f tokens/s (%zu steps)\n", r.decode_tokens_per_s(), r.step_ms.size());
  return 0;
}

}  // namespace qs::cli
