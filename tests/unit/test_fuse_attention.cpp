// Attention fused from its spelled-out form (fuse_attention), the reference Attention kernel,
// and the decoder graphs a session runs: the head on the last position only, the cache appended
// to by the session. Each against the model as given, on the same inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "graph/passes.h"
#include "model_builder.h"
#include "quantscope/executor.h"
#include "quantscope/language_model.h"
#include "quantscope/model.h"
#include "quantscope/registry.h"
#include "text/decoder_graph.h"

namespace qs {
namespace {

const std::string kDecoder = QS_RESOURCES_MODELS_DIR "/decoder/decoder.onnx";

const Graph& decoder() {
  static const Graph g = load_model(kDecoder);
  return g;
}

Tensor random_tensor(const Shape& shape, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  Tensor t(DType::f32, shape);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  double worst = 0;
  for (std::int64_t i = 0; i < std::min(a.numel(), b.numel()); ++i)
    worst = std::max(worst, double(std::abs(a.data<float>()[i] - b.data<float>()[i])));
  return worst;
}

// The bundled decoder's inputs for 3 new tokens after a past of 7 rows, of which the last 2 are
// padding (masked out), as a session with a padded cache feeds them.
TensorMap decoder_inputs() {
  TensorMap in;
  in["input_ids"] = Tensor::from_vector<std::int64_t>({1, 3}, {17, 404, 3000});
  in["attention_mask"] = Tensor::from_vector<std::int64_t>({1, 10}, {1, 1, 1, 1, 1, 0, 0, 1, 1, 1});
  in["position_ids"] = Tensor::from_vector<std::int64_t>({1, 3}, {5, 6, 7});
  for (int layer = 0; layer < 6; ++layer)
    for (const char* kind : {"key", "value"})
      in["past_key_values." + std::to_string(layer) + "." + kind] =
          random_tensor({1, 2, 7, 40}, 100 + layer * 2 + (kind[0] == 'v'));
  return in;
}

int count_ops(const Graph& g, const std::string& op) {
  int n = 0;
  for (const Node& node : g.nodes) n += node.op_type == op;
  return n;
}

TEST(FuseAttention, EachLayerOfTheBundledDecoderBecomesOneAttention) {
  Graph g = decoder();
  ASSERT_EQ(fuse_attention(g), 6);
  EXPECT_EQ(count_ops(g, "Attention"), 6);
  // The repeats for the query heads, the cache's Concats and the scores' ops are gone.
  EXPECT_EQ(count_ops(g, "Softmax"), 0);
  EXPECT_EQ(count_ops(g, "Expand"), 0);
  for (const Node& n : g.nodes)
    if (n.op_type == "Concat") {
      for (const std::string& in : n.inputs) {
        EXPECT_NE(in.rfind("past_key_values.", 0), 0u) << n.name << " still copies the past";
      }
    }
  for (const Node& n : g.nodes)
    if (n.op_type == "Attention") {
      ASSERT_EQ(n.inputs.size(), 6u) << n.name;
      EXPECT_EQ(n.inputs[4].rfind("past_key_values.", 0), 0u) << n.name;
      ASSERT_EQ(n.outputs.size(), 3u);
      EXPECT_EQ(n.outputs[1].rfind("present.", 0), 0u) << n.name;
      EXPECT_FLOAT_EQ(n.attr_float("scale", 0), 1.0f / std::sqrt(40.0f));
    }
}

TEST(FuseAttention, TheFusedDecoderComputesWhatTheModelDoes) {
  Graph fused = decoder();
  ASSERT_GT(fuse_attention(fused), 0);
  const TensorMap in = decoder_inputs();
  TensorMap want = ReferenceExecutor(decoder()).run(in);
  TensorMap got = ReferenceExecutor(fused).run(in);
  for (const auto& [name, t] : want) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(got.count(name));
    EXPECT_LT(max_abs_diff(got.at(name), t), 5e-5);
  }
}

TEST(DecoderGraphs, TheAppendedCacheGivesThePresentsNewRows) {
  const DecoderLayout layout = require_decoder(decoder());
  auto appended = with_appended_cache(decoder(), layout);
  ASSERT_TRUE(appended.has_value());
  ASSERT_EQ(appended->rows.size(), layout.cache.size());
  const TensorMap in = decoder_inputs();
  TensorMap want = ReferenceExecutor(decoder()).run(in);
  TensorMap got = ReferenceExecutor(appended->graph).run(in);
  EXPECT_LT(max_abs_diff(got.at("logits"), want.at("logits")), 5e-5);
  for (std::size_t i = 0; i < layout.cache.size(); ++i) {
    SCOPED_TRACE(layout.cache[i].present);
    EXPECT_FALSE(got.count(layout.cache[i].present));
    const Tensor& rows = got.at(appended->rows[i]);
    const Tensor& present = want.at(layout.cache[i].present);
    ASSERT_EQ(rows.shape(), (Shape{1, 2, 3, 40}));
    ASSERT_EQ(present.shape(), (Shape{1, 2, 10, 40}));
    double worst = 0;
    for (std::int64_t h = 0; h < 2; ++h)
      for (std::int64_t r = 0; r < 3; ++r)
        for (std::int64_t e = 0; e < 40; ++e)
          worst =
              std::max(worst, double(std::abs(rows.data<float>()[(h * 3 + r) * 40 + e] -
                                              present.data<float>()[(h * 10 + 7 + r) * 40 + e])));
    EXPECT_LT(worst, 1e-5);
  }
}

TEST(DecoderGraphs, TheLastPositionsLogitsAreTheModelsLastRow) {
  const DecoderLayout layout = require_decoder(decoder());
  auto last = with_last_position_logits(decoder(), layout);
  ASSERT_TRUE(last.has_value());
  const TensorMap in = decoder_inputs();
  const Tensor want = ReferenceExecutor(decoder()).run(in).at("logits");
  const Tensor got = ReferenceExecutor(*last).run(in).at("logits");
  ASSERT_EQ(got.shape(), (Shape{1, 1, 4096}));
  double worst = 0;
  for (std::int64_t v = 0; v < 4096; ++v)
    worst =
        std::max(worst, double(std::abs(got.data<float>()[v] - want.data<float>()[2 * 4096 + v])));
  EXPECT_LT(worst, 5e-5);
}

// q [1, 4, S, 8] against k, v [1, 2, T, 8] repeated for the query heads as repeat_kv does,
// scaled by `scale_op` ("Div" or "Mul"), an additive mask, softmax over `axis`.
// `new_axis` 2 repeats each key head for its group (repeat_kv); 1 tiles the heads instead.
Graph spelled_attention(const std::string& scale_op, std::int64_t axis, std::int64_t new_axis = 2) {
  test::ModelBuilder m(14);
  m.input("q", {1, 4, 3, 8});
  m.input("k", {1, 2, 5, 8});
  m.input("v", {1, 2, 5, 8});
  m.input("mask", {1, 1, 3, 5});
  m.initializer_i64("axes2", {1}, {new_axis});
  m.initializer_i64("expanded", {5}, {1, 2, 2, 5, 8});
  m.initializer_i64("heads", {4}, {1, 4, 5, 8});
  m.initializer("c", {}, {scale_op == "Div" ? 2.0f : 0.25f});
  for (const char* x : {"k", "v"}) {
    const std::string s = x;
    m.node("Unsqueeze", {s, "axes2"}, {s + "_u"});
    m.node("Expand", {s + "_u", "expanded"}, {s + "_e"});
    m.node("Reshape", {s + "_e", "heads"}, {s + "_r"});
  }
  test::set_attr(m.node("Transpose", {"k_r"}, {"kt"}), "perm",
                 std::vector<std::int64_t>{0, 1, 3, 2});
  m.node("MatMul", {"q", "kt"}, {"s"}, "scores");
  m.node(scale_op, {"s", "c"}, {"ss"});
  m.node("Add", {"ss", "mask"}, {"sm"});
  test::set_attr(m.node("Softmax", {"sm"}, {"p"}), "axis", axis);
  m.node("MatMul", {"p", "v_r"}, {"y"}, "context");
  m.output("y");
  return m.load();
}

TEST(DecoderGraphs, OneDnnRunsTheAppendedCachesAttention) {
  auto device = make_default_registry().create_device("cpu-onednn");
  if (!device->status().usable) GTEST_SKIP() << "cpu-onednn is not usable here";
  auto appended = with_appended_cache(decoder(), require_decoder(decoder()));
  ASSERT_TRUE(appended.has_value());
  for (const Node& n : appended->graph.nodes)
    if (n.op_type == "Attention") {
      EXPECT_EQ(device->unsupported_reason(appended->graph, n), "") << n.name;
    }
}

TEST(FuseAttention, GroupedQueryHeadsScaledEitherWayAndMasked) {
  TensorMap in{{"q", random_tensor({1, 4, 3, 8}, 1)},
               {"k", random_tensor({1, 2, 5, 8}, 2)},
               {"v", random_tensor({1, 2, 5, 8}, 3)},
               {"mask", random_tensor({1, 1, 3, 5}, 4)}};
  for (const char* op : {"Div", "Mul"}) {
    SCOPED_TRACE(op);
    const Graph spelled = spelled_attention(op, -1);
    Graph fused = spelled;
    ASSERT_EQ(fuse_attention(fused), 1);
    ASSERT_EQ(fused.nodes.size(), 1u);
    EXPECT_EQ(fused.nodes[0].op_type, "Attention");
    EXPECT_EQ(fused.nodes[0].name, "scores");
    EXPECT_EQ(fused.nodes[0].inputs, (std::vector<std::string>{"q", "k", "v", "mask"}));
    EXPECT_LT(max_abs_diff(ReferenceExecutor(fused).run(in).at("y"),
                           ReferenceExecutor(spelled).run(in).at("y")),
              1e-5);
  }
}

// GPT-2's form: K and V of the query heads' own count, the causal mask a Where filling the
// scores with float's lowest, then an additive mask over the keys (padding).
TEST(FuseAttention, GPT2sCausalWhereAndPaddingMaskBecomeOneMask) {
  for (const bool padding : {false, true}) {
    SCOPED_TRACE(padding ? "with padding" : "causal only");
    test::ModelBuilder m(14);
    m.input("q", {1, 2, 4, 8});
    m.input("k", {1, 2, 4, 8});
    m.input("v", {1, 2, 4, 8});
    m.input("allowed", {1, 1, 4, 4}, 9);  // bool
    if (padding) m.input("mask", {1, 1, 1, 4});
    m.initializer("c", {}, {std::sqrt(8.0f)});
    m.initializer("lowest", {}, {std::numeric_limits<float>::lowest()});
    test::set_attr(m.node("Transpose", {"k"}, {"kt"}), "perm",
                   std::vector<std::int64_t>{0, 1, 3, 2});
    m.node("MatMul", {"q", "kt"}, {"s"}, "scores");
    m.node("Div", {"s", "c"}, {"ss"});
    m.node("Where", {"allowed", "ss", "lowest"}, {"sw"});
    std::string scores = "sw";
    if (padding) {
      m.node("Add", {"sw", "mask"}, {"sm"});
      scores = "sm";
    }
    test::set_attr(m.node("Softmax", {scores}, {"p"}), "axis", std::int64_t{-1});
    m.node("MatMul", {"p", "v"}, {"y"}, "context");
    m.output("y");
    const Graph spelled = m.load();
    Graph fused = spelled;
    ASSERT_EQ(fuse_attention(fused), 1);
    EXPECT_EQ(count_ops(fused, "Attention"), 1);
    EXPECT_EQ(count_ops(fused, "Softmax"), 0);
    // Causal (lower triangle allowed), the padding masks key 0 out with float's lowest.
    std::vector<bool> allowed(16);
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) allowed[i * 4 + j] = j <= i;
    Tensor allow(DType::boolean, {1, 1, 4, 4});
    for (int i = 0; i < 16; ++i) allow.data<bool>()[i] = allowed[i];
    TensorMap in{{"q", random_tensor({1, 2, 4, 8}, 5)},
                 {"k", random_tensor({1, 2, 4, 8}, 6)},
                 {"v", random_tensor({1, 2, 4, 8}, 7)},
                 {"allowed", allow}};
    if (padding)
      in["mask"] = Tensor::from_vector<float>(
          {1, 1, 1, 4}, {std::numeric_limits<float>::lowest(), 0.0f, 0.0f, 0.0f});
    // Row 0 of the padded case attends to nothing: NaN in both (softmax of all -inf); compared
    // from row 1 on there.
    const Tensor want = ReferenceExecutor(spelled).run(in).at("y");
    const Tensor got = ReferenceExecutor(fused).run(in).at("y");
    double worst = 0;
    for (std::int64_t h = 0; h < 2; ++h)
      for (std::int64_t i = padding ? 1 : 0; i < 4; ++i)
        for (std::int64_t e = 0; e < 8; ++e) {
          const std::int64_t at = (h * 4 + i) * 8 + e;
          worst = std::max(worst, double(std::abs(got.data<float>()[at] - want.data<float>()[at])));
        }
    EXPECT_LT(worst, 1e-5);
  }
}

TEST(FuseAttention, HeadsTiledRatherThanRepeatedStayAsTheyAre) {
  // Unsqueeze at axis 1: query head h reads key head h % 2, not h / 2 as Attention would.
  const Graph spelled = spelled_attention("Div", -1, 1);
  Graph fused = spelled;
  fuse_attention(fused);
  TensorMap in{{"q", random_tensor({1, 4, 3, 8}, 11)},
               {"k", random_tensor({1, 2, 5, 8}, 12)},
               {"v", random_tensor({1, 2, 5, 8}, 13)},
               {"mask", random_tensor({1, 1, 3, 5}, 14)}};
  EXPECT_LT(max_abs_diff(ReferenceExecutor(fused).run(in).at("y"),
                         ReferenceExecutor(spelled).run(in).at("y")),
            1e-5);
  for (const Node& n : fused.nodes)
    if (n.op_type == "Attention") {
      EXPECT_NE(n.inputs[1], "k") << "the tiled heads were taken for repeated ones";
    }
}

TEST(FuseAttention, ASoftmaxWithoutAxisBeforeOpset13IsNoAttention) {
  // Opset 12's Softmax defaults to axis 1 over the flattened rest: not the last axis alone.
  test::ModelBuilder m(12);
  m.input("q", {1, 2, 3, 8});
  m.input("k", {1, 2, 5, 8});
  m.input("v", {1, 2, 5, 8});
  test::set_attr(m.node("Transpose", {"k"}, {"kt"}), "perm", std::vector<std::int64_t>{0, 1, 3, 2});
  m.node("MatMul", {"q", "kt"}, {"s"});
  m.node("Softmax", {"s"}, {"p"});
  m.node("MatMul", {"p", "v"}, {"y"});
  m.output("y");
  Graph g = m.load();
  EXPECT_EQ(fuse_attention(g), 0);
}

TEST(FuseAttention, ASoftmaxOverAnotherAxisIsNoAttention) {
  Graph g = spelled_attention("Div", 2);
  EXPECT_EQ(fuse_attention(g), 0);
  EXPECT_EQ(count_ops(g, "Attention"), 0);
}

// Logits scaled after the head (as Gemma's softcap or Cohere's logit_scale do): no last-position
// head, while the attention still fuses; generation runs, greedy as the model's own.
TEST(DecoderGraphs, AHeadThatIsNotAMatMulStillGenerates) {
  Graph scaled = decoder();
  for (Node& n : scaled.nodes)
    for (std::string& out : n.outputs)
      if (out == "logits") out = "logits_unscaled";
  scaled.initializers["logit_scale"] = Tensor::from_vector<float>({}, {0.5f});
  scaled.nodes.push_back(
      Node{"scale_logits", "Mul", "", {"logits_unscaled", "logit_scale"}, {"logits"}, {}, {}, 0});
  infer_graph_shapes(scaled);
  const DecoderLayout layout = require_decoder(scaled);
  EXPECT_FALSE(with_last_position_logits(scaled, layout).has_value());
  EXPECT_TRUE(with_appended_cache(scaled, layout).has_value());
  auto device = make_default_registry().create_device("cpu-onednn");
  if (!device->status().usable) GTEST_SKIP() << "cpu-onednn is not usable here";
  DecoderSession session(scaled, *device), original(decoder(), *device);
  GenerateOptions greedy;
  greedy.max_tokens = 6;
  const std::vector<std::int64_t> prompt{1, 17, 404};
  EXPECT_EQ(generate(session, prompt, greedy).tokens, generate(original, prompt, greedy).tokens);
}

TEST(AttentionKernel, HeadsThatDoNotShareEvenlyAreAnErrorNamingThem) {
  test::ModelBuilder m(14);
  m.input("q", {1, 3, 2, 8});
  m.input("k", {1, 2, 2, 8});
  m.input("v", {1, 2, 2, 8});
  m.node("Attention", {"q", "k", "v"}, {"y"}, "attn");
  m.output("y");
  try {
    m.load();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("3 query heads do not share 2 key heads evenly"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace qs
