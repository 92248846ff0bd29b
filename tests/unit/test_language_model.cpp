// Decoders: the layout recognised, the cache equal to recomputing, scoring and generation on
// the bundled decoder (resources/models/decoder), on cpu-ref and cpu-onednn.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <span>

#include "model_builder.h"
#include "onednn_test_util.h"
#include "quantscope/language_model.h"
#include "quantscope/model.h"
#include "quantscope/registry.h"
#include "quantscope/text_data.h"

namespace qs {
namespace {

using onednn_test::onednn;

const std::string kDecoder = QS_RESOURCES_MODELS_DIR "/decoder/decoder.onnx";
const std::string kClassifier = QS_RESOURCES_MODELS_DIR "/lenet.onnx";

const Graph& decoder() {
  static const Graph g = load_model(kDecoder);
  return g;
}

std::unique_ptr<Device> cpu_ref() {
  return make_default_registry().create_device("cpu-ref");
}

// A fixed stream of ids of the bundled vocabulary (what they say does not matter here).
TokenStream stream_of(std::int64_t n) {
  TokenStream s;
  for (std::int64_t i = 0; i < n; ++i) s.ids.push_back(i == 0 ? 1 : 3 + (i * 37 + 11) % 4000);
  s.bytes.assign(s.ids.size(), 2);
  s.bytes[0] = 0;
  return s;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  double worst = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i)
    worst = std::max(worst, double(std::abs(a.data<float>()[i] - b.data<float>()[i])));
  return worst;
}

TEST(DecoderLayout, TheBundledDecoderIsOptimumsLayout) {
  const DecoderLayout layout = require_decoder(decoder());
  EXPECT_EQ(layout.input_ids, "input_ids");
  EXPECT_EQ(layout.attention_mask, "attention_mask");
  EXPECT_EQ(layout.position_ids, "position_ids");
  EXPECT_EQ(layout.logits, "logits");
  EXPECT_EQ(layout.vocab, 4096);
  ASSERT_EQ(layout.cache.size(), 12u);
  EXPECT_EQ(layout.cache[0].past, "past_key_values.0.key");
  EXPECT_EQ(layout.cache[0].present, "present.0.key");
  EXPECT_EQ(layout.cache[0].shape, (Shape{0, 2, 0, 40}));
}

TEST(DecoderLayout, AClassifierIsNotOneAndSaysWhy) {
  EXPECT_FALSE(decoder_layout(load_model(kClassifier)).has_value());
  try {
    require_decoder(load_model(kClassifier));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a language model"), std::string::npos);
  }
}

// input_ids -> Gather from a table -> a rank-3 output called `output`.
Graph embedding_model(const std::string& output) {
  test::ModelBuilder m(14);
  m.input("input_ids", {-1, -1}, 7);
  m.initializer("embed", {16, 8}, std::vector<float>(128, 0.5f));
  m.node("Gather", {"embed", "input_ids"}, {output});
  m.output(output);
  auto* shape = m.proto()
                    .mutable_graph()
                    ->mutable_output(0)
                    ->mutable_type()
                    ->mutable_tensor_type()
                    ->mutable_shape();
  shape->add_dim()->set_dim_param("N");
  shape->add_dim()->set_dim_param("S");
  shape->add_dim()->set_dim_value(8);
  return m.load();
}

TEST(DecoderLayout, AnEncodersHiddenStatesAreNotLogits) {
  const Graph encoder = embedding_model("last_hidden_state");
  ASSERT_EQ(encoder.outputs[0].shape.size(), 3u);
  EXPECT_FALSE(decoder_layout(encoder).has_value());
  const auto layout = decoder_layout(embedding_model("logits"));
  ASSERT_TRUE(layout.has_value());  // a decoder without a cache
  EXPECT_TRUE(layout->cache.empty());
  EXPECT_EQ(layout->vocab, 8);
}

void expect_cache_equals_recomputing(Device& device, double tolerance) {
  DecoderSession session(decoder(), device);
  const TokenStream s = stream_of(12);
  const Tensor whole = session.feed(s.ids);
  ASSERT_EQ(whole.shape(), (Shape{12, 4096}));
  session.reset();
  // 5 tokens, then 1, then 6: each step's rows equal those of the whole run.
  std::size_t at = 0;
  for (std::size_t n : {5u, 1u, 6u}) {
    const Tensor part = session.feed(std::span(s.ids).subspan(at, n));
    ASSERT_EQ(part.dim(0), static_cast<std::int64_t>(n));
    for (std::size_t r = 0; r < n; ++r)
      for (std::int64_t v = 0; v < 4096; v += 97) {
        EXPECT_NEAR(part.data<float>()[r * 4096 + v], whole.data<float>()[(at + r) * 4096 + v],
                    tolerance);
      }
    at += n;
  }
  EXPECT_EQ(session.length(), 12);
  const Tensor last = session.feed(std::span(s.ids).subspan(0, 1), /*last_only=*/true);
  EXPECT_EQ(last.shape(), (Shape{1, 4096}));
}

TEST(DecoderSession, FeedingInStepsWithTheCacheEqualsFeedingAtOnce) {
  expect_cache_equals_recomputing(*cpu_ref(), 1e-4);
}

TEST(DecoderSession, FeedingInStepsWithTheCacheEqualsFeedingAtOnceOnOneDnn) {
  REQUIRE_ONEDNN(dev);
  expect_cache_equals_recomputing(*dev, 1e-4);
}

TEST(DecoderSession, TheCacheGrowsPastItsFirstCapacities) {
  // 5 + 40 + 30 tokens: the cache starts at 32 rows and doubles twice (64, 128) on the way.
  auto device = cpu_ref();
  DecoderSession session(decoder(), *device);
  const TokenStream s = stream_of(75);
  const Tensor whole = session.feed(s.ids);
  session.reset();
  std::size_t at = 0;
  double worst = 0;
  for (std::size_t n : {5u, 40u, 30u}) {
    const Tensor part = session.feed(std::span(s.ids).subspan(at, n));
    for (std::size_t r = 0; r < n; ++r)
      for (std::int64_t v = 0; v < 4096; v += 31)
        worst = std::max(worst, double(std::abs(part.data<float>()[r * 4096 + v] -
                                                whole.data<float>()[(at + r) * 4096 + v])));
    at += n;
  }
  EXPECT_LT(worst, 1e-4);
  EXPECT_EQ(session.length(), 75);
}

TEST(DecoderSession, OneDnnLogitsMatchTheReferenceKernels) {
  REQUIRE_ONEDNN(dev);
  const TokenStream s = stream_of(24);
  auto reference = cpu_ref();
  DecoderSession ref(decoder(), *reference), fast(decoder(), *dev);
  EXPECT_LT(max_abs_diff(ref.feed(s.ids), fast.feed(s.ids)), 2e-4);
}

TEST(TextEval, PerplexityIsTheExponentOfTheMeanNllOfTheScoredTokens) {
  auto device = cpu_ref();
  const TokenStream s = stream_of(40);
  TextEvalOptions options;
  options.context = 16;
  const TextEvalResult r = evaluate_text(decoder(), s, *device, options);
  EXPECT_EQ(r.windows, 3);  // [0,16) [16,32) [32,40)
  EXPECT_EQ(r.tokens, 15 + 15 + 7);
  EXPECT_EQ(r.bytes, 2 * r.tokens);  // every scored token stands for 2 bytes here
  // The same by hand from the session's logits.
  DecoderSession session(decoder(), *device);
  double nll = 0;
  for (std::int64_t begin : {0, 16, 32}) {
    session.reset();
    const std::int64_t end = std::min<std::int64_t>(begin + 16, 40);
    const Tensor logits = session.feed(std::span(s.ids).subspan(begin, end - begin));
    for (std::int64_t t = begin + 1; t < end; ++t) {
      const float* row = logits.data<float>() + (t - 1 - begin) * 4096;
      double z = 0;
      for (int v = 0; v < 4096; ++v) z += std::exp(double(row[v]));
      nll -= double(row[s.ids[t]]) - std::log(z);
    }
  }
  EXPECT_NEAR(r.nll, nll, 1e-6 * nll);
  EXPECT_NEAR(r.perplexity(), std::exp(nll / 37), 1e-6 * r.perplexity());
  EXPECT_NEAR(r.bits_per_byte(), nll / std::log(2.0) / 74, 1e-9);
}

TEST(TextEval, AModelAgainstItselfDiffersInNothing) {
  auto a = cpu_ref(), b = cpu_ref();
  TextEvalOptions options;
  options.context = 12;
  const TextPairResult r = evaluate_text_pair(decoder(), decoder(), stream_of(30), *a, *b, options);
  EXPECT_EQ(r.reference.tokens, r.candidate.tokens);
  EXPECT_DOUBLE_EQ(r.reference.nll, r.candidate.nll);
  EXPECT_DOUBLE_EQ(r.ppl_ratio(), 1.0);
  EXPECT_LT(r.kld.max, 1e-9);
  EXPECT_DOUBLE_EQ(r.delta_p.max, 0.0);
  EXPECT_DOUBLE_EQ(r.same_top, 100.0);
}

TEST(TextEval, ADifferentModelShowsInEveryStatistic) {
  // The candidate: the decoder with one RMSNorm scale halved.
  Graph other = decoder();
  bool changed = false;
  for (auto& [name, t] : other.initializers)
    if (t.dtype() == DType::f32 && t.rank() == 1 && t.dim(0) == 320 &&
        name.find("norm") != std::string::npos && !changed) {
      Tensor half = t.clone();
      for (float& x : std::span(half.data<float>(), 320)) x *= 0.5f;
      t = half;
      changed = true;
    }
  ASSERT_TRUE(changed);
  auto a = cpu_ref(), b = cpu_ref();
  TextEvalOptions options;
  options.context = 12;
  const TextPairResult r = evaluate_text_pair(decoder(), other, stream_of(30), *a, *b, options);
  EXPECT_GT(r.kld.mean, 1e-4);
  EXPECT_NEAR(r.ln_ppl_ratio, (r.candidate.nll - r.reference.nll) / r.reference.tokens, 1e-9);
  EXPECT_GT(r.delta_p.rms, 0.0);
  EXPECT_GE(r.delta_p.rms, std::abs(r.delta_p.mean));
}

TEST(Generate, GreedyTokensAreTheArgmaxOfRecomputingTheWholeText) {
  auto device = cpu_ref();
  DecoderSession session(decoder(), *device);
  const std::vector<std::int64_t> prompt{1, 400, 17, 300};
  GenerateOptions options;
  options.max_tokens = 10;
  std::vector<std::int64_t> seen;
  const GenerateResult r =
      generate(session, prompt, options, [&](std::int64_t t) { seen.push_back(t); });
  ASSERT_EQ(r.tokens.size(), 10u);
  EXPECT_EQ(seen, r.tokens);
  EXPECT_EQ(r.step_ms.size(), 9u);
  std::vector<std::int64_t> all = prompt;
  all.insert(all.end(), r.tokens.begin(), r.tokens.end());
  session.reset();
  const Tensor logits = session.feed(all);
  for (std::size_t i = 0; i < r.tokens.size(); ++i) {
    const float* row = logits.data<float>() + (prompt.size() - 1 + i) * 4096;
    EXPECT_EQ(std::max_element(row, row + 4096) - row, r.tokens[i]) << "token " << i;
  }
}

TEST(Generate, SamplingIsSeededAndTopOneIsGreedy) {
  auto device = cpu_ref();
  DecoderSession session(decoder(), *device);
  const std::vector<std::int64_t> prompt{1, 400, 17};
  GenerateOptions sample;
  sample.max_tokens = 6;
  sample.temperature = 1.0;
  sample.seed = 42;
  const auto a = generate(session, prompt, sample).tokens;
  EXPECT_EQ(generate(session, prompt, sample).tokens, a);
  sample.top_k = 1;
  GenerateOptions greedy;
  greedy.max_tokens = 6;
  EXPECT_EQ(generate(session, prompt, sample).tokens, generate(session, prompt, greedy).tokens);
  GenerateOptions stop = greedy;
  stop.stop_token = generate(session, prompt, greedy).tokens[2];
  EXPECT_LE(generate(session, prompt, stop).tokens.size(), 3u);
  EXPECT_THROW(generate(session, {}, greedy), Error);
}

TEST(TokenWindows, SamplesAreWindowsSideBySideTheShortLastOneDropped) {
  TokenStream s;
  for (std::int64_t i = 0; i < 10; ++i) s.ids.push_back(100 + i);
  s.description = "ten ids";
  auto data = token_window_dataset(s, 4);
  EXPECT_EQ(data->size(), 2);  // [0, 4) and [4, 8); 8 and 9 make no whole window
  EXPECT_EQ(data->sample_shape(), (Shape{4}));
  EXPECT_FALSE(data->has_labels());
  const Batch b = data->read(0, 2);
  ASSERT_EQ(b.inputs.shape(), (Shape{2, 4}));
  EXPECT_EQ(b.inputs.dtype(), DType::i64);
  EXPECT_EQ(b.inputs.data<std::int64_t>()[5], 105);
  EXPECT_THROW(data->read(1, 2), Error);
  EXPECT_EQ(token_window_dataset(s, 4, 1)->size(), 1);
  // A text shorter than the context is one window of all of it.
  auto short_one = token_window_dataset(s, 64);
  EXPECT_EQ(short_one->size(), 1);
  EXPECT_EQ(short_one->sample_shape(), (Shape{10}));
  EXPECT_THROW(token_window_dataset(TokenStream{}, 4), Error);
}

TEST(TokenWindows, ADecodersInputsForWindowsStartAtPositionZeroWithNothingCached) {
  const DecoderLayout layout = require_decoder(decoder());
  const Tensor ids = Tensor::from_vector<std::int64_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  const TensorMap in = decoder_inputs(layout, ids);
  EXPECT_EQ(in.at("attention_mask").to_i64(), std::vector<std::int64_t>(6, 1));
  EXPECT_EQ(in.at("position_ids").to_i64(), (std::vector<std::int64_t>{0, 1, 2, 0, 1, 2}));
  EXPECT_EQ(in.at("past_key_values.5.value").shape(), (Shape{2, 2, 0, 40}));
  EXPECT_EQ(in.size(), 3u + layout.cache.size());
  // The decoder runs on them: the logits of both windows' positions.
  auto device = cpu_ref();
  const TensorMap out = device->compile(decoder())->run(in);
  EXPECT_EQ(out.at("logits").shape(), (Shape{2, 3, 4096}));
  EXPECT_THROW(decoder_inputs(layout, Tensor::from_vector<float>({1, 2}, {1, 2})), Error);
}

}  // namespace
}  // namespace qs
