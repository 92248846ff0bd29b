// Attention on cpu-onednn: the Transposes that split heads and turn K into K^T are read by the
// MatMuls under permuted strides where oneDNN has a fast kernel for that, and copied row-major
// otherwise; the results equal the reference's either way.
#include "onednn_test_util.h"

using namespace onednn_test;

namespace {

// One decoder step against a cache: q [N, H, S, D], keys and values cached as [N, T, H, D]
// (the layout a [N, T, H*D] projection reshapes to); scores = q K^T / sqrt(D) -> Softmax -> V.
Graph cached_attention(std::int64_t queries, bool keys_also_an_output) {
  const std::int64_t heads = 4, dim = 8, cached = 24;
  ModelBuilder m(13);
  m.input("q", {-1, heads, queries, dim});
  m.input("k", {-1, cached, heads, dim});
  m.input("v", {-1, cached, heads, dim});
  m.initializer("scale", {}, {1.0f / std::sqrt(static_cast<float>(dim))});
  set_attr(m.node("Transpose", {"k"}, {"kt"}, "k_transposed"), "perm",
           std::vector<std::int64_t>{0, 2, 3, 1});
  set_attr(m.node("Transpose", {"v"}, {"vh"}, "v_heads"), "perm",
           std::vector<std::int64_t>{0, 2, 1, 3});
  m.node("MatMul", {"q", "kt"}, {"s"}, "scores");
  m.node("Mul", {"s", "scale"}, {"ss"}, "scaled");
  set_attr(m.node("Softmax", {"ss"}, {"p"}, "softmax"), "axis", std::int64_t{-1});
  m.node("MatMul", {"p", "vh"}, {"y"}, "context");
  m.output("y");
  if (keys_also_an_output) m.output("kt");
  return m.load();
}

}  // namespace

TEST(OnednnAttention, TransposedKeysAndValuesFeedTheMatMuls) {
  REQUIRE_ONEDNN(dev);
  // One query (a decoder step: permuted operands read in place) and 32 (copied row-major
  // where oneDNN's kernel for them is slower than the copy).
  for (const std::int64_t queries : {std::int64_t{1}, std::int64_t{32}})
    for (const bool keys_output : {false, true}) {
      SCOPED_TRACE(std::to_string(queries) + " queries" + (keys_output ? ", K^T an output" : ""));
      check(*dev, cached_attention(queries, keys_output), {"Transpose", "MatMul", "Softmax"},
            {1, 3});
    }
}

// ViT's layout, tokens first: k [T, H, D] -> K^T [H, D, T] puts the batch (heads) between the
// other two dimensions, which oneDNN's brgemm does not take; with one query its gemm:jit kernel
// reads the operand in place, with many the keys are copied first.
TEST(OnednnAttention, HeadsBetweenTokensAndFeatures) {
  REQUIRE_ONEDNN(dev);
  for (const std::int64_t queries : {std::int64_t{1}, std::int64_t{20}}) {
    SCOPED_TRACE(std::to_string(queries) + " queries");
    ModelBuilder m(13);
    m.input("q", {3, queries, 8});
    m.input("k", {-1, 3, 8});
    set_attr(m.node("Transpose", {"k"}, {"kt"}), "perm", std::vector<std::int64_t>{1, 2, 0});
    m.node("MatMul", {"q", "kt"}, {"y"});
    m.output("y");
    check(*dev, m.load(), {"Transpose", "MatMul"}, {1, 40});
  }
}

// The fused Attention (fuse_attention's node) against the reference kernel: grouped query heads,
// a past of 0 or 5 rows read in place, one query or several, no mask, one for all heads or one
// per head, the present made or not.
TEST(OnednnAttention, FusedAttentionEqualsTheReference) {
  REQUIRE_ONEDNN(dev);
  const std::int64_t q_heads = 4, kv_heads = 2, d = 8, dv = 6;
  for (const std::int64_t past : {std::int64_t{0}, std::int64_t{5}})
    for (const std::int64_t s : {std::int64_t{1}, std::int64_t{3}})
      for (const int mask : {0, 1, 2})
        for (const bool present : {false, true}) {
          SCOPED_TRACE("past " + std::to_string(past) + ", " + std::to_string(s) +
                       " queries, mask " + std::to_string(mask) + (present ? ", present" : ""));
          ModelBuilder m(14);
          m.input("q", {1, q_heads, s, d});
          m.input("k", {1, kv_heads, s, d});
          m.input("v", {1, kv_heads, s, dv});
          if (mask > 0) m.input("mask", {1, mask == 1 ? 1 : q_heads, s, past + s});
          m.input("past_k", {1, kv_heads, past, d});
          m.input("past_v", {1, kv_heads, past, dv});
          std::vector<std::string> outputs{"y"};
          if (present) outputs.insert(outputs.end(), {"present_k", "present_v"});
          set_attr(m.node("Attention", {"q", "k", "v", mask > 0 ? "mask" : "", "past_k", "past_v"},
                          outputs, "attention"),
                   "scale", 0.3f);
          for (const std::string& o : outputs) m.output(o);
          check(*dev, m.load(), {"Attention"}, {1});
        }
}
