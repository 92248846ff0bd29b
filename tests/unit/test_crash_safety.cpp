// Nothing lost on a crash: a process killed with SIGKILL in the middle of saving, many times
// over, always leaves either the old file or the new one, whole.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "quantscope/atomic_file.h"
#include "quantscope/project.h"
#include "quantscope/quant.h"

namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A file that says whether it is whole: "<version> <size> <checksum>\n" then `size` bytes.
std::string versioned_content(std::uint64_t version) {
  std::mt19937_64 rng(version);
  const std::size_t size = 1000 + rng() % 3'000'000;  // up to 3 MB: saves take a while
  std::string payload(size, '\0');
  std::uint64_t sum = 0;
  for (char& c : payload) {
    c = static_cast<char>('a' + rng() % 26);
    sum = sum * 31 + static_cast<unsigned char>(c);
  }
  return std::to_string(version) + " " + std::to_string(size) + " " + std::to_string(sum) + "\n" +
         payload;
}

// The version of a whole file; -1 when it is torn.
long long whole_version(const std::string& text) {
  std::istringstream in(text);
  unsigned long long version = 0, sum = 0;
  std::size_t size = 0;
  if (!(in >> version >> size >> sum)) return -1;
  const std::size_t start = text.find('\n');
  if (start == std::string::npos || text.size() - start - 1 != size) return -1;
  std::uint64_t check = 0;
  for (std::size_t i = start + 1; i < text.size(); ++i)
    check = check * 31 + static_cast<unsigned char>(text[i]);
  return check == sum ? static_cast<long long>(version) : -1;
}

// Forks a child that runs `save(i)` for i = 1, 2, ... until it is killed after `delay`.
template <typename Save>
void kill_while_saving(Save save, std::chrono::microseconds delay) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    for (std::uint64_t i = 1;; ++i) save(i);
  }
  std::this_thread::sleep_for(delay);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
}

}  // namespace

TEST(CrashSafety, SigkillDuringSavesLeavesAWholeFile) {
  const fs::path dir = fs::temp_directory_path() / "qs_test_crash_safety";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path file = dir / "project.json";
  const std::string first = versioned_content(0);
  qs::write_file_atomically(file.string(),
                            [&](const qs::ByteSink& sink) { sink(first.data(), first.size()); });
  std::mt19937 rng(42);
  long long last = 0;
  int changed = 0;
  const int rounds = 60;
  for (int round = 0; round < rounds; ++round) {
    const std::uint64_t base = static_cast<std::uint64_t>(round + 1) * 1'000'000;
    kill_while_saving(
        [&](std::uint64_t i) {
          const std::string text = versioned_content(base + i);
          qs::write_file_atomically(file.string(), [&](const qs::ByteSink& sink) {
            // In pieces, as a serializer writes: a kill can land between them.
            for (std::size_t at = 0; at < text.size(); at += 65536)
              sink(text.data() + at, std::min<std::size_t>(65536, text.size() - at));
          });
        },
        std::chrono::microseconds(1000 + rng() % 40000));
    const long long v = whole_version(slurp(file));
    ASSERT_GE(v, 0) << "round " << round << ": the file is torn";
    ASSERT_TRUE(v == last || v > static_cast<long long>(base)) << "round " << round;
    changed += v != last;
    last = v;
  }
  EXPECT_GT(changed, 0);
  // Temporaries of killed writers are cleaned by the next save: at most the last one is left.
  int temporaries = 0;
  for (const auto& e : fs::directory_iterator(dir)) temporaries += e.path() != file;
  EXPECT_LE(temporaries, 1);
  fs::remove_all(dir);
}

TEST(CrashSafety, SigkillDuringConfigurationSavesLeavesAReadableOne) {
  const fs::path dir = fs::temp_directory_path() / "qs_test_crash_safety_config";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path file = dir / "config.json";
  qs::QuantizedModel q;
  q.model_name = "v0";
  qs::save_quantized_model(file.string(), q);
  std::mt19937 rng(7);
  for (int round = 0; round < 30; ++round) {
    kill_while_saving(
        [&](std::uint64_t i) {
          qs::QuantizedModel m;
          m.model_name = "v" + std::to_string(round) + "." + std::to_string(i);
          m.notes.assign(20000 + i % 1000, std::string(40, 'n'));  // ~1 MB of JSON
          qs::save_quantized_model(file.string(), m);
        },
        std::chrono::microseconds(1000 + rng() % 30000));
    const qs::QuantizedModel back = qs::load_quantized_model(file.string());  // throws if torn
    EXPECT_FALSE(back.model_name.empty());
  }
  fs::remove_all(dir);
}

// The project file and its autosave are written by save_project: killed mid-save, a project
// always loads whole, as the old one or a new one.
TEST(CrashSafety, SigkillDuringProjectSavesLeavesALoadableOne) {
  const fs::path dir = fs::temp_directory_path() / "qs_test_crash_safety_project";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path file = dir / "p.qsproj";
  auto project = [](std::uint64_t version) {
    qs::Project p;
    p.model_path = "/models/m.onnx";
    p.calibration = "fashion-mnist:train";
    p.evaluation = "fashion-mnist:test";
    p.device = "cpu-ref";
    p.settings = "{\"version\":" + std::to_string(version) + "}";
    // A large cached result (~250 KB), as a sweep of a big model is.
    std::string result = "{\"notes\":[";
    for (int i = 0; i < 6000; ++i) result += (i ? ",\"" : "\"") + std::string(40, 'n') + "\"";
    result += "]}";
    qs::store_cached(p, {"analyze", qs::result_key({std::to_string(version)}), {}, result});
    return p;
  };
  auto version_of = [](const qs::Project& p) {
    return std::stoull(p.settings.substr(p.settings.find(':') + 1));
  };
  qs::save_project(file.string(), project(0));
  std::mt19937 rng(11);
  std::uint64_t last = 0;
  int changed = 0;
  for (int round = 0; round < 30; ++round) {
    const std::uint64_t base = static_cast<std::uint64_t>(round + 1) * 1'000'000;
    kill_while_saving([&](std::uint64_t i) { qs::save_project(file.string(), project(base + i)); },
                      std::chrono::microseconds(2000 + rng() % 120000));
    const qs::Project back = qs::load_project(file.string());  // throws if torn
    ASSERT_EQ(back.cache.size(), 1u) << "round " << round;
    const std::uint64_t v = version_of(back);
    ASSERT_TRUE(v == last || v > base) << "round " << round;
    changed += v != last;
    last = v;
  }
  EXPECT_GT(changed, 0);
  fs::remove_all(dir);
}
