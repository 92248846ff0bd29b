// Generating text with a decoder: the prompt in one step, then a token at a time.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

#include "quantscope/error.h"
#include "quantscope/language_model.h"

namespace qs {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The next token from one row of logits: the most likely (ties: the lowest id), or a sample of
// softmax(logits / temperature) over the top_k most likely.
std::int64_t choose(const Tensor& logits, const GenerateOptions& options, std::mt19937_64& rng) {
  const float* row = logits.data<float>();
  const std::int64_t vocab = logits.dim(1);
  if (options.temperature <= 0)
    return static_cast<std::int64_t>(std::max_element(row, row + vocab) - row);
  std::vector<std::int64_t> order(static_cast<std::size_t>(vocab));
  std::iota(order.begin(), order.end(), 0);
  std::int64_t k = options.top_k > 0 ? std::min(options.top_k, vocab) : vocab;
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](auto a, auto b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
  std::vector<double> weights(static_cast<std::size_t>(k));
  const double top = row[order[0]];
  for (std::int64_t i = 0; i < k; ++i)
    weights[i] = std::exp((double(row[order[i]]) - top) / options.temperature);
  std::discrete_distribution<std::int64_t> pick(weights.begin(), weights.end());
  return order[static_cast<std::size_t>(pick(rng))];
}

}  // namespace

double GenerateResult::prefill_tokens_per_s(std::int64_t prompt_tokens) const {
  return prefill_seconds > 0 ? double(prompt_tokens) / prefill_seconds : 0.0;
}

double GenerateResult::decode_tokens_per_s() const {
  const double ms = std::accumulate(step_ms.begin(), step_ms.end(), 0.0);
  return ms > 0 ? 1000.0 * double(step_ms.size()) / ms : 0.0;
}

GenerateResult generate(DecoderSession& session, const std::vector<std::int64_t>& prompt,
                        const GenerateOptions& options,
                        const std::function<void(std::int64_t)>& on_token, const JobControl& job) {
  if (prompt.empty()) throw Error("the prompt has no tokens");
  if (options.temperature < 0) throw Error("the temperature must not be negative");
  const std::int64_t vocab = session.layout().vocab;
  for (std::int64_t id : prompt)
    if (id < 0 || (vocab > 0 && id >= vocab))
      throw Error("prompt token " + std::to_string(id) + " is outside the model's vocabulary of " +
                  std::to_string(vocab) + " (is the tokenizer the model's?)");
  GenerateResult r;
  if (options.max_tokens <= 0) return r;
  std::mt19937_64 rng(options.seed);
  session.reset();
  auto start = Clock::now();
  Tensor logits = session.feed(prompt, /*last_only=*/true);
  r.prefill_seconds = seconds_since(start);
  for (std::int64_t i = 0; i < options.max_tokens; ++i) {
    job.check();
    const std::int64_t token = choose(logits, options, rng);
    r.tokens.push_back(token);
    if (on_token) on_token(token);
    job.report(double(i + 1) / double(options.max_tokens),
               std::to_string(i + 1) + " of " + std::to_string(options.max_tokens) + " tokens");
    if (token == options.stop_token || i + 1 == options.max_tokens) break;
    start = Clock::now();
    const std::int64_t next[] = {token};
    logits = session.feed(next, /*last_only=*/true);
    r.step_ms.push_back(1000.0 * seconds_since(start));
  }
  return r;
}

}  // namespace qs
