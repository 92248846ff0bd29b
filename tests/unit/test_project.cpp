// The project file and the result cache: round trips, relative model paths, model changes,
// cache keys and eviction, and clear errors for bad files. Also the results' JSON forms.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "quantscope/error.h"
#include "quantscope/project.h"
#include "quantscope/results_json.h"

namespace fs = std::filesystem;

namespace {

fs::path fresh_dir(const char* name) {
  fs::path dir = fs::temp_directory_path() / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

qs::Project sample_project(const fs::path& dir) {
  write(dir / "model.onnx", "not really a model, but bytes to hash");
  qs::Project p;
  p.model_path = (dir / "model.onnx").string();
  p.model_sha256 = qs::file_sha256(p.model_path);
  p.calibration = "fashion-mnist:train";
  p.evaluation = "fashion-mnist:test";
  p.limit = 500;
  p.device = "cpu-ref";
  p.settings = R"({"quantize":{"weightBits":4}})";
  p.configurations["tuned"] = R"({"bits":{"conv1":4,"fc":8}})";
  qs::store_cached(p, {"analyze", qs::result_key({"analyze", "x"}), "", R"({"layers":[]})"});
  return p;
}

std::string expect_error(const std::string& text) {
  try {
    qs::project_from_json(text, "p.qsproj", "/tmp");
  } catch (const qs::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error for " << text;
  return {};
}

}  // namespace

TEST(Project, SavesAndLoadsWithNothingLost) {
  const fs::path dir = fresh_dir("qs_project_roundtrip");
  const qs::Project p = sample_project(dir);
  const std::string path = (dir / "a.qsproj").string();
  qs::save_project(path, p);
  const qs::Project q = qs::load_project(path);
  EXPECT_EQ(q.model_path, fs::path(p.model_path).lexically_normal().string());
  EXPECT_EQ(q.model_sha256, p.model_sha256);
  EXPECT_EQ(q.calibration, p.calibration);
  EXPECT_EQ(q.evaluation, p.evaluation);
  EXPECT_EQ(q.limit, 500);
  EXPECT_EQ(q.device, "cpu-ref");
  EXPECT_EQ(q.settings, p.settings);
  EXPECT_EQ(q.configurations, p.configurations);
  ASSERT_EQ(q.cache.size(), 1u);
  EXPECT_EQ(q.cache[0].kind, "analyze");
  EXPECT_EQ(q.cache[0].key, p.cache[0].key);
  EXPECT_EQ(q.cache[0].created, p.cache[0].created);
  EXPECT_EQ(q.cache[0].json, p.cache[0].json);
  EXPECT_EQ(qs::model_state(q), qs::ModelState::same);
}

TEST(Project, ModelBesideTheProjectIsStoredRelativeAndMovesWithIt) {
  const fs::path dir = fresh_dir("qs_project_move");
  fs::create_directories(dir / "one");
  qs::Project p = sample_project(dir / "one");
  qs::save_project((dir / "one" / "p.qsproj").string(), p);
  std::ifstream in(dir / "one" / "p.qsproj");
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(text.find("\"path\": \"model.onnx\""), std::string::npos) << text;
  fs::rename(dir / "one", dir / "two");
  const qs::Project q = qs::load_project((dir / "two" / "p.qsproj").string());
  EXPECT_EQ(q.model_path, (dir / "two" / "model.onnx").string());
  EXPECT_EQ(qs::model_state(q), qs::ModelState::same);
}

TEST(Project, DetectsAChangedOrMissingModel) {
  const fs::path dir = fresh_dir("qs_project_changed");
  const qs::Project p = sample_project(dir);
  EXPECT_EQ(qs::model_state(p, qs::file_sha256(p.model_path)), qs::ModelState::same);
  write(dir / "model.onnx", "other bytes");
  EXPECT_EQ(qs::model_state(p), qs::ModelState::changed);
  // With the digest the caller computed: the same answers.
  EXPECT_EQ(qs::model_state(p, qs::file_sha256(p.model_path)), qs::ModelState::changed);
  EXPECT_EQ(qs::model_state(p, ""), qs::ModelState::missing);
  fs::remove(dir / "model.onnx");
  EXPECT_EQ(qs::model_state(p), qs::ModelState::missing);
  EXPECT_EQ(qs::model_state(p, p.model_sha256), qs::ModelState::missing);
}

TEST(Project, CacheKeysSeparatePartsAndEvictTheOldest) {
  EXPECT_NE(qs::result_key({"ab", "c"}), qs::result_key({"a", "bc"}));
  EXPECT_EQ(qs::result_key({"a", "b"}), qs::result_key({"a", "b"}));
  qs::Project p;
  for (int i = 0; i < 6; ++i)
    qs::store_cached(
        p, {"search", qs::result_key({std::to_string(i)}), "", "{\"i\":" + std::to_string(i) + "}"},
        3);
  qs::store_cached(p, {"analyze", qs::result_key({"0"}), "", "{}"}, 3);
  EXPECT_EQ(p.cache.size(), 4u);
  EXPECT_EQ(qs::find_cached(p, "search", qs::result_key({"2"})), nullptr);
  const qs::CachedResult* five = qs::find_cached(p, "search", qs::result_key({"5"}));
  ASSERT_NE(five, nullptr);
  EXPECT_EQ(five->json, "{\"i\":5}");
  EXPECT_NE(qs::find_cached(p, "analyze", qs::result_key({"0"})), nullptr);
  EXPECT_EQ(qs::find_cached(p, "analyze", qs::result_key({"5"})), nullptr);
  // Storing the same key again replaces the entry.
  qs::store_cached(p, {"search", qs::result_key({"5"}), "", "{\"i\":55}"}, 3);
  EXPECT_EQ(qs::find_cached(p, "search", qs::result_key({"5"}))->json, "{\"i\":55}");
  EXPECT_EQ(p.cache.size(), 4u);
}

TEST(Project, BadFilesGetErrorsThatNameTheProblem) {
  EXPECT_NE(expect_error("{").find("not valid JSON"), std::string::npos);
  EXPECT_NE(expect_error("[]").find("not a Quantscope project"), std::string::npos);
  EXPECT_NE(expect_error(R"({"format":"quantscope-project","version":99})").find("newer"),
            std::string::npos);
  const std::string head = R"({"format":"quantscope-project","version":1,)";
  EXPECT_NE(expect_error(head + R"("data":{}})").find("missing \"model\""), std::string::npos);
  const std::string base = head + R"("model":{"path":"m.onnx","sha256":""},)" +
                           R"("data":{"calibration":"a","evaluation":"b","limit":-1},)" +
                           R"("device":"cpu-ref")";
  EXPECT_NO_THROW(qs::project_from_json(base + "}", "p", "/tmp"));
  EXPECT_NE(expect_error(base + R"(,"cache":[{"kind":"k","key":"zz","result":{}}]})")
                .find("cache[0].key"),
            std::string::npos);
  EXPECT_NE(expect_error(base + R"(,"settings":[1]})").find("settings"), std::string::npos);
  EXPECT_NE(expect_error(head + R"("model":{"path":"m","sha256":"xyz"},"data":{}})").find("sha256"),
            std::string::npos);
  EXPECT_THROW(qs::load_project("/nonexistent/p.qsproj"), qs::Error);
}

TEST(ResultsJson, SensitivityHessianAndSearchRoundTrip) {
  qs::SensitivityResult s;
  s.samples = 100;
  s.classifier = true;
  s.fp32_top1 = 91.5;
  s.notes = {"a note"};
  qs::LayerSensitivity l{"conv", "Conv", 150, {}};
  l.bits[4] = {0.25, 12.5, 0.9, 88.0, NAN};
  l.bits[2].kl = 1.5;
  s.layers.push_back(l);
  const qs::SensitivityResult s2 =
      qs::sensitivity_from_json(qs::sensitivity_to_json(s), "sensitivity");
  ASSERT_EQ(s2.layers.size(), 1u);
  EXPECT_EQ(s2.layers[0].name, "conv");
  EXPECT_EQ(s2.layers[0].params, 150);
  EXPECT_DOUBLE_EQ(s2.layers[0].bits.at(4).kl, 0.25);
  EXPECT_DOUBLE_EQ(s2.layers[0].bits.at(4).top1, 88.0);
  EXPECT_TRUE(std::isnan(s2.layers[0].bits.at(4).hawq));
  EXPECT_DOUBLE_EQ(s2.fp32_top1, 91.5);
  EXPECT_EQ(s2.notes, s.notes);
  EXPECT_FALSE(s2.language_model);
  s.language_model = true;
  EXPECT_TRUE(qs::sensitivity_from_json(qs::sensitivity_to_json(s), "s").language_model);

  qs::HessianResult h;
  h.samples = 64;
  h.loss = "cross-entropy";
  h.probes = 30;
  h.layers.push_back({"fc", "Gemm", "W", 40, 3.5, 0.25, 30, -1});
  const qs::HessianResult h2 = qs::hessian_from_json(qs::hessian_to_json(h), "hessian");
  ASSERT_EQ(h2.layers.size(), 1u);
  EXPECT_DOUBLE_EQ(h2.layers[0].trace, 3.5);
  EXPECT_DOUBLE_EQ(h2.layers[0].std_error, 0.25);
  EXPECT_EQ(h2.layers[0].params, 40);
  EXPECT_EQ(h2.loss, "cross-entropy");

  qs::SearchResult r;
  qs::SearchPoint p{"front", 1000, 0, 0.125, {{"conv", 4}, {"fc", 8}}, {}};
  p.measured.measured = true;
  p.measured.top1 = 90.0;
  p.measured.kl = 0.1;
  r.front = {p, p};
  r.front[1].cost = 2000;
  r.baselines = {{"uniform 8", 3000, 0, 0.01, {}, {}}, {"uniform 4", 900, 0, 0.5, {}, {}}};
  r.baselines[0].front_match = 1;
  r.best = 1;
  r.fp32_cost = 4000;
  r.rank_correlation = 0.9;
  r.front_seconds = 0.004;
  const qs::SearchResult r2 = qs::search_result_from_json(qs::search_result_to_json(r), "search");
  ASSERT_EQ(r2.front.size(), 2u);
  EXPECT_EQ(r2.best, 1);
  EXPECT_EQ(r2.front[0].bits, p.bits);
  EXPECT_DOUBLE_EQ(r2.front[1].cost, 2000);
  EXPECT_TRUE(r2.front[0].measured.measured);
  EXPECT_DOUBLE_EQ(r2.front[0].measured.top1, 90.0);
  EXPECT_EQ(r2.baselines[0].label, "uniform 8");
  EXPECT_EQ(r2.baselines[0].front_match, 1);
  EXPECT_EQ(r2.baselines[1].front_match, -1);
  EXPECT_DOUBLE_EQ(r2.rank_correlation, 0.9);
  EXPECT_DOUBLE_EQ(r2.front_seconds, 0.004);
  // An index past the front is not trusted.
  std::string text = qs::search_result_to_json(r);
  text.replace(text.find("\"front_match\":1"), 15, "\"front_match\":7");
  EXPECT_EQ(qs::search_result_from_json(text, "search").baselines[0].front_match, -1);
  EXPECT_THROW(qs::search_result_from_json("{\"front\":[{}]}", "s"), qs::Error);
  EXPECT_THROW(qs::sensitivity_from_json("[1]", "s"), qs::Error);
}
