// The recipes' cache keys change with every field that changes a result and with nothing else,
// and a result stored in a project comes back whole.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "quantscope/model.h"
#include "quantscope/recipes.h"

namespace {

qs::RecipeInputs inputs() {
  qs::RecipeInputs in;
  in.model_id = "0123abcd";
  in.calibration = "fashion-mnist:train";
  in.evaluation = "fashion-mnist:test";
  in.limit = in.eval_limit = 100;
  return in;
}

// Each change must give a new key.
template <class Request>
void expect_each_changes_the_key(const Request& base,
                                 const std::vector<std::function<void(Request&)>>& changes) {
  const std::string key = base.cache_key();
  for (std::size_t i = 0; i < changes.size(); ++i) {
    Request changed = base;
    changes[i](changed);
    EXPECT_NE(changed.cache_key(), key) << "change " << i;
  }
}

TEST(Recipes, AHessianKeyFollowsWhatChangesTheTraces) {
  qs::HessianRequest r;
  r.in = inputs();
  expect_each_changes_the_key<qs::HessianRequest>(
      r, {[](auto& x) { x.in.model_id = "ffff"; },
          [](auto& x) { x.in.calibration = "fashion-mnist:test"; },
          [](auto& x) { x.in.limit = 64; }, [](auto& x) { x.in.preprocess.mean = {0.5f}; },
          [](auto& x) { x.options.max_probes = 7; }, [](auto& x) { x.options.tol = 1e-2; },
          [](auto& x) { x.options.seed = 2; }, [](auto& x) { x.options.layerwise = false; }});
  // Threads, the device and the evaluation set do not change the traces.
  qs::HessianRequest same = r;
  same.options.threads = 1;
  same.in.device = "cpu-onednn";
  same.in.evaluation = "";
  EXPECT_EQ(same.cache_key(), r.cache_key());
  r.in.model_id.clear();
  EXPECT_THROW(r.cache_key(), qs::Error);  // never keyed without the model's identity
}

TEST(Recipes, ASensitivityKeyFollowsItsInputsAndTraces) {
  qs::SensitivityRequest r;
  r.in = inputs();
  qs::HessianResult traces;
  traces.layers.push_back({"conv", "Conv", "w", 10, 1.5, 0.1, 8, 2.0});
  expect_each_changes_the_key<qs::SensitivityRequest>(
      r, {[](auto& x) { x.in.device = "cpu-onednn"; },
          [](auto& x) { x.in.evaluation = "fashion-mnist:train"; },
          [](auto& x) { x.in.eval_limit = 10; },
          [](auto& x) {
            x.options.bits = {4, 8};
          },
          [](auto& x) { x.options.what = qs::SensitivityTarget::acts; },
          [](auto& x) { x.options.shard_count = 2; },
          [](auto& x) { x.base.defaults.calibrator = "minmax"; },
          [&](auto& x) { x.hessian = traces; }});
  // No evaluation set is the calibration set, named or not.
  qs::SensitivityRequest a = r, b = r;
  a.in.evaluation = "";
  b.in.evaluation = b.in.calibration;
  EXPECT_EQ(a.cache_key(), b.cache_key());
  // Traces are keyed by their content.
  a.hessian = b.hessian = traces;
  EXPECT_EQ(a.cache_key(), b.cache_key());
  b.hessian->layers[0].trace = 1.6;
  EXPECT_NE(a.cache_key(), b.cache_key());
}

TEST(Recipes, ASearchKeyFollowsItsOptions) {
  qs::SearchRequest r;
  r.in = inputs();
  expect_each_changes_the_key<qs::SearchRequest>(
      r, {[](auto& x) { x.options.verify = 5; }, [](auto& x) { x.options.budget = 1000; },
          [](auto& x) { x.options.objective = qs::SearchObjective::bops; },
          [](auto& x) { x.options.pinned["conv"] = 8; }, [](auto& x) { x.options.act_bits = 0; },
          [](auto& x) { x.options.keep_ends_at_8 = true; },
          [](auto& x) { x.base.defaults.rounding = "gptq"; },
          [](auto& x) {
            x.options.has_second = true;
            x.options.budget2 = 3;
          }});
  // The latency bench settings matter only with a latency table.
  qs::SearchRequest same = r;
  same.options.latency_bench.runs = 3;
  EXPECT_EQ(same.cache_key(), r.cache_key());
}

TEST(Recipes, AResultStoredInAProjectComesBackWhole) {
  qs::HessianRequest r;
  r.in = inputs();
  r.in.graph =
      std::make_shared<const qs::Graph>(qs::load_model(QS_RESOURCES_MODELS_DIR "/lenet.onnx"));
  r.in.calibration = "fashion-mnist:test";
  r.in.limit = 16;
  r.options.max_probes = 2;
  r.options.min_probes = 2;
  const qs::HessianResult traces = r.run();
  ASSERT_FALSE(traces.layers.empty());
  qs::Project project;
  EXPECT_FALSE(qs::find_result(project, r));
  qs::store_result(project, r, traces);
  const auto back = qs::find_result(project, r);
  ASSERT_TRUE(back);
  EXPECT_EQ(qs::result_to_json(*back), qs::result_to_json(traces));
  qs::HessianRequest other = r;
  other.options.seed = 9;
  EXPECT_FALSE(qs::find_result(project, other));
  // A damaged entry is no result (it is computed again), not an error.
  project.cache.back().json = "{\"layers\": 3}";
  EXPECT_FALSE(qs::find_result(project, r));
}

// An error trace is keyed by the quantized model's content and the evaluation set; it runs on
// the real model and comes back from a project whole, an error-free layer (infinite SQNR)
// included.
TEST(Recipes, AnErrorTraceIsKeyedByTheQuantizationAndComesBack) {
  qs::ErrorsRequest r;
  r.in = inputs();
  r.in.graph =
      std::make_shared<const qs::Graph>(qs::load_model(QS_RESOURCES_MODELS_DIR "/lenet.onnx"));
  r.in.calibration = r.in.evaluation = "fashion-mnist:test";
  r.in.limit = r.in.eval_limit = 32;
  EXPECT_THROW(r.cache_key(), qs::Error);  // nothing to trace without the quantized model
  qs::QuantizeRequest quantize;
  quantize.in = r.in;
  auto q = std::make_shared<const qs::QuantizedModel>(quantize.run());
  r.quantized = q;
  auto other_config = quantize;
  other_config.config.defaults.weight_bits = 4;
  auto q4 = std::make_shared<const qs::QuantizedModel>(other_config.run());
  expect_each_changes_the_key<qs::ErrorsRequest>(
      r, {[&](auto& x) { x.quantized = q4; }, [](auto& x) { x.in.evaluation = "x:y"; },
          [](auto& x) { x.in.eval_limit = 8; }, [](auto& x) { x.in.device = "cpu-onednn"; }});
  qs::ErrorsRequest same = r;
  same.in.calibration = "fashion-mnist:train";  // only the evaluation set is read
  same.in.limit = 5;
  EXPECT_EQ(same.cache_key(), r.cache_key());

  qs::ErrorTrace trace = r.run();
  ASSERT_EQ(trace.layers.size(), 5u);
  EXPECT_EQ(trace.samples, 32);
  for (const qs::LayerError& e : trace.layers) {
    EXPECT_GT(e.introduced_sqnr_db, 10.0) << e.name;
    EXPECT_LE(e.accumulated_sqnr_db, e.introduced_sqnr_db + 20.0) << e.name;
  }
  trace.layers.front().introduced_sqnr_db = std::numeric_limits<double>::infinity();
  qs::Project project;
  qs::store_result(project, r, trace);
  const auto back = qs::find_result(project, r);
  ASSERT_TRUE(back);
  EXPECT_EQ(qs::result_to_json(*back), qs::result_to_json(trace));
  EXPECT_TRUE(std::isinf(back->layers.front().introduced_sqnr_db));
}

// A measurement is keyed by the model, the device, what runs and how it is timed; a
// benchmark's JSON comes back whole.
TEST(Recipes, MeasurementsAreKeyedByHowTheyAreTaken) {
  qs::BenchRequest bench;
  bench.in = inputs();
  expect_each_changes_the_key<qs::BenchRequest>(
      bench, {[](auto& x) { x.in.device = "cpu-onednn"; },
              [](auto& x) { x.quantized = std::make_shared<const qs::QuantizedModel>(); },
              [](auto& x) { x.integer_kernels = true; }, [](auto& x) { x.options.batch = 8; },
              [](auto& x) { x.options.threads = 2; }, [](auto& x) { x.options.runs = 3; },
              [](auto& x) { x.options.per_layer = true; }});
  qs::BenchRequest same = bench;
  same.in.calibration = "x:y";  // no data is read
  EXPECT_EQ(same.cache_key(), bench.cache_key());

  qs::LatencyTableRequest table;
  table.in = inputs();
  expect_each_changes_the_key<qs::LatencyTableRequest>(
      table,
      {[](auto& x) { x.in.device = "cpu-onednn"; },
       [](auto& x) { x.calibration_device = "cpu-onednn"; },
       [](auto& x) {
         x.bits = {4, 8};
       },
       [](auto& x) { x.act_bits = 0; }, [](auto& x) { x.in.limit = 7; },
       [](auto& x) { x.options.batch = 4; }, [](auto& x) { x.base.defaults.rounding = "gptq"; }});

  qs::BenchResult r;
  r.device = "cpu-ref";
  r.batch = 2;
  r.threads = 3;
  r.cold_ms = 4.5;
  r.end_to_end = {1.0, 1.5, 2.0, 0.9, 2.5, 1.2, 0.1, 20};
  r.throughput_per_s = 1000;
  r.unstable = true;
  r.layers = {{"conv", "Conv", 0.25, "jit:avx2"}};
  r.environment = {{"isa", "avx512"}};
  qs::BenchResult back;
  qs::result_from_json(qs::result_to_json(r), "test", back);
  EXPECT_EQ(qs::result_to_json(back), qs::result_to_json(r));
  EXPECT_EQ(back.layers.at(0).median_ms, 0.25);
  EXPECT_EQ(back.layers.at(0).kernel, "jit:avx2");
  EXPECT_THROW(qs::result_from_json("{\"device\": 1}", "test", back), qs::Error);
}

}  // namespace
