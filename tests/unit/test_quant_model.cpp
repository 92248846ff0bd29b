// Quantization of whole models: configurations, their JSON, the simulation graph, and what it
// computes against the integer arithmetic it stands for.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "model_builder.h"
#include "quantscope/error.h"
#include "quantscope/evaluate.h"
#include "quantscope/executor.h"
#include "quantscope/memory.h"
#include "quantscope/model.h"
#include "quantscope/quant.h"
#include "quantscope/quant_format.h"
#include "quantscope/registry.h"
#include "random_dataset.h"

using namespace qs;
using qs::test::ModelBuilder;
using qs::test::small_cnn;

namespace {

using qs::test::random_values;

std::unique_ptr<Device> cpu_ref() {
  return make_default_registry().create_device("cpu-ref");
}

QuantizedModel quantize(const Graph& g, const QuantConfig& c, std::int64_t samples = 64) {
  qs::test::RandomDataset data(samples, {2, 6, 6}, 7);
  auto device = cpu_ref();
  return quantize_model(g, c, data, *device);
}

Tensor run(const Graph& g, const Tensor& x) {
  return qs::test::run_single(g, x);
}

Tensor sample_input(std::int64_t n) {
  qs::test::RandomDataset data(n, {2, 6, 6}, 11);
  return data.read(0, n).inputs;
}

}  // namespace

TEST(QuantConfig, OverridesReplaceOnlyWhatTheySet) {
  QuantConfig c;
  c.defaults.weight_bits = 4;
  c.overrides["fc"] = parse_override("w8a16");
  c.overrides["conv"] = parse_override("float");
  EXPECT_EQ(c.settings_for("fc").weight_bits, 8);
  EXPECT_EQ(c.settings_for("fc").act_bits, 16);
  EXPECT_EQ(c.settings_for("fc").calibrator, c.defaults.calibrator);
  EXPECT_FALSE(c.settings_for("conv").quantized());
  EXPECT_EQ(c.settings_for("other").weight_bits, 4);
  EXPECT_EQ(*parse_override("3").weight_bits, 3);
  EXPECT_FALSE(parse_override("3").act_bits.has_value());
  EXPECT_EQ(*parse_override("w4afloat").act_bits, 0);
  EXPECT_THROW(parse_override("w4"), Error);
  EXPECT_THROW(parse_override("four"), Error);
  LayerQuantSettings s;
  parse_granularity("group:16", s);
  EXPECT_EQ(s.granularity, QuantGranularity::per_group);
  EXPECT_EQ(s.group_size, 16);
  EXPECT_THROW(parse_granularity("group:0", s), Error);
  EXPECT_THROW(parse_granularity("row", s), Error);
}

TEST(QuantConfig, ProblemsAreNamed) {
  const Graph g = small_cnn();
  EXPECT_EQ(quantizable_nodes(g), (std::vector<std::string>{"conv", "fc"}));
  QuantConfig ok;
  EXPECT_TRUE(config_problems(ok, g).empty());

  auto problems_of = [&](const QuantConfig& c) {
    std::string all;
    for (const std::string& p : config_problems(c, g)) all += p + "\n";
    return all;
  };
  QuantConfig c;
  c.overrides["nope"] = parse_override("4");
  c.overrides["relu"] = parse_override("4");
  EXPECT_NE(problems_of(c).find("unknown node 'nope'"), std::string::npos);
  EXPECT_NE(problems_of(c).find("'relu' (Relu), which is not quantizable"), std::string::npos);

  QuantConfig bits;
  bits.defaults.weight_bits = 9;
  bits.overrides["fc"].act_bits = 4;
  EXPECT_NE(problems_of(bits).find("weight bits 9 out of range"), std::string::npos);
  EXPECT_NE(problems_of(bits).find("node 'fc': activation bits 4"), std::string::npos);

  // Groups need not divide a layer's inputs (conv has 18 per output, fc 144): the last group of
  // a row is shorter.
  QuantConfig group;
  parse_granularity("group:5", group.defaults);
  EXPECT_EQ(problems_of(group), "");

  QuantConfig names;
  names.defaults.rounding = "adaround";
  names.defaults.calibrator = "percentile:0";
  EXPECT_NE(problems_of(names).find("unknown rounding \"adaround\" (available: rtn, gptq)"),
            std::string::npos);
  EXPECT_NE(problems_of(names).find("percentile:0"), std::string::npos);

  qs::test::RandomDataset data(8, {2, 6, 6}, 1);
  auto device = cpu_ref();
  EXPECT_THROW(quantize_model(g, c, data, *device), Error);
}

// The integer arithmetic itself, bit for bit: test_integer_simulation.cpp.

TEST(QuantSimulation, CloseToFloatAt8BitsAndGraphStaysRunnable) {
  const Graph g = small_cnn();
  const QuantizedModel q = quantize(g, QuantConfig{});
  EXPECT_EQ(q.weights.size(), 2u);
  EXPECT_EQ(q.activations.size(), 2u);  // x (read by conv) and f (read by fc)
  const Graph sim = apply_quantization(g, q);
  int fake_quants = 0;
  for (const Node& n : sim.nodes) fake_quants += n.op_type == "FakeQuant";
  EXPECT_EQ(fake_quants, 2);
  qs::test::RandomDataset data(64, {2, 6, 6}, 3);
  auto device = cpu_ref();
  const PairEvalResult r = evaluate_pair(g, sim, data, *device, *device, EvalOptions{});
  EXPECT_GT(r.sqnr_db, 25.0);
  EXPECT_TRUE(r.classifier);
  EXPECT_GT(r.agreement, 90.0);
  // Weight-only 2-bit is much worse than W8A8: the metrics see it.
  QuantConfig two;
  two.defaults.weight_bits = 2;
  two.defaults.act_bits = 0;
  const QuantizedModel q2 = quantize(g, two);
  EXPECT_TRUE(q2.activations.empty());
  const PairEvalResult r2 =
      evaluate_pair(g, apply_quantization(g, q2), data, *device, *device, EvalOptions{});
  EXPECT_LT(r2.sqnr_db, r.sqnr_db - 10.0);
}

TEST(QuantSimulation, ModelSizeCountsBitsAndScales) {
  const Graph g = small_cnn();
  const std::int64_t fp32 = model_size_bytes(g);
  EXPECT_EQ(fp32, (72 + 4 + 720 + 5) * 4);
  QuantConfig c;
  c.defaults.weight_bits = 4;
  const QuantizedModel q = quantize(g, c);
  // 4-bit codes + one float scale per output channel; biases stay 4 bytes each.
  EXPECT_EQ(model_size_bytes(g, &q), (72 + 1) / 2 + 4 * 4 + 720 / 2 + 5 * 4 + (4 + 5) * 4);
}

TEST(QuantJson, RoundTripsExactly) {
  const Graph g = small_cnn();
  QuantConfig c;
  c.defaults.rounding = "gptq";
  c.defaults.weight_bits = 3;
  c.defaults.bias_correction = true;
  c.overrides["fc"] = parse_override("w4a16");
  c.overrides["fc"].granularity = QuantGranularity::per_group;
  c.overrides["fc"].group_size = 20;  // 144 inputs: 7 groups of 20 and one of 4
  const QuantizedModel q = quantize(g, c);
  EXPECT_EQ(q.weights.at("conv").rounding, "gptq");
  EXPECT_EQ(q.weights.at("fc").groups_per_row, 8);
  EXPECT_EQ(q.weights.at("fc").group_size, 20);
  const std::string text = quantized_model_to_json(q);
  const QuantizedModel back = quantized_model_from_json(text);
  EXPECT_EQ(quantized_model_to_json(back), text);
  const Tensor x = sample_input(4);
  const Tensor a = run(apply_quantization(g, q), x), b = run(apply_quantization(g, back), x);
  for (std::int64_t i = 0; i < a.numel(); ++i) EXPECT_EQ(a.data<float>()[i], b.data<float>()[i]);
  // Settings only.
  const QuantizedModel settings = quantized_model_from_json(quant_config_to_json(c));
  EXPECT_TRUE(settings.weights.empty());
  EXPECT_EQ(settings.config.settings_for("fc").act_bits, 16);
  EXPECT_EQ(settings.config.settings_for("conv").rounding, "gptq");
  // Saved atomically and read back.
  const std::string path =
      (std::filesystem::temp_directory_path() / "qs_test_quant_config.json").string();
  save_quantized_model(path, q);
  EXPECT_EQ(quantized_model_to_json(load_quantized_model(path)), text);
  std::filesystem::remove(path);
}

// quantize_model steps through the data in batches that fit kBatchBudgetBytes (batch_within):
// the statistics it keeps must come out the same however the samples are split.
TEST(QuantCalibration, ResultDoesNotDependOnTheBatch) {
  const Graph g = small_cnn();
  QuantConfig c;  // MSE calibration: a min/max pass and a histogram pass
  c.overrides["fc"] = parse_override("w4a8");
  qs::test::RandomDataset data(67, {2, 6, 6}, 7);
  auto device = cpu_ref();
  CalibrationOptions whole, split;
  whole.batch = 67;
  split.batch = 5;  // 13 full batches and a partial one
  const QuantizedModel a = quantize_model(g, c, data, *device, whole);
  const QuantizedModel b = quantize_model(g, c, data, *device, split);
  ASSERT_FALSE(a.activations.empty());
  EXPECT_EQ(quantized_model_to_json(a), quantized_model_to_json(b));
  // The batch a job may hold is bounded by the bytes of the tensors it computes.
  const std::int64_t one = estimate_run_bytes(g, 1) - estimate_run_bytes(g, 0);
  ASSERT_GT(one, 0);
  EXPECT_EQ(batch_within(g, 64, 10 * one), 10);
  EXPECT_EQ(batch_within(g, 4, 10 * one), 4);
  EXPECT_EQ(batch_within(g, 64, one - 1), 1);  // never below one sample
}

TEST(QuantJson, BadFilesNameTheProblem) {
  auto message = [](const std::string& text) {
    try {
      quantized_model_from_json(text);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("{").find("not valid JSON"), std::string::npos);
  EXPECT_NE(message("{\"format\": \"x\"}").find("not a quantization configuration"),
            std::string::npos);
  const std::string head = "{\"format\": \"quantscope-quantization\", \"schema_version\": ";
  EXPECT_NE(message(head + "99}").find("schema_version 99"), std::string::npos);
  EXPECT_NE(message(head + "1, \"defaults\": {\"weight_bitz\": 4}}").find("unknown setting"),
            std::string::npos);
  EXPECT_NE(message(head + "1, \"defaults\": {\"weight_bits\": \"four\"}}").find("weight_bits"),
            std::string::npos);
  const Graph g = small_cnn();
  const QuantizedModel q = quantize(g, QuantConfig{});
  std::string text = quantized_model_to_json(q);
  // Codes that do not fill the matrix.
  const std::size_t at = text.find("\"codes\": \"") + 10;
  std::string short_codes = text;
  short_codes.erase(at, 4);
  EXPECT_NE(message(short_codes).find("codes for a"), std::string::npos);
  EXPECT_THROW(load_quantized_model("/nonexistent/config.json"), Error);
}

TEST(QuantJson, ConfigForAnotherModelIsRefused) {
  const Graph g = small_cnn();
  QuantizedModel q = quantize(g, QuantConfig{});
  q.weights.at("fc").cols = 72;
  q.weights.at("fc").codes.resize(5 * 72);
  try {
    apply_quantization(g, q);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("do not match the model's"), std::string::npos);
  }
  QuantizedModel other = quantize(g, QuantConfig{});
  other.activations["not_here"] = other.activations.begin()->second;
  EXPECT_THROW(apply_quantization(g, other), Error);
}

TEST(QuantSimulation, FakeQuantKernel) {
  ModelBuilder b(13);
  b.input("x", {5});
  auto& n = b.node("FakeQuant", {"x"}, {"y"}, "fq");
  n.set_domain(kQuantscopeDomain);
  qs::test::set_attr(n, "scale", 0.5f);
  qs::test::set_attr(n, "zero_point", std::int64_t{2});
  qs::test::set_attr(n, "qmin", std::int64_t{0});
  qs::test::set_attr(n, "qmax", std::int64_t{7});
  b.output("y");
  b.proto().add_opset_import()->set_domain(kQuantscopeDomain);
  const Graph g = b.load();
  const Tensor y = run(g, Tensor::from_vector<float>({5}, {-3.0f, -0.3f, 0.75f, 10.0f, NAN}));
  // codes: clamp(round-half-even(x/0.5) + 2, 0, 7); NaN -> the zero point
  EXPECT_EQ(y.to_f32(), (std::vector<float>{-1.0f, -0.5f, 1.0f, 2.5f, 0.0f}));
}

// GPTQ on a real model: at 3 bits, its outputs are closer to the float model's than RTN's.
TEST(QuantGptq, BeatsRoundToNearestOnBundledModels) {
  if (!std::filesystem::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  for (const char* name : {"lenet", "mobilenet"}) {
    const Graph g = load_model(std::string(QS_RESOURCES_MODELS_DIR) + "/" + name + ".onnx");
    DataOptions opts;
    opts.preprocess = preprocess_from_model(g);
    opts.limit = 256;
    auto calib = open_dataset("fashion-mnist:train", opts);
    auto test = open_dataset("fashion-mnist:test", opts);
    auto device = cpu_ref();
    QuantConfig c;
    c.defaults.weight_bits = 3;
    c.defaults.act_bits = 0;
    const QuantizedModel rtn = quantize_model(g, c, *calib, *device);
    c.defaults.rounding = "gptq";
    const QuantizedModel gptq = quantize_model(g, c, *calib, *device);
    const PairEvalResult r_rtn =
        evaluate_pair(g, apply_quantization(g, rtn), *test, *device, *device, EvalOptions{});
    const PairEvalResult r_gptq =
        evaluate_pair(g, apply_quantization(g, gptq), *test, *device, *device, EvalOptions{});
    EXPECT_GT(r_gptq.sqnr_db, r_rtn.sqnr_db + 1.0) << name;
    EXPECT_GE(r_gptq.agreement, r_rtn.agreement) << name;
  }
}

namespace {

// Rows of four features with a label each; the models below read the first three as logits (a
// sample shape unlike the output's, so the output is scored as a classifier's).
class LogitsDataset : public Dataset {
 public:
  LogitsDataset(std::vector<float> rows, std::vector<std::int64_t> labels)
      : rows_(std::move(rows)), labels_(std::move(labels)) {}
  std::int64_t size() const override { return static_cast<std::int64_t>(labels_.size()); }
  bool has_labels() const override { return true; }
  Shape sample_shape() const override { return {4}; }
  std::string describe() const override { return "logits"; }
  Batch read(std::int64_t first, std::int64_t count) override {
    std::vector<float> v(rows_.begin() + first * 4, rows_.begin() + (first + count) * 4);
    return {Tensor::from_vector<float>({count, 4}, v),
            std::vector<std::int64_t>(labels_.begin() + first, labels_.begin() + first + count)};
  }

 private:
  std::vector<float> rows_;
  std::vector<std::int64_t> labels_;
};

// x[N, 4] -> Gemm -> the first three features, plus `shift`.
Graph logits_model(const std::vector<float>& shift) {
  ModelBuilder m(13);
  m.input("x", {-1, 4});
  m.initializer("w", {4, 3}, {1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0});
  m.initializer("c", {3}, shift);
  m.node("Gemm", {"x", "w", "c"}, {"y"}, "fc");
  m.output("y");
  return m.load();
}

std::int64_t argmax3(const float* r) {
  return r[1] > r[0] ? (r[2] > r[1] ? 2 : 1) : (r[2] > r[0] ? 2 : 0);
}

}  // namespace

// evaluate_pair counts the samples only one of the two models gets right, across batches, and
// McNemar's z from them; the expected counts are computed here from the logits themselves.
TEST(PairEvaluation, CountsWhatOnlyOneModelGetsRight) {
  const Graph ref = logits_model({0.0f, 0.0f, 0.0f});
  const Graph cand = logits_model({0.0f, 0.0f, 0.7f});  // class 2 wins more often
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> rows(300 * 4);
  std::vector<std::int64_t> labels(300);
  for (float& v : rows) v = u(rng);
  for (std::int64_t& l : labels) l = static_cast<std::int64_t>(rng() % 3);
  std::int64_t only_ref = 0, only_cand = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const float* r = rows.data() + 4 * i;
    const float shifted[3] = {r[0], r[1], r[2] + 0.7f};
    const bool a = argmax3(r) == labels[i], b = argmax3(shifted) == labels[i];
    only_ref += a && !b;
    only_cand += b && !a;
  }
  ASSERT_GT(only_ref + only_cand, 10);
  LogitsDataset data(rows, labels);
  auto device = cpu_ref();
  EvalOptions options;
  options.batch = 64;  // 300 samples: the counts add up over uneven batches
  const PairEvalResult r = evaluate_pair(ref, cand, data, *device, *device, options);
  EXPECT_EQ(r.only_reference, only_ref);
  EXPECT_EQ(r.only_candidate, only_cand);
  EXPECT_DOUBLE_EQ(r.mcnemar_z(),
                   double(only_cand - only_ref) / std::sqrt(double(only_ref + only_cand)));
  // The top-1 difference is the paired difference over the samples.
  EXPECT_NEAR(r.candidate.top1 - r.reference.top1, 100.0 * double(only_cand - only_ref) / 300.0,
              1e-9);
  // The same model twice: nothing discordant, z = 0.
  const PairEvalResult s = evaluate_pair(ref, ref, data, *device, *device, options);
  EXPECT_EQ(s.only_reference + s.only_candidate, 0);
  EXPECT_EQ(s.mcnemar_z(), 0.0);
}
