// Decoder-only language models: recognising one, running it token by token with its cache,
// scoring text (perplexity, bits per byte), comparing two on the same text and generating.
//
// The layout is Hugging Face Optimum's: inputs input_ids [batch, sequence] int64, optionally
// attention_mask [batch, past + sequence] and position_ids [batch, sequence] int64, and
// past_key_values.{i}.key / .value [batch, kv_heads, past, head_dim]; outputs logits
// [batch, sequence, vocab] and present.{i}.key / .value (the past with this step appended).
// A decoder exported without a cache (input_ids -> logits) is run by feeding it the whole
// history at each step.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "quantscope/bench.h"
#include "quantscope/device.h"
#include "quantscope/graph.h"
#include "quantscope/job.h"
#include "quantscope/text_data.h"

namespace qs {

struct DecoderLayout {
  std::string input_ids, attention_mask, position_ids;  // the last two empty when absent
  std::string logits;
  struct CacheEntry {
    std::string past, present;  // past_key_values.{i}.key -> present.{i}.key
    Shape shape;                // of the past, with its batch and length set to 0
  };
  std::vector<CacheEntry> cache;  // empty for a decoder without a cache
  std::int64_t vocab = 0;         // logits' last dimension, 0 when the file leaves it dynamic
};

// The model's layout when it is a decoder: an int64 input named input_ids (or a sole int64
// input of rank 2), no inputs but attention_mask, position_ids and past_key_values.*, and a
// rank-3 output named logits (or the first output). Error when it looks like one but a part
// does not fit (a past without its present, a past of the wrong rank).
std::optional<DecoderLayout> decoder_layout(const Graph& graph);
// decoder_layout(graph), or Error saying why the model is not a decoder.
DecoderLayout require_decoder(const Graph& graph);

// A compiled decoder for one sequence (batch 1) and the tokens it has seen.
class DecoderSession {
 public:
  // The graph and the device must outlive the session (it compiles rewritten graphs as feeds
  // need them). Error when the graph is not a decoder or the device refuses it.
  DecoderSession(const Graph& graph, Device& device);
  ~DecoderSession();
  const DecoderLayout& layout() const;
  // Feeds `ids` after the tokens fed so far; returns their logits [ids.size(), vocab] (f32).
  // With `last_only`, only the last position's [1, vocab].
  Tensor feed(std::span<const std::int64_t> ids, bool last_only = false);
  // Forgets the tokens fed so far.
  void reset();
  std::int64_t length() const;
  // When on, each feed times every node (CompiledGraph::set_profiling); the last feed's times.
  void set_profiling(bool on);
  std::vector<NodeTiming> last_timings() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The inputs of a decoder reading rows of ids [batch, sequence] from position 0 with nothing
// cached: the mask all ones, positions 0..sequence-1, each past empty [batch, heads, 0, d].
// How calibration and analysis feed token windows. Error when ids are not int64 of rank 2.
TensorMap decoder_inputs(const DecoderLayout& layout, const Tensor& ids);

// ---- scoring text ----------------------------------------------------------------------------

struct TextEvalOptions {
  std::int64_t context = 256;  // tokens per window
  std::int64_t stride = 0;     // 0: the context (windows side by side)
  std::int64_t limit = -1;     // at most this many windows when >= 0
};

struct TextEvalResult {
  std::string device;
  std::int64_t context = 0, stride = 0;
  std::int64_t windows = 0;
  std::int64_t tokens = 0;  // scored (predicted) tokens
  std::int64_t bytes = 0;   // of text those tokens stand for; 0 when not known (tokens: data)
  double nll = 0;           // their summed negative log-likelihood, nats
  double seconds = 0;       // wall time of the forward passes
  double perplexity() const;
  double bits_per_byte() const;  // 0 when bytes is 0
};

// Per-token statistics as llama.cpp's perplexity tool prints them.
struct TokenStatistics {
  double mean = 0, stderr_of_mean = 0, rms = 0;
  double min = 0, p01 = 0, p05 = 0, p10 = 0, median = 0, p90 = 0, p95 = 0, p99 = 0, p999 = 0;
  double max = 0;
  static TokenStatistics of(std::vector<double> values);
};

// A candidate model (a quantized one, another export) against a reference on the same windows.
struct TextPairResult {
  TextEvalResult reference, candidate;
  double ln_ppl_ratio = 0;         // mean over tokens of nll_candidate - nll_reference
  double ln_ppl_ratio_stderr = 0;  // its standard error
  double ppl_ratio() const;
  TokenStatistics kld;      // KL(reference || candidate) of the next-token distributions, nats
  TokenStatistics delta_p;  // p_candidate - p_reference of the correct token, in percent
  double same_top = 0;      // percent of tokens where both rank the same token first
};

// Scores the stream's windows (token_windows) with the model. Error when the model is not a
// decoder or an id is outside its vocabulary, Cancelled when the job is.
TextEvalResult evaluate_text(const Graph& graph, const TokenStream& stream, Device& device,
                             const TextEvalOptions& options, const JobControl& job = {});

// Both models over the same windows, window by window. Error also when their vocabularies
// differ.
TextPairResult evaluate_text_pair(const Graph& reference, const Graph& candidate,
                                  const TokenStream& stream, Device& reference_device,
                                  Device& candidate_device, const TextEvalOptions& options,
                                  const JobControl& job = {});

// ---- generation ------------------------------------------------------------------------------

struct GenerateOptions {
  std::int64_t max_tokens = 64;
  double temperature = 0;  // 0: greedy (the most likely token)
  std::int64_t top_k = 0;  // sample from the k most likely (0: all); with temperature > 0
  std::uint64_t seed = 1;
  std::int64_t stop_token = -1;  // stop after generating it (the tokenizer's </s>); -1: never
};

struct GenerateResult {
  std::vector<std::int64_t> tokens;  // generated, without the prompt
  double prefill_seconds = 0;        // the prompt in one step, to its first token's logits
  std::vector<double> step_ms;       // each later token's step
  double prefill_tokens_per_s(std::int64_t prompt_tokens) const;
  double decode_tokens_per_s() const;
};

// Feeds the prompt in one step, then one token at a time; `on_token` sees each new token as it
// is chosen. Error when the prompt is empty, Cancelled when the job is.
GenerateResult generate(DecoderSession& session, const std::vector<std::int64_t>& prompt,
                        const GenerateOptions& options,
                        const std::function<void(std::int64_t)>& on_token = {},
                        const JobControl& job = {});

// ---- timing ----------------------------------------------------------------------------------

struct DecodeBenchOptions {
  std::int64_t prompt_tokens = 128;
  std::int64_t decode_tokens = 64;
  int threads = 0;         // 0: the device's default
  int runs = 3;            // timed generations, after one discarded
  std::uint64_t seed = 1;  // for the prompt's random ids
  bool per_layer = false;  // also time each node, in one more (profiled) generation
};

struct DecodeBenchResult {
  std::string device;
  int threads = 1;
  std::int64_t prompt_tokens = 0, decode_tokens = 0;
  LatencyStats prefill;             // the prompt in one step, per run
  LatencyStats decode;              // each decode step of every run
  double prefill_tokens_per_s = 0;  // at the median
  double decode_tokens_per_s = 0;   // at the median
  // With per_layer: each node's time in the prefill, and its median over the decode steps.
  std::vector<LayerLatency> prefill_layers, decode_layers;
  std::map<std::string, std::string> environment;
};

// Times prefill and greedy decode on a random prompt (ids drawn from the vocabulary).
DecodeBenchResult benchmark_decoder(const Graph& graph, Device& device,
                                    const DecodeBenchOptions& options, const JobControl& job = {});

}  // namespace qs
