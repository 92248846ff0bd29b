// The memory check before jobs: the estimate, the limit from the environment, and the message.
#include <gtest/gtest.h>

#include <cstdlib>

#include "quantscope/device.h"
#include "quantscope/error.h"
#include "quantscope/memory.h"
#include "quantscope/model.h"

namespace qs {
namespace {

TEST(MemoryCheck, EstimateIsConstantsPlusActivationsPerSample) {
  const Graph g = load_model(std::string(QS_RESOURCES_MODELS_DIR) + "/lenet.onnx");
  std::int64_t constants = 0;
  for (const auto& [name, t] : g.initializers)
    constants += static_cast<std::int64_t>(t.size_bytes());
  EXPECT_EQ(estimate_run_bytes(g, 0), constants);
  const std::int64_t one = estimate_run_bytes(g, 1) - constants;
  EXPECT_GT(one, 28 * 28 * 4);  // at least the input image
  EXPECT_EQ(estimate_run_bytes(g, 64), constants + 64 * one);
  EXPECT_EQ(estimate_run_bytes(g, 64, 2), 2 * estimate_run_bytes(g, 64));
  // Absurd batches saturate instead of overflowing.
  EXPECT_GT(estimate_run_bytes(g, std::int64_t{1} << 62), std::int64_t{1} << 62);
}

TEST(MemoryCheck, AFixedBatchRunsAtItsOwnBatchWhateverTheJobAsks) {
  // ViT-B/16 as torch exports it (batch 1) was refused for evaluating 64 images: "needs about
  // 27.91 GiB", counting 64 samples in one run where it runs one at a time.
  Graph g = load_model(std::string(QS_RESOURCES_MODELS_DIR) + "/lenet.onnx");
  const std::int64_t dynamic_one = estimate_run_bytes(g, 1);
  g.inputs[0].shape[0] = 1;
  ASSERT_EQ(fixed_batch(g), 1);
  EXPECT_EQ(estimate_run_bytes(g, 64), dynamic_one);
  EXPECT_EQ(estimate_run_bytes(g, 64, 2), 2 * dynamic_one);
  EXPECT_LT(estimate_run_bytes(g, 0), dynamic_one);  // the constants alone
}

TEST(MemoryCheck, TooLargeIsAnErrorInWords) {
  EXPECT_NO_THROW(check_memory("calibration", 100, 100));
  EXPECT_NO_THROW(check_memory("calibration", 100, -1));  // unknown: not refused
  try {
    check_memory("calibration", std::int64_t{3} << 30, std::int64_t{1} << 30);
    FAIL() << "3 GiB fit in 1 GiB";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("calibration needs about 3.00 GiB"), std::string::npos) << m;
    EXPECT_NE(m.find("1.00 GiB is available"), std::string::npos) << m;
    EXPECT_NE(m.find("--batch"), std::string::npos) << m;
  }
}

TEST(MemoryCheck, TheEnvironmentCanLowerTheLimit) {
  const std::int64_t machine = available_memory_bytes();
  ASSERT_GT(machine, 0) << "/proc/meminfo has MemAvailable on Linux";
  ::setenv("QUANTSCOPE_MEMORY_LIMIT", "1M", 1);
  EXPECT_EQ(available_memory_bytes(), std::int64_t{1} << 20);
  ::setenv("QUANTSCOPE_MEMORY_LIMIT", "not a size", 1);
  EXPECT_GT(available_memory_bytes(), std::int64_t{1} << 20);  // ignored
  ::unsetenv("QUANTSCOPE_MEMORY_LIMIT");
}

}  // namespace
}  // namespace qs
