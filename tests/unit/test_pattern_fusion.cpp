// RMSNorm as exporters spell it (Llama's x * 1/sqrt(mean(x^2) + eps) * w, with torch's identity
// Casts around it): fused at load into one RMSNormalization node, which computes what the
// unfused graph computes on every device, and is written back as ONNX ops older opsets know.
#include <gtest/gtest.h>

#include "onednn_test_util.h"
#include "quantscope/export.h"

using namespace onednn_test;

namespace {

enum class Spelling { kDiv, kReciprocal, kOneOver };

struct RmsCase {
  Spelling spelling = Spelling::kDiv;
  bool pow = true;     // Pow(x, 2), else Mul(x, x)
  bool scale = true;   // * gamma after the normalization
  bool casts = false;  // torch's Cast(to float) of x and of the normalized value
  std::int64_t opset = 14;
};

// x [N, 5, 16] -> (Cast) -> RMSNorm over the last axis -> (Cast) -> (* gamma) -> + x -> y:
// x is read by the norm and the residual Add, as in a decoder block.
ModelBuilder rms_model(const RmsCase& c) {
  ModelBuilder b(c.opset);
  b.input("x", {-1, 5, 16});
  b.initializer("two", {}, {2.0f});
  b.initializer("one", {}, {1.0f});
  b.initializer("eps", {}, {1e-6f});
  onednn_test::init(b, "gamma", {16}, 3, 0.5f, 1.5f);
  std::string x = "x";
  if (c.casts) {
    set_attr(b.node("Cast", {"x"}, {"x32"}, "rms/Cast"), "to", std::int64_t{1});
    x = "x32";
  }
  if (c.pow)
    b.node("Pow", {x, "two"}, {"sq"}, "rms/Pow");
  else
    b.node("Mul", {x, x}, {"sq"}, "rms/Square");
  auto& mean = b.node("ReduceMean", {"sq"}, {"ms"}, "rms/ReduceMean");
  if (c.opset >= 18) {
    b.initializer_i64("axes", {1}, {-1});
    mean.add_input("axes");
  } else {
    set_attr(mean, "axes", std::vector<std::int64_t>{-1});
  }
  b.node("Add", {"ms", "eps"}, {"var"}, "rms/Add");
  b.node("Sqrt", {"var"}, {"rms"}, "rms/Sqrt");
  std::string normalized = "normalized";
  switch (c.spelling) {
    case Spelling::kDiv:
      b.node("Div", {x, "rms"}, {normalized}, "rms/Div");
      break;
    case Spelling::kReciprocal:
      b.node("Reciprocal", {"rms"}, {"inv"}, "rms/Reciprocal");
      b.node("Mul", {x, "inv"}, {normalized}, "rms/Mul");
      break;
    case Spelling::kOneOver:
      b.node("Div", {"one", "rms"}, {"inv"}, "rms/Div");
      b.node("Mul", {"inv", x}, {normalized}, "rms/Mul");
      break;
  }
  if (c.casts) {
    set_attr(b.node("Cast", {normalized}, {"n32"}, "rms/Cast_1"), "to", std::int64_t{1});
    normalized = "n32";
  }
  std::string out = normalized;
  if (c.scale) {
    b.node("Mul", {"gamma", normalized}, {"scaled"}, "rms/Mul_1");
    out = "scaled";
  }
  b.node("Add", {out, x}, {"y"}, "residual");
  b.output("y");
  return b;
}

const Node* find_op(const Graph& g, const std::string& op) {
  for (const Node& n : g.nodes)
    if (n.op_type == op) return &n;
  return nullptr;
}

Tensor input(std::int64_t batch, unsigned seed) {
  return Tensor::from_vector<float>({batch, 5, 16}, random_values(batch * 80, seed, -3.f, 3.f));
}

}  // namespace

TEST(PatternFusion, RmsNormSpellingsBecomeOneNodeThatComputesTheSame) {
  LoadOptions unfused;
  unfused.fuse_patterns = false;
  std::unique_ptr<Device> dnn = onednn();
  int index = 0;
  for (Spelling spelling : {Spelling::kDiv, Spelling::kReciprocal, Spelling::kOneOver})
    for (bool pow : {true, false})
      for (bool scale : {true, false}) {
        RmsCase c;
        c.spelling = spelling;
        c.pow = pow;
        c.scale = scale;
        c.casts = index % 2 == 0;
        c.opset = index % 3 == 0 ? 18 : 14;
        SCOPED_TRACE("case " + std::to_string(index++));
        const ModelBuilder b = rms_model(c);
        const Graph fused = b.load();
        const Graph plain = b.load(unfused);
        ASSERT_EQ(fused.nodes.size(), 2u);  // RMSNormalization, the residual Add
        const Node& rms = fused.nodes[0];
        EXPECT_EQ(rms.op_type, "RMSNormalization");
        EXPECT_EQ(rms.name, "rms/ReduceMean");  // the original names stay for reports
        EXPECT_EQ(rms.inputs[0], "x");          // the identity Cast is gone
        EXPECT_EQ(rms.attr_int("axis", 0), 2);
        EXPECT_FLOAT_EQ(rms.attr_float("epsilon", 0), 1e-6f);
        const std::size_t chain = 3 + (spelling == Spelling::kDiv ? 1 : 2) + (scale ? 1 : 0);
        EXPECT_EQ(rms.folded_from.size(), chain);
        const Tensor x = input(3, 20 + static_cast<unsigned>(index));
        const Tensor want = ReferenceExecutor(plain).run({{"x", x}}).at("y");
        expect_close(ReferenceExecutor(fused).run({{"x", x}}).at("y"), want, "cpu-ref");
        if (dnn && dnn->status().usable) {
          for (const Placement& p : placement(*dnn, fused))
            if (p.op == "RMSNormalization") {
              EXPECT_EQ(p.device, "cpu-onednn") << p.reason;
            }
          expect_close(dnn->compile(fused)->run({{"x", x}}).at("y"), want, "cpu-onednn");
        }
      }
}

TEST(PatternFusion, RmsNormChainsThatDoNotMatchAreLeftAlone) {
  auto has_rms = [](const ModelBuilder& b) { return find_op(b.load(), "RMSNormalization"); };
  {
    SCOPED_TRACE("the root mean square is also a graph output");
    ModelBuilder b = rms_model({});
    b.output("rms");
    EXPECT_FALSE(has_rms(b));
  }
  {
    SCOPED_TRACE("the mean over the middle axis");
    ModelBuilder b = rms_model({});
    for (auto& n : *b.proto().mutable_graph()->mutable_node())
      if (n.op_type() == "ReduceMean") n.mutable_attribute(0)->set_ints(0, 1);
    EXPECT_FALSE(has_rms(b));
  }
  {
    SCOPED_TRACE("a cube, not a square");
    ModelBuilder b = rms_model({});
    for (auto& init : *b.proto().mutable_graph()->mutable_initializer())
      if (init.name() == "two") init.set_float_data(0, 3.0f);
    EXPECT_FALSE(has_rms(b));
  }
  {
    SCOPED_TRACE("divides another tensor than the one squared");
    ModelBuilder b = rms_model({});
    b.input("z", {-1, 5, 16});
    for (auto& n : *b.proto().mutable_graph()->mutable_node())
      if (n.name() == "rms/Div") n.set_input(0, "z");
    EXPECT_FALSE(has_rms(b));
  }
}

TEST(PatternFusion, ACastThatIsAGraphOutputOrChangesTheTypeStays) {
  ModelBuilder b(14);
  b.input("x", {2, 3});
  set_attr(b.node("Cast", {"x"}, {"same"}, "kept_output"), "to", std::int64_t{1});
  set_attr(b.node("Cast", {"x"}, {"wide"}, "to_int"), "to", std::int64_t{6});
  set_attr(b.node("Cast", {"x"}, {"dropped"}, "dropped"), "to", std::int64_t{1});
  b.node("Relu", {"dropped"}, {"r"}, "relu");
  b.output("same").output("wide", 6).output("r");
  const Graph g = b.load();
  std::vector<std::string> names;
  for (const Node& n : g.nodes) names.push_back(n.name);
  EXPECT_EQ(names, (std::vector<std::string>{"kept_output", "to_int", "relu"}));
  EXPECT_EQ(g.nodes.back().inputs[0], "x");
}

TEST(PatternFusion, AFusedRmsNormIsWrittenAsOpsItsOpsetKnows) {
  for (const std::int64_t opset : {std::int64_t{14}, std::int64_t{18}}) {
    SCOPED_TRACE("opset " + std::to_string(opset));
    RmsCase c;
    c.opset = opset;
    c.casts = true;
    const Graph fused = rms_model(c).load();
    ASSERT_TRUE(find_op(fused, "RMSNormalization"));
    const std::string bytes = write_onnx_model(fused);
    LoadOptions unfused;
    unfused.fuse_patterns = false;
    const Graph back = load_model_from_bytes(bytes, "", "written.onnx", unfused);
    EXPECT_FALSE(find_op(back, "RMSNormalization"));
    EXPECT_TRUE(find_op(back, "ReduceMean"));
    const Tensor x = input(2, 40);
    expect_close(ReferenceExecutor(back).run({{"x", x}}).at("y"),
                 ReferenceExecutor(fused).run({{"x", x}}).at("y"), "written and read back");
    // Read back with fusion on, it is one node again.
    EXPECT_TRUE(find_op(load_model_from_bytes(bytes, "", "written.onnx"), "RMSNormalization"));
  }
}

TEST(PatternFusion, RmsNormOnOnednnAtDecoderSizes) {
  REQUIRE_ONEDNN(dnn);
  // Rows of 4096 (a 7B model's width; 16-wide partial sums plus a tail) and of 19 (tail only).
  for (const std::int64_t width : {std::int64_t{4096}, std::int64_t{19}}) {
    ModelBuilder b(17);
    b.input("x", {-1, 3, width});
    onednn_test::init(b, "gamma", {width}, 7);
    auto& n = b.node("RMSNormalization", {"x", "gamma"}, {"y"}, "norm");
    set_attr(n, "epsilon", 1e-5f);
    b.output("y");
    check(*dnn, b.load(), {"RMSNormalization"}, {1, 4}, -4.f, 4.f);
  }
}
