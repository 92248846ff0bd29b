// The registry: built-ins, the skeleton plugin, and broken plugins refused with reasons.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "model_builder.h"
#include "quantscope/device.h"
#include "quantscope/quant.h"
#include "quantscope/registry.h"
#include "quantscope/rounding.h"
#include "random_dataset.h"

using namespace qs;

namespace {

const PluginRecord* find_record(const Registry& r, const std::string& file) {
  for (const PluginRecord& p : r.plugins())
    if (p.path.find(file) != std::string::npos) return &p;
  return nullptr;
}

}  // namespace

TEST(Registry, BuiltinsHaveTheReferenceDevice) {
  Registry r;
  register_builtins(r);
  ASSERT_EQ(r.device_names().front(), "cpu-ref");
  EXPECT_EQ(r.device_origin("cpu-ref"), "built-in");
  EXPECT_TRUE(r.create_device("cpu-ref")->status().usable);
  try {
    r.create_device("tpu-9000");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cpu-ref"), std::string::npos) << e.what();
  }
  EXPECT_THROW(r.add_device("cpu-ref", "again", Registry::DeviceFactory{}), Error);
}

TEST(Registry, SkeletonLoadsAndBrokenPluginsAreRefusedWithReasons) {
  Registry r;
  register_builtins(r);
  r.load_plugins({QS_BROKEN_PLUGIN_DIR, QS_PLUGIN_DIR});
  const PluginRecord* skeleton = find_record(r, "qsplugin_skeleton.so");
  ASSERT_NE(skeleton, nullptr);
  EXPECT_TRUE(skeleton->loaded) << skeleton->reason;
  EXPECT_EQ(skeleton->provides, std::vector<std::string>{"device:skeleton"});

  const PluginRecord* abi = find_record(r, "qsplugin_wrong_abi.so");
  ASSERT_NE(abi, nullptr);
  EXPECT_FALSE(abi->loaded);
  EXPECT_NE(abi->reason.find("ABI version"), std::string::npos) << abi->reason;
  const PluginRecord* entry = find_record(r, "qsplugin_no_entry_point.so");
  ASSERT_NE(entry, nullptr);
  EXPECT_FALSE(entry->loaded);
  EXPECT_NE(entry->reason.find("entry point"), std::string::npos) << entry->reason;
  const PluginRecord* unresolved = find_record(r, "qsplugin_unresolved_symbol.so");
  ASSERT_NE(unresolved, nullptr);
  EXPECT_FALSE(unresolved->loaded);
  EXPECT_NE(unresolved->reason.find("qs_symbol_that_no_library_defines"), std::string::npos)
      << unresolved->reason;

  // Everything else keeps working: the skeleton device runs a model like cpu-ref does.
  test::ModelBuilder b(13);
  b.input("x", {2, 3}).output("y").initializer("w", {3}, {1, -2, 3});
  b.node("Mul", {"x", "w"}, {"m"});
  b.node("Relu", {"m"}, {"y"});
  Graph g = b.load();
  Tensor x = Tensor::from_vector<float>({2, 3}, {1, 1, 1, -1, -1, -1});
  for (const char* name : {"cpu-ref", "skeleton"}) {
    std::unique_ptr<Device> d = r.create_device(name);
    Tensor y = d->compile(g)->run({{"x", x}}).at("y");
    EXPECT_EQ(y.to_f32(), (std::vector<float>{1, 0, 3, 0, 2, 0})) << name;
  }
  for (const Placement& p : placement(*r.create_device("skeleton"), g))
    EXPECT_EQ(p.device, "skeleton");
}

TEST(Registry, LoadingTheSameFolderTwiceDoesNotDuplicate) {
  Registry r;
  register_builtins(r);
  r.load_plugins({QS_PLUGIN_DIR});
  const auto devices = r.device_names().size();
  r.load_plugins({QS_PLUGIN_DIR});
  EXPECT_EQ(r.device_names().size(), devices);
}

TEST(Registry, CpuRefProfilesEveryNode) {
  test::ModelBuilder b(13);
  b.input("x", {1, 4}).output("y");
  b.node("Relu", {"x"}, {"r"}, "first");
  b.node("Neg", {"r"}, {"y"}, "second");
  Graph g = b.load();
  Registry r;
  register_builtins(r);
  auto compiled = r.create_device("cpu-ref")->compile(g);
  compiled->set_profiling(true);
  compiled->run({{"x", Tensor(DType::f32, {1, 4})}});
  auto t = compiled->last_timings();
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].name, "first");
  EXPECT_EQ(t[1].op, "Neg");
  EXPECT_GE(t[0].ms, 0.0);
}

namespace {

// A calibrator from outside the engine: half the range seen, as a plugin would add one.
class HalfRange : public Calibrator {
 public:
  std::string text() const override { return "half"; }
  bool needs_histogram() const override { return false; }
  ClipRange range(const TensorStatistics& s, const GridTarget&) const override {
    return {s.min / 2, s.max / 2};
  }
};

}  // namespace

// A calibrator is a registry entry: quantize_model finds it by name in the registry it is
// given, records its name, and config_problems names the calibrators a registry knows.
TEST(Registry, ACalibratorAddedToTheRegistryIsUsedByName) {
  Registry r;
  register_builtins(r);
  r.add_calibrator("half", "half the range seen", [](const std::string& parameter) {
    if (!parameter.empty()) throw Error("half takes no parameter");
    return std::make_unique<HalfRange>();
  });
  EXPECT_THROW(r.add_calibrator("mse", "again", CalibratorFactory{}), Error);
  EXPECT_THROW(r.add_calibrator("a:b", "a colon", CalibratorFactory{}), Error);
  const Graph g = test::small_cnn();
  QuantConfig config;
  config.defaults.calibrator = "half";
  EXPECT_FALSE(config_problems(config, g).empty());  // the built-ins do not know it
  EXPECT_TRUE(config_problems(config, g, &r).empty());

  test::RandomDataset data(32, {2, 6, 6}, 3);
  auto device = r.create_device("cpu-ref");
  CalibrationOptions options;
  options.registry = &r;
  const QuantizedModel half = quantize_model(g, config, data, *device, options);
  config.defaults.calibrator = "minmax";
  const QuantizedModel full = quantize_model(g, config, data, *device, options);
  ASSERT_FALSE(half.activations.empty());
  for (const auto& [tensor, p] : half.activations) {
    EXPECT_EQ(p.calibrator, "half");
    const ActQuantParams& m = full.activations.at(tensor);
    EXPECT_FLOAT_EQ(p.lo, m.lo / 2) << tensor;
    EXPECT_FLOAT_EQ(p.hi, m.hi / 2) << tensor;
  }
}

// A rounding method that rounds every weight toward zero: codes differ from round-to-nearest.
class TowardZero : public Rounding {
 public:
  std::string text() const override { return "toward-zero"; }
  quant::QuantizedMatrix round(const RoundingInput& in) const override {
    quant::QuantizedMatrix m = quant::quantize_rtn(in.weights, in.rows, in.cols, in.spec);
    for (std::int64_t r = 0; r < in.rows; ++r)
      for (std::int64_t c = 0; c < in.cols; ++c) {
        const std::size_t i = static_cast<std::size_t>(r * in.cols + c);
        const quant::Grid& g = m.grid(r, c);
        const float v = std::trunc(in.weights[i] / g.scale) + static_cast<float>(g.zero_point);
        m.codes[i] = static_cast<std::int8_t>(std::clamp(v, float(g.qmin), float(g.qmax)));
        m.dequantized[i] = static_cast<float>(m.codes[i] - g.zero_point) * g.scale;
      }
    return m;
  }
};

TEST(Registry, ARoundingAddedToTheRegistryIsUsedByName) {
  Registry r;
  register_builtins(r);
  r.add_rounding("toward-zero", "truncation", [](const std::string& parameter) {
    if (!parameter.empty()) throw Error("toward-zero takes no parameter");
    return std::make_unique<TowardZero>();
  });
  EXPECT_THROW(r.add_rounding("gptq", "again", RoundingFactory{}), Error);
  const Graph g = test::small_cnn();
  QuantConfig config;
  config.defaults.weight_bits = 4;
  config.defaults.rounding = "toward-zero";
  EXPECT_FALSE(config_problems(config, g).empty());  // the built-ins do not know it
  EXPECT_TRUE(config_problems(config, g, &r).empty());
  config.defaults.rounding = "gptq:damp=2";
  ASSERT_EQ(config_problems(config, g, &r).size(), 1u);
  EXPECT_NE(config_problems(config, g, &r)[0].find("damp"), std::string::npos);

  test::RandomDataset data(32, {2, 6, 6}, 3);
  auto device = r.create_device("cpu-ref");
  CalibrationOptions options;
  options.registry = &r;
  config.defaults.rounding = "toward-zero";
  const QuantizedModel truncated = quantize_model(g, config, data, *device, options);
  config.defaults.rounding = "rtn";
  const QuantizedModel nearest = quantize_model(g, config, data, *device, options);
  config.defaults.rounding = "gptq:damp=0.1";
  const QuantizedModel gptq = quantize_model(g, config, data, *device, options);
  ASSERT_FALSE(truncated.weights.empty());
  for (const auto& [node, p] : truncated.weights) {
    EXPECT_EQ(p.rounding, "toward-zero");
    EXPECT_EQ(nearest.weights.at(node).rounding, "rtn");
    EXPECT_EQ(gptq.weights.at(node).rounding, "gptq:damp=0.1");
    EXPECT_NE(p.codes, nearest.weights.at(node).codes) << node;
    EXPECT_EQ(p.scales, nearest.weights.at(node).scales) << node;  // the same grids
  }
}
