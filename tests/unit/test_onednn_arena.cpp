// cpu-onednn's per-run buffers in one arena, placed by lifetime (plan_memory.cpp): bytes are
// shared, results do not change, and nothing the run still reads is overwritten.
#include "onednn_test_util.h"

using namespace onednn_test;

TEST(OnednnArena, ChainSharesBytesAndAgrees) {
  REQUIRE_ONEDNN(dev);
  // Twelve elementwise steps, each writing a tensor of its own: at most three live at once
  // (the step's input, its output, and the graph output, read after the last step).
  ModelBuilder m(13);
  m.input("x", {-1, 16, 32, 32});
  std::string v = "x";
  const char* ops[] = {"Relu", "Sigmoid", "Tanh", "Abs", "Exp", "Neg"};
  for (int i = 0; i < 12; ++i) {
    const std::string out = i == 11 ? "y" : "v" + std::to_string(i);
    m.node(ops[i % 6], {v}, {out});
    v = out;
  }
  m.output("y");
  const Graph g = m.load();
  check(*dev, g, {"Relu", "Sigmoid", "Tanh"}, {1, 7});
  std::unique_ptr<CompiledGraph> compiled = dev->compile(g);
  const std::int64_t batch = 7, one = batch * 16 * 32 * 32 * 4;
  compiled->run({{"x", Tensor(DType::f32, {batch, 16, 32, 32})}});
  const std::int64_t bytes = compiled->buffer_bytes();
  EXPECT_GT(bytes, 0);
  EXPECT_LE(bytes, 3 * one + 4096) << "12 tensors of " << one << " bytes";
}

TEST(OnednnArena, PassedThroughReferenceOutputKeepsItsValues) {
  REQUIRE_ONEDNN(dev);
  // r (a buffer of the arena) is read by a Reshape on the reference kernels, whose output b
  // shares r's bytes; after that step the arena may give r's bytes to s. b must not change.
  ModelBuilder m(13);
  m.input("x", {2, 3, 4});
  m.input("shape", {3}, 7);
  m.node("Relu", {"x"}, {"r"});
  m.node("Reshape", {"r", "shape"}, {"b"});
  m.node("Sigmoid", {"x"}, {"s"});
  m.node("Tanh", {"s"}, {"t"});
  m.node("Add", {"b", "t"}, {"y"});
  m.output("y");
  const Graph g = m.load();
  const TensorMap inputs{
      {"x", Tensor::from_vector<float>({2, 3, 4}, random_values(24, 3, -2.f, 2.f))},
      {"shape", Tensor::from_vector<std::int64_t>({3}, {2, 3, 4})}};
  const TensorMap want = ReferenceExecutor(g).run(inputs);
  std::unique_ptr<CompiledGraph> compiled = dev->compile(g);
  for (int run = 0; run < 2; ++run) expect_close(compiled->run(inputs).at("y"), want.at("y"), "y");
}

TEST(OnednnArena, ManyShapesComeBackRight) {
  REQUIRE_ONEDNN(dev);
  // Twenty batch sizes, more than the plans a compiled graph keeps (16): the first ones are
  // dropped and built again when they come back, with the same results.
  ModelBuilder m(13);
  m.input("x", {-1, 8});
  m.node("Sigmoid", {"x"}, {"s"});
  m.node("Tanh", {"s"}, {"y"});
  m.output("y");
  const Graph g = m.load();
  std::unique_ptr<CompiledGraph> compiled = dev->compile(g);
  for (int pass = 0; pass < 2; ++pass)
    for (std::int64_t batch = 1; batch <= 20; ++batch) {
      const TensorMap inputs{
          {"x", Tensor::from_vector<float>({batch, 8}, random_values(batch * 8, unsigned(batch)))}};
      expect_close(compiled->run(inputs).at("y"), ReferenceExecutor(g).run(inputs).at("y"), "y");
    }
}
