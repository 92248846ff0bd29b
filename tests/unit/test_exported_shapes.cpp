// Shapes as exporters write them: a batch fixed to a number (torch.onnx.export without
// dynamic_axes), and dynamic lengths that a placeholder of 1 cannot stand for.
#include <gtest/gtest.h>

#include <cmath>

#include "model_builder.h"
#include "quantscope/device.h"
#include "quantscope/evaluate.h"
#include "quantscope/model_info.h"
#include "quantscope/registry.h"
#include "random_dataset.h"

using namespace qs;
using test::ModelBuilder;
using test::set_attr;

namespace {

// small_cnn's layers with the batch dimension `batch` (-1: dynamic).
Graph cnn_with_batch(std::int64_t batch) {
  ModelBuilder b(13);
  b.input("x", {batch, 2, 6, 6});
  b.initializer("w", {4, 2, 3, 3}, test::random_values(72, 1));
  b.initializer("fw", {5, 144}, test::random_values(720, 3, 0.1f));
  auto& conv = b.node("Conv", {"x", "w"}, {"c"}, "conv");
  set_attr(conv, "pads", std::vector<std::int64_t>{1, 1, 1, 1});
  b.node("Relu", {"c"}, {"r"}, "relu");
  b.node("Flatten", {"r"}, {"f"}, "flatten");
  auto& gemm = b.node("Gemm", {"f", "fw"}, {"y"}, "fc");
  set_attr(gemm, "transB", std::int64_t{1});
  b.output("y");
  return b.load();
}

Tensor random_tensor(Shape shape, unsigned seed) {
  const std::int64_t n = shape_numel(shape);
  return Tensor::from_vector(std::move(shape), test::random_values(std::size_t(n), seed, 1.0f));
}

void expect_close(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.shape(), b.shape());
  for (std::int64_t i = 0; i < a.numel(); ++i)
    EXPECT_NEAR(a.data<float>()[i], b.data<float>()[i], 1e-5 + 1e-5 * std::fabs(b.data<float>()[i]))
        << "element " << i;
}

std::unique_ptr<Device> device(const std::string& name) {
  static Registry registry = make_default_registry();
  return registry.create_device(name);
}

// An audio front end: [N, samples] -> Unsqueeze -> Conv1d(kernel 512, stride 160) -> Relu ->
// mean over time. At load the samples are unknown; a placeholder of 1 is shorter than the kernel.
Graph audio_front_end() {
  ModelBuilder b(13);
  b.input("audio", {-1, -1});
  b.proto()
      .mutable_graph()
      ->mutable_input(0)
      ->mutable_type()
      ->mutable_tensor_type()
      ->mutable_shape()
      ->mutable_dim(1)
      ->set_dim_param("samples");
  b.initializer("w", {8, 1, 512}, test::random_values(8 * 512, 5, 0.05f));
  b.initializer_i64("axes", {1}, {1});
  b.initializer_i64("time", {1}, {2});
  b.node("Unsqueeze", {"audio", "axes"}, {"u"}, "unsqueeze");
  auto& conv = b.node("Conv", {"u", "w"}, {"c"}, "frames");
  set_attr(conv, "strides", std::vector<std::int64_t>{160});
  b.node("Relu", {"c"}, {"r"}, "relu");
  auto& mean = b.node("ReduceMean", {"r"}, {"y"}, "pool");
  set_attr(mean, "axes", std::vector<std::int64_t>{2});
  set_attr(mean, "keepdims", std::int64_t{0});
  b.output("y");
  return b.load();
}

}  // namespace

TEST(FixedBatch, IsReadFromTheFirstInput) {
  EXPECT_EQ(fixed_batch(cnn_with_batch(1)), 1);
  EXPECT_EQ(fixed_batch(cnn_with_batch(4)), 4);
  EXPECT_EQ(fixed_batch(cnn_with_batch(-1)), 0);
}

TEST(FixedBatch, AnyNumberOfSamplesGoesThroughInChunksOfTheBatch) {
  const Graph dynamic = cnn_with_batch(-1);
  const Tensor x = random_tensor({10, 2, 6, 6}, 11);
  for (const std::string name : {"cpu-ref", "cpu-onednn"}) {
    auto dev = device(name);
    if (!dev || !dev->status().usable) continue;
    const Tensor expected = dev->compile(dynamic)->run({{"x", x}}).at("y");
    // Batch 1: ten runs. Batch 4: 4 + 4 + 2, the last chunk padded and the padding dropped.
    for (std::int64_t batch : {1, 4, 10}) {
      const Graph fixed = cnn_with_batch(batch);
      auto run = compile_any_batch(*dev, fixed);
      const Tensor y = run->run({{"x", x}}).at("y");
      SCOPED_TRACE(name + " batch " + std::to_string(batch));
      expect_close(y, expected);
      // Fewer samples than the batch: one padded chunk.
      Tensor first3(DType::f32, {3, 2, 6, 6});
      std::copy(x.data<float>(), x.data<float>() + 3 * 72, first3.data<float>());
      const Tensor y3 = run->run({{"x", first3}}).at("y");
      ASSERT_EQ(y3.shape(), (Shape{3, 5}));
      for (int i = 0; i < 15; ++i)
        EXPECT_NEAR(y3.data<float>()[i], expected.data<float>()[i], 1e-5);
    }
  }
}

TEST(FixedBatch, EvaluateUsesTheDefaultBatchOnAFixedBatchModel) {
  test::RandomDataset data(37, {2, 6, 6}, 3);
  auto ref = device("cpu-ref");
  EvalOptions options;  // batch 64 by default: the fixed-batch model takes 1, or 4, at a time
  const PairEvalResult fixed1 =
      evaluate_pair(cnn_with_batch(-1), cnn_with_batch(1), data, *ref, *ref, options);
  EXPECT_EQ(fixed1.candidate.samples, 37);
  EXPECT_GT(fixed1.sqnr_db, 100.0);  // the same numbers, fed one sample at a time
  const PairEvalResult fixed4 =
      evaluate_pair(cnn_with_batch(-1), cnn_with_batch(4), data, *ref, *ref, options);
  EXPECT_EQ(fixed4.candidate.samples, 37);
  EXPECT_GT(fixed4.sqnr_db, 100.0);
}

TEST(FixedBatch, AnOutputThatDoesNotSplitBySampleIsNamed) {
  ModelBuilder b(13);
  b.input("x", {2, 3});
  auto& sum = b.node("ReduceSum", {"x"}, {"total"}, "sum_all");
  set_attr(sum, "keepdims", std::int64_t{0});
  b.output("total");
  const Graph g = b.load();
  auto ref = device("cpu-ref");
  auto run = compile_any_batch(*ref, g);
  // Exactly the fixed batch: runs as it is.
  EXPECT_EQ(run->run({{"x", random_tensor({2, 3}, 1)}}).at("total").rank(), 0);
  try {
    run->run({{"x", random_tensor({5, 3}, 1)}});
    FAIL() << "a scalar output was split by sample";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'total'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("fixes its batch to 2"), std::string::npos) << e.what();
  }
}

TEST(DynamicLength, AConvLongerThanThePlaceholderLoadsAndRuns) {
  const Graph g = audio_front_end();  // used to fail: "kernel [512] is larger than ... [1]"
  const Tensor audio = random_tensor({2, 16000}, 7);
  auto ref = device("cpu-ref");
  const Tensor y = ref->compile(g)->run({{"audio", audio}}).at("y");
  ASSERT_EQ(y.shape(), (Shape{2, 8}));
  // Channel 0 of sample 1, computed here: mean over frames of relu(sum w * x).
  const Tensor& w = g.initializers.at("w");
  const std::int64_t frames = (16000 - 512) / 160 + 1;
  double sum = 0;
  for (std::int64_t f = 0; f < frames; ++f) {
    double acc = 0;
    for (int k = 0; k < 512; ++k)
      acc += double(w.data<float>()[k]) * audio.data<float>()[16000 + f * 160 + k];
    sum += std::max(acc, 0.0);
  }
  EXPECT_NEAR(y.data<float>()[8], sum / double(frames), 1e-4);
  auto onednn = device("cpu-onednn");
  if (onednn && onednn->status().usable)
    expect_close(onednn->compile(g)->run({{"audio", audio}}).at("y"), y);
  // Too short for the kernel at run time: a clear error naming the node.
  try {
    ref->compile(g)->run({{"audio", random_tensor({1, 100}, 1)}});
    FAIL() << "a 100-sample input ran through a 512 kernel";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("frames"), std::string::npos) << e.what();
  }
}

TEST(DynamicLength, ModelInfoNamesTheSymbols) {
  const ModelInfo info = describe_model(audio_front_end());
  ASSERT_EQ(info.layers.size(), 4u);
  EXPECT_EQ(dims_text(info.layers[0].output_dims), "[N,1,samples]");
  EXPECT_EQ(dims_text(info.layers[1].output_dims), "[N,8,?]");  // (samples - 512) / 160 + 1
  EXPECT_EQ(dims_text(info.layers[3].output_dims), "[N,8]");
  const ModelInfo cnn = describe_model(cnn_with_batch(-1));
  EXPECT_EQ(dims_text(cnn.layers[0].output_dims), "[N,4,6,6]");
  EXPECT_EQ(dims_text(cnn.layers[2].output_dims), "[N,144]");
  EXPECT_EQ(dims_text(describe_model(cnn_with_batch(3)).layers[2].output_dims), "[3,144]");
}

TEST(DynamicLength, AShapeErrorOnFixedDimensionsIsStillRefusedAtLoad) {
  ModelBuilder b(13);
  b.input("x", {-1, 1, 100});
  b.initializer("w", {2, 1, 512}, test::random_values(1024, 1));
  b.node("Conv", {"x", "w"}, {"y"}, "too_long");
  b.output("y");
  try {
    b.load();
    FAIL() << "a kernel longer than a fixed input loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("too_long"), std::string::npos) << e.what();
  }
}

TEST(ShapeFolding, ShapeArithmeticOnStaticDimensionsBecomesConstants) {
  // torch.onnx.export with a fixed batch: x.view(x.size(0), -1) still comes out as Shape ->
  // Gather -> Unsqueeze -> Concat -> Reshape; with every dimension known it folds at load.
  for (std::int64_t batch : {2, -1}) {
    ModelBuilder b(13);
    b.input("x", {batch, 4, 3});
    b.initializer_i64("zero", {}, {0});
    b.initializer_i64("minus_one", {1}, {-1});
    b.initializer_i64("axes", {1}, {0});
    b.node("Shape", {"x"}, {"shape"}, "shape");
    set_attr(b.node("Gather", {"shape", "zero"}, {"n"}, "gather"), "axis", std::int64_t{0});
    b.node("Unsqueeze", {"n", "axes"}, {"n1"}, "unsqueeze");
    set_attr(b.node("Concat", {"n1", "minus_one"}, {"target"}, "concat"), "axis", std::int64_t{0});
    b.node("Reshape", {"x", "target"}, {"y"}, "reshape");
    b.output("y");
    const Graph g = b.load();
    SCOPED_TRACE(batch);
    if (batch > 0) {
      ASSERT_EQ(g.nodes.size(), 1u);  // only the Reshape, its target a constant [2, -1]
      EXPECT_EQ(g.initializers.at("target").to_i64(), (std::vector<std::int64_t>{2, -1}));
    } else {
      EXPECT_EQ(g.nodes.size(), 5u);  // depends on the batch: computed per input shape
      EXPECT_TRUE(g.shape_values.count("target"));
    }
    const std::int64_t n = batch > 0 ? batch : 3;
    const Tensor x = random_tensor({n, 4, 3}, 9);
    const Tensor y = device("cpu-ref")->compile(g)->run({{"x", x}}).at("y");
    EXPECT_EQ(y.shape(), (Shape{n, 12}));
    expect_close(y, x.reshaped({n, 12}));
  }
}

namespace {

// x [N, 6, 8] -> LayerNorm over the last axis as torch.onnx writes it before opset 17, with
// the square as Pow(d, 2) or Mul(d, d), with or without the scale and shift.
ModelBuilder decomposed_layer_norm(bool pow, bool affine, const LoadOptions& = {}) {
  ModelBuilder b(14);
  b.input("x", {-1, 6, 8});
  b.initializer("two", {}, {2.0f});
  b.initializer("eps", {}, {1e-5f});
  b.initializer("gamma", {8}, test::random_values(8, 4));
  b.initializer("beta", {8}, test::random_values(8, 5));
  set_attr(b.node("ReduceMean", {"x"}, {"mean"}, "ln/ReduceMean"), "axes",
           std::vector<std::int64_t>{-1});
  b.node("Sub", {"x", "mean"}, {"d"}, "ln/Sub");
  if (pow)
    b.node("Pow", {"d", "two"}, {"sq"}, "ln/Pow");
  else
    b.node("Mul", {"d", "d"}, {"sq"}, "ln/Square");
  set_attr(b.node("ReduceMean", {"sq"}, {"var"}, "ln/ReduceMean_1"), "axes",
           std::vector<std::int64_t>{-1});
  b.node("Add", {"var", "eps"}, {"ve"}, "ln/Add");
  b.node("Sqrt", {"ve"}, {"sd"}, "ln/Sqrt");
  b.node("Div", {"d", "sd"}, {affine ? "n" : "ln_out"}, "ln/Div");
  if (affine) {
    b.node("Mul", {"n", "gamma"}, {"s"}, "ln/Mul");
    b.node("Add", {"s", "beta"}, {"ln_out"}, "ln/Add_1");
  }
  b.node("Relu", {"ln_out"}, {"y"}, "after");
  b.output("y");
  return b;
}

}  // namespace

TEST(PatternFusion, DecomposedLayerNormBecomesOneNodeWithTheSameOutputs) {
  LoadOptions unfused;
  unfused.fuse_patterns = false;
  for (bool pow : {true, false})
    for (bool affine : {true, false}) {
      SCOPED_TRACE(std::string(pow ? "Pow" : "Mul") + (affine ? " affine" : ""));
      const ModelBuilder b = decomposed_layer_norm(pow, affine);
      const Graph fused = b.load();
      const Graph plain = b.load(unfused);
      ASSERT_EQ(fused.nodes.size(), 2u);
      const Node& ln = fused.nodes[0];
      EXPECT_EQ(ln.op_type, "LayerNormalization");
      EXPECT_EQ(ln.name, "ln/ReduceMean");  // the original names stay for reports
      EXPECT_EQ(ln.folded_from.size(), affine ? 8u : 6u);
      EXPECT_EQ(ln.attr_int("axis", 0), 2);
      const Tensor x = random_tensor({3, 6, 8}, 12);
      for (const std::string name : {"cpu-ref", "cpu-onednn"}) {
        auto dev = device(name);
        if (!dev || !dev->status().usable) continue;
        expect_close(dev->compile(fused)->run({{"x", x}}).at("y"),
                     device("cpu-ref")->compile(plain)->run({{"x", x}}).at("y"));
      }
    }
}

TEST(PatternFusion, AChainThatDoesNotMatchIsLeftAlone) {
  // The centred value is also a graph output: fusing would lose it.
  ModelBuilder b = decomposed_layer_norm(true, true);
  b.output("d");
  const Graph g = b.load();
  for (const Node& n : g.nodes) EXPECT_NE(n.op_type, "LayerNormalization");
  // Over the middle axis, not the trailing ones: not a LayerNormalization.
  ModelBuilder middle = decomposed_layer_norm(true, false);
  for (auto& n : *middle.proto().mutable_graph()->mutable_node())
    if (n.op_type() == "ReduceMean") n.mutable_attribute(0)->set_ints(0, 1);
  for (const Node& n : middle.load().nodes) EXPECT_NE(n.op_type, "LayerNormalization");
}
