// import_qdq: the bundled models exported at several settings and read back must give a float
// model and a quantization whose simulation computes exactly what the original simulation did.
#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>

#include "data/zip_archive.h"
#include "export/zip_writer.h"
#include "quantscope/error.h"
#include "quantscope/executor.h"
#include "quantscope/export.h"
#include "quantscope/model.h"
#include "quantscope/registry.h"
#include "random_dataset.h"

namespace qs {
namespace {

namespace fs = std::filesystem;

struct Case {
  const char* model;
  int weight_bits, act_bits;
  QuantGranularity granularity;
  bool symmetric;
};

Tensor run_first_output(const Graph& g, const Tensor& x) {
  auto device = make_default_registry().create_device("cpu-ref");
  TensorMap out = device->compile(g)->run({{g.inputs[0].name, x}});
  return out.at(g.outputs[0].name);
}

class QdqImportRoundTrip : public ::testing::TestWithParam<Case> {};

TEST_P(QdqImportRoundTrip, RoundTripComputesTheSameQuantizedModel) {
  const Case c = GetParam();
  const Graph g = load_model(std::string(QS_RESOURCES_MODELS_DIR) + "/" + c.model + ".onnx");
  QuantConfig config;
  config.defaults.weight_bits = c.weight_bits;
  config.defaults.act_bits = c.act_bits;
  config.defaults.granularity = c.granularity;
  config.defaults.weight_symmetric = c.symmetric;
  config.defaults.calibrator = "minmax";
  test::RandomDataset data(16, {1, 28, 28}, 3);
  auto device = make_default_registry().create_device("cpu-ref");
  const QuantizedModel q = quantize_model(g, config, data, *device);

  const fs::path file =
      fs::temp_directory_path() /
      ("qs_import_" +
       std::to_string(
           ::testing::UnitTest::GetInstance()->current_test_info()->result()->total_part_count()) +
       "_" + c.model + std::to_string(c.weight_bits) + ".onnx");
  {
    const QdqModel qdq = export_qdq(g, q);
    std::ofstream(file, std::ios::binary) << qdq.onnx;
  }
  const QdqImport back = import_qdq(file.string());
  fs::remove(file);

  EXPECT_EQ(back.quantized.weights.size(), q.weights.size());
  for (const auto& [node, w] : q.weights) {
    ASSERT_TRUE(back.quantized.weights.count(node)) << node;
    const WeightQuantParams& b = back.quantized.weights.at(node);
    EXPECT_EQ(b.codes, w.codes) << node;
    EXPECT_EQ(b.scales, w.scales) << node;
    EXPECT_EQ(b.zero_points, w.zero_points) << node;
    EXPECT_EQ(b.bits, w.bits) << node;
  }
  const Tensor x = data.read(0, 4).inputs;
  const Tensor want = run_first_output(apply_quantization(g, q), x);
  const Tensor got = run_first_output(apply_quantization(back.graph, back.quantized), x);
  ASSERT_EQ(got.shape(), want.shape());
  for (std::int64_t i = 0; i < want.numel(); ++i)
    ASSERT_EQ(got.data<float>()[i], want.data<float>()[i]) << "element " << i;
  // The float model has the original's nodes again (folded Relus restored).
  EXPECT_EQ(back.graph.nodes.size(), g.nodes.size());
}

INSTANTIATE_TEST_SUITE_P(
    BundledModels, QdqImportRoundTrip,
    ::testing::Values(Case{"lenet", 8, 8, QuantGranularity::per_channel, true},
                      Case{"lenet", 4, 0, QuantGranularity::per_channel, false},
                      Case{"mobilenet", 8, 8, QuantGranularity::per_tensor, true},
                      Case{"vit", 4, 8, QuantGranularity::per_channel, true},
                      Case{"autoencoder", 3, 8, QuantGranularity::per_channel, true}));

TEST(QdqImportErrors, NamesWhatIsWrong) {
  const fs::path dir = fs::temp_directory_path() / "qs_import_errors";
  fs::create_directories(dir);
  try {
    import_qdq(dir.string());
    FAIL() << "a folder without model.onnx was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.onnx"), std::string::npos) << e.what();
  }
  std::ofstream(dir / "broken.zip", std::ios::binary) << "PK not really a zip archive at all....";
  try {
    import_qdq((dir / "broken.zip").string());
    FAIL() << "a broken zip was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("broken.zip"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

// Hostile archives: offsets that wrap in 32 bits, sizes past the end, a deflate bomb's claim.
TEST(QdqImportErrors, HostileZipIsRefusedInWords) {
  const std::string good = exporter::zip_archive({{"model.onnx", std::string(64, 'x')}});
  const std::size_t central = good.size() - 22 - (46 + 10);  // the one central record
  auto patched = [&](std::size_t at, std::uint32_t v) {
    std::string z = good;
    for (int i = 0; i < 4; ++i) z[at + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
    return z;
  };
  const std::vector<std::string> hostile = {
      patched(central + 42, 0xFFFFFFF0u),  // local header offset wraps around
      patched(central + 20, 0xFFFFFF00u),  // compressed size past the end
      good.substr(0, good.size() - 30),    // truncated
  };
  for (const std::string& z : hostile) {
    try {
      zip::Archive::open_bytes(z, "hostile.zip").read("model.onnx", std::size_t{1} << 30);
      ADD_FAILURE() << "a hostile archive was read";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("hostile.zip"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(zip::Archive::open_bytes(good, "good.zip").read("model.onnx", 1024),
            std::string(64, 'x'));
  // Larger than allowed, and missing: refused by name.
  EXPECT_THROW(zip::Archive::open_bytes(good, "good.zip").read("model.onnx", 63), Error);
  EXPECT_THROW(zip::Archive::open_bytes(good, "good.zip").read("other.onnx", 1024), Error);
}

}  // namespace
}  // namespace qs
