// The hostile-model corpus (tests/models/hostile/, written by make_hostile.py): every file must
// end in a qs::Error whose message contains the words expected.json lists for it, within
// bounded time and memory, and never in a crash or another exception type.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "quantscope/executor.h"
#include "quantscope/model.h"
#include "quantscope/tensor.h"

namespace fs = std::filesystem;

namespace {

const fs::path kCorpus = fs::path(QS_TEST_MODELS_DIR) / "hostile";

// Memory limits for every case: no tensor, file or external data over 64 MiB.
constexpr std::size_t kMaxBytes = std::size_t{1} << 26;
// A case must end within this; one still running after kWatchdog ends the test program.
constexpr auto kTimeLimit = std::chrono::seconds(5);
constexpr auto kWatchdog = std::chrono::seconds(60);
// An error message is one line a user reads, not a dump.
constexpr std::size_t kMaxMessage = 1000;

// expected.json: file name -> a substring, or a list of substrings, of the error message.
std::map<std::string, std::vector<std::string>> read_expected() {
  std::ifstream in(kCorpus / "expected.json");
  if (!in) throw std::runtime_error("cannot open " + (kCorpus / "expected.json").string());
  const nlohmann::json j = nlohmann::json::parse(in);
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [file, words] : j.items()) {
    if (words.is_string())
      out[file] = {words.get<std::string>()};
    else
      out[file] = words.get<std::vector<std::string>>();
  }
  return out;
}

std::vector<std::string> listed_files() {
  std::vector<std::string> files;
  try {
    for (const auto& [file, words] : read_expected()) files.push_back(file);
  } catch (const std::exception& e) {
    // Registered as a case of its own, which then fails with this message.
    files.push_back(std::string("unreadable expected.json: ") + e.what());
  }
  return files;
}

std::string shorten(const std::string& message) {
  return message.size() <= 400 ? message : message.substr(0, 400) + "...";
}

// Loads the model, then runs it once on zero inputs (dynamic dimensions taken as 1), as the
// onnx_import fuzz target does. Returns what was thrown: "" for nothing, else the message,
// prefixed with "[other exception] " unless it was a qs::Error.
std::string load_and_run(const std::string& path) {
  try {
    qs::LoadOptions options;
    options.max_bytes = static_cast<std::int64_t>(kMaxBytes);
    const qs::Graph g = qs::load_model(path, options);
    qs::TensorMap inputs;
    for (const qs::ValueInfo& in : g.inputs) {
      qs::Shape shape = in.shape;
      for (auto& d : shape)
        if (d < 0) d = 1;
      inputs[in.name] = qs::Tensor(in.dtype, shape);  // over max_tensor_bytes: an Error
    }
    qs::ReferenceExecutor(g).run(inputs);
    return "";
  } catch (const qs::Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("[other exception] ") + e.what();
  } catch (...) {
    return "[other exception] (not a std::exception)";
  }
}

// External data that leads out of the model's folder through a link made here, at run time
// (git does not keep hard links, nor symlinks everywhere): <tmp>/model/<model> next to
// link.bin -> ../secret.bin (a symlink) and hard.bin (a hard link to <tmp>/secret.bin).
fs::path model_beside_links(const std::string& file) {
  const fs::path root =
      fs::temp_directory_path() / ("qs_hostile_links_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "model");
  const float secret[4] = {1, 2, 3, 4};
  std::ofstream(root / "secret.bin", std::ios::binary)
      .write(reinterpret_cast<const char*>(secret), sizeof secret);
  fs::create_symlink("../secret.bin", root / "model" / "link.bin");
  fs::create_hard_link(root / "secret.bin", root / "model" / "hard.bin");
  fs::copy_file(kCorpus / file, root / "model" / file);
  return root / "model" / file;
}

class HostileModel : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    saved_max_tensor_bytes_ = qs::max_tensor_bytes();
    qs::set_max_tensor_bytes(kMaxBytes);
  }
  void TearDown() override { qs::set_max_tensor_bytes(saved_max_tensor_bytes_); }

 private:
  std::size_t saved_max_tensor_bytes_ = 0;
};

std::string case_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param.substr(0, info.param.rfind(".onnx"));
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name.empty() ? "unnamed" : name;
}

}  // namespace

TEST_P(HostileModel, GivesAClearError) {
  const std::string file = GetParam();
  const auto expected = read_expected();
  ASSERT_TRUE(expected.count(file)) << file;
  ASSERT_TRUE(fs::is_regular_file(kCorpus / file))
      << file << " is listed in expected.json but is not in " << kCorpus;
  std::string path = (kCorpus / file).string();
  if (file == "ext_symlink.onnx" || file == "ext_hardlink.onnx")
    path = model_beside_links(file).string();

  const auto start = std::chrono::steady_clock::now();
  auto result = std::async(std::launch::async, load_and_run, path);
  if (result.wait_for(kWatchdog) == std::future_status::timeout) {
    std::fprintf(stderr, "%s: still loading after %lld s, giving up\n", file.c_str(),
                 static_cast<long long>(kWatchdog.count()));
    std::fflush(stderr);
    std::_Exit(1);  // the worker thread cannot be stopped
  }
  const std::string message = result.get();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  if (file == "ext_symlink.onnx" || file == "ext_hardlink.onnx")
    fs::remove_all(fs::path(path).parent_path().parent_path());

  ASSERT_FALSE(message.empty()) << file << " loaded and ran without an error";
  ASSERT_EQ(message.rfind("[other exception]", 0), std::string::npos)
      << file << ": " << shorten(message);
  for (const std::string& words : expected.at(file))
    EXPECT_NE(message.find(words), std::string::npos)
        << file << ": the message does not say \"" << words << "\": " << shorten(message);
  EXPECT_EQ(message.find('\n'), std::string::npos) << "not one line: " << shorten(message);
  EXPECT_LE(message.size(), kMaxMessage) << shorten(message);
  EXPECT_LT(elapsed, kTimeLimit) << file << " took "
                                 << std::chrono::duration<double>(elapsed).count() << " s";
}

INSTANTIATE_TEST_SUITE_P(Hostile, HostileModel, ::testing::ValuesIn(listed_files()), case_name);

TEST(HostileCorpus, EveryModelFileIsListedInExpectedJson) {
  const auto expected = read_expected();
  std::set<std::string> on_disk;
  for (const auto& entry : fs::directory_iterator(kCorpus))
    if (entry.path().extension() == ".onnx") on_disk.insert(entry.path().filename().string());
  EXPECT_GE(on_disk.size(), 40u) << "the corpus in " << kCorpus << " looks incomplete";
  for (const std::string& file : on_disk)
    EXPECT_TRUE(expected.count(file)) << file << " is not listed in expected.json";
  for (const auto& [file, words] : expected) {
    EXPECT_TRUE(on_disk.count(file)) << file << " is listed in expected.json but missing";
    for (const std::string& w : words) EXPECT_FALSE(w.empty()) << file << ": empty expectation";
  }
}

// A size claim no file in git can make: a (sparse) model file over 2 GiB is refused from its
// size alone, before anything is read.
TEST(HostileCorpus, ModelFileOver2GiBIsRefusedUnread) {
  const fs::path path =
      fs::temp_directory_path() / ("qs_hostile_3gb_" + std::to_string(::getpid()) + ".onnx");
  { std::ofstream(path, std::ios::binary) << "x"; }
  std::error_code ec;
  fs::resize_file(path, std::uintmax_t{3} << 30, ec);
  if (ec) {
    fs::remove(path);
    GTEST_SKIP() << "cannot make a sparse 3 GiB file here: " << ec.message();
  }
  const auto start = std::chrono::steady_clock::now();
  try {
    qs::load_model(path.string());
    ADD_FAILURE() << "a 3 GiB file loaded";
  } catch (const qs::Error& e) {
    EXPECT_NE(std::string(e.what()).find("larger than an ONNX protobuf can be"), std::string::npos)
        << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, kTimeLimit);
  fs::remove(path);
}
