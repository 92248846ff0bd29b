// Every input the fuzzers found a crash with, replayed through the same code (and, in the asan
// preset, under the same sanitizers): each must end in an error or a result, never a crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "../fuzz/fuzz_bodies.h"

namespace {

using Body = int (*)(const std::uint8_t*, std::size_t);

void replay(const char* target, Body body) {
  const std::filesystem::path dir = std::filesystem::path(QS_FUZZ_REGRESSIONS_DIR) / target;
  if (!std::filesystem::is_directory(dir)) GTEST_SKIP() << "no regressions for " << target;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
    SCOPED_TRACE(entry.path().string());
    EXPECT_EQ(body(bytes.data(), bytes.size()), 0);
  }
}

}  // namespace

TEST(FuzzRegressions, OnnxImport) {
  replay("onnx_import", qs_fuzz::onnx_import);
}
TEST(FuzzRegressions, Npy) {
  replay("npy", qs_fuzz::npy);
}
TEST(FuzzRegressions, Npz) {
  replay("npz", qs_fuzz::npz);
}
TEST(FuzzRegressions, Idx) {
  replay("idx", qs_fuzz::idx);
}
TEST(FuzzRegressions, Image) {
  replay("image", qs_fuzz::image);
}
TEST(FuzzRegressions, QuantConfig) {
  replay("quant_config", qs_fuzz::quant_config);
}
TEST(FuzzRegressions, Project) {
  replay("project", qs_fuzz::project);
}
TEST(FuzzRegressions, QdqImport) {
  replay("qdq_import", qs_fuzz::qdq_import);
}
