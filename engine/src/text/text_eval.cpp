// Scoring text with a decoder: perplexity and bits per byte over windows, and one model against
// another on the same windows with llama.cpp's per-token statistics.
#include <algorithm>
#include <chrono>
#include <cmath>

#include "quantscope/error.h"
#include "quantscope/language_model.h"

namespace qs {

namespace {

using Clock = std::chrono::steady_clock;

// log p(target) and the whole log-distribution of one row of logits, in double.
struct RowScore {
  double logp_target = 0;
  std::int64_t argmax = 0;
};

// log-softmax of `row` into `out` (double), with the target's log-probability and the argmax.
RowScore log_softmax(const float* row, std::int64_t vocab, std::int64_t target,
                     std::vector<double>* out) {
  RowScore s;
  float top = row[0];
  for (std::int64_t v = 1; v < vocab; ++v)
    if (row[v] > top) {
      top = row[v];
      s.argmax = v;
    }
  double sum = 0;
  for (std::int64_t v = 0; v < vocab; ++v) sum += std::exp(double(row[v]) - top);
  const double log_z = double(top) + std::log(sum);
  s.logp_target = double(row[target]) - log_z;
  if (out) {
    out->resize(static_cast<std::size_t>(vocab));
    for (std::int64_t v = 0; v < vocab; ++v) (*out)[v] = double(row[v]) - log_z;
  }
  return s;
}

void check_ids(const TokenStream& stream, std::int64_t vocab) {
  for (std::size_t i = 0; i < stream.ids.size(); ++i)
    if (stream.ids[i] < 0 || (vocab > 0 && stream.ids[i] >= vocab))
      throw Error("token id " + std::to_string(stream.ids[i]) + " at position " +
                  std::to_string(i) + " is outside the model's vocabulary of " +
                  std::to_string(vocab));
}

std::vector<TokenWindow> windows_for(const TokenStream& stream, TextEvalOptions& options) {
  if (options.stride == 0) options.stride = options.context;
  auto windows = token_windows(static_cast<std::int64_t>(stream.ids.size()), options.context,
                               options.stride, options.limit);
  if (windows.empty()) throw Error("the text has fewer than 2 tokens: nothing to score");
  return windows;
}

// The logits of one window's tokens, [end - begin, vocab].
Tensor window_logits(DecoderSession& session, const TokenStream& stream, const TokenWindow& w,
                     double* seconds) {
  session.reset();
  const auto start = Clock::now();
  Tensor logits = session.feed(
      std::span<const std::int64_t>(stream.ids)
          .subspan(static_cast<std::size_t>(w.begin), static_cast<std::size_t>(w.end - w.begin)));
  *seconds += std::chrono::duration<double>(Clock::now() - start).count();
  return logits;
}

void start_result(TextEvalResult& r, const Device& device, const TextEvalOptions& options) {
  r.device = device.name();
  r.context = options.context;
  r.stride = options.stride;
}

void add_token(TextEvalResult& r, const TokenStream& stream, std::int64_t position, double logp) {
  r.nll -= logp;
  ++r.tokens;
  if (!stream.bytes.empty()) r.bytes += stream.bytes[static_cast<std::size_t>(position)];
}

double quantile(const std::vector<double>& sorted, double q) {
  const double at = q * double(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(at));
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - double(lo));
}

}  // namespace

double TextEvalResult::perplexity() const {
  return tokens > 0 ? std::exp(nll / tokens) : 0.0;
}

double TextEvalResult::bits_per_byte() const {
  return bytes > 0 ? nll / std::log(2.0) / double(bytes) : 0.0;
}

double TextPairResult::ppl_ratio() const {
  return std::exp(ln_ppl_ratio);
}

TokenStatistics TokenStatistics::of(std::vector<double> values) {
  TokenStatistics s;
  if (values.empty()) return s;
  const double n = double(values.size());
  double sum = 0, squares = 0;
  for (double v : values) {
    sum += v;
    squares += v * v;
  }
  s.mean = sum / n;
  s.rms = std::sqrt(squares / n);
  const double variance = values.size() > 1 ? (squares - n * s.mean * s.mean) / (n - 1) : 0.0;
  s.stderr_of_mean = std::sqrt(std::max(variance, 0.0) / n);
  std::sort(values.begin(), values.end());
  s.min = values.front();
  s.max = values.back();
  s.p01 = quantile(values, 0.01);
  s.p05 = quantile(values, 0.05);
  s.p10 = quantile(values, 0.10);
  s.median = quantile(values, 0.5);
  s.p90 = quantile(values, 0.90);
  s.p95 = quantile(values, 0.95);
  s.p99 = quantile(values, 0.99);
  s.p999 = quantile(values, 0.999);
  return s;
}

TextEvalResult evaluate_text(const Graph& graph, const TokenStream& stream, Device& device,
                             const TextEvalOptions& options_in, const JobControl& job) {
  TextEvalOptions options = options_in;
  const auto windows = windows_for(stream, options);
  DecoderSession session(graph, device);
  check_ids(stream, session.layout().vocab);
  TextEvalResult r;
  start_result(r, device, options);
  for (std::size_t k = 0; k < windows.size(); ++k) {
    job.check();
    const TokenWindow& w = windows[k];
    const Tensor logits = window_logits(session, stream, w, &r.seconds);
    const std::int64_t vocab = logits.dim(1);
    if (k == 0) check_ids(stream, vocab);  // a vocabulary the file left dynamic
    for (std::int64_t t = w.scored; t < w.end; ++t) {
      const float* row = logits.data<float>() + (t - 1 - w.begin) * vocab;
      add_token(r, stream, t, log_softmax(row, vocab, stream.ids[t], nullptr).logp_target);
    }
    ++r.windows;
    job.report(double(k + 1) / double(windows.size()),
               "window " + std::to_string(k + 1) + " of " + std::to_string(windows.size()));
  }
  return r;
}

TextPairResult evaluate_text_pair(const Graph& reference, const Graph& candidate,
                                  const TokenStream& stream, Device& reference_device,
                                  Device& candidate_device, const TextEvalOptions& options_in,
                                  const JobControl& job) {
  TextEvalOptions options = options_in;
  const auto windows = windows_for(stream, options);
  DecoderSession ref_session(reference, reference_device);
  DecoderSession cand_session(candidate, candidate_device);
  if (ref_session.layout().vocab != cand_session.layout().vocab)
    throw Error("the two models' vocabularies differ (" +
                std::to_string(ref_session.layout().vocab) + " and " +
                std::to_string(cand_session.layout().vocab) + " tokens)");
  check_ids(stream, ref_session.layout().vocab);
  TextPairResult r;
  start_result(r.reference, reference_device, options);
  start_result(r.candidate, candidate_device, options);
  std::vector<double> kld, delta_p, ln_ratio;
  std::int64_t same_top = 0;
  std::vector<double> ref_logp, cand_logp;
  for (std::size_t k = 0; k < windows.size(); ++k) {
    job.check();
    const TokenWindow& w = windows[k];
    const Tensor a = window_logits(ref_session, stream, w, &r.reference.seconds);
    const Tensor b = window_logits(cand_session, stream, w, &r.candidate.seconds);
    const std::int64_t vocab = a.dim(1);
    if (b.dim(1) != vocab) throw Error("the two models' logits differ in size");
    if (k == 0) check_ids(stream, vocab);
    for (std::int64_t t = w.scored; t < w.end; ++t) {
      const std::int64_t row = t - 1 - w.begin, target = stream.ids[t];
      const RowScore sa = log_softmax(a.data<float>() + row * vocab, vocab, target, &ref_logp);
      const RowScore sb = log_softmax(b.data<float>() + row * vocab, vocab, target, &cand_logp);
      add_token(r.reference, stream, t, sa.logp_target);
      add_token(r.candidate, stream, t, sb.logp_target);
      double kl = 0;
      for (std::int64_t v = 0; v < vocab; ++v)
        if (const double p = std::exp(ref_logp[v]); p > 0)  // -inf logits: no term, not NaN
          kl += p * (ref_logp[v] - cand_logp[v]);
      kld.push_back(std::max(kl, 0.0));
      delta_p.push_back(100.0 * (std::exp(sb.logp_target) - std::exp(sa.logp_target)));
      ln_ratio.push_back(sa.logp_target - sb.logp_target);
      same_top += sa.argmax == sb.argmax;
    }
    ++r.reference.windows;
    ++r.candidate.windows;
    job.report(double(k + 1) / double(windows.size()),
               "window " + std::to_string(k + 1) + " of " + std::to_string(windows.size()));
  }
  const TokenStatistics ratio = TokenStatistics::of(ln_ratio);
  r.ln_ppl_ratio = ratio.mean;
  r.ln_ppl_ratio_stderr = ratio.stderr_of_mean;
  r.kld = TokenStatistics::of(std::move(kld));
  r.delta_p = TokenStatistics::of(std::move(delta_p));
  r.same_top = 100.0 * double(same_top) / double(std::max<std::int64_t>(r.reference.tokens, 1));
  return r;
}

}  // namespace qs
