// quantscope-conformance: ONNX's backend node tests against a device.
// Exit status 1 when any supported test fails, 2 on bad usage, 77 when the device is not
// usable on this machine.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "node_test.h"
#include "quantscope/registry.h"

namespace fs = std::filesystem;
using namespace qs::conformance;

namespace {

const char* kUsage =
    "usage: quantscope-conformance --device NAME [--data-dir DIR] [--filter TEXT] [--json]\n"
    "                              [--json-out FILE] [--min-passed N] [--verbose]\n"
    "  Runs every ONNX node test in DIR (default /usr/share/libonnx-testdata/data/node) on the\n"
    "  device. Tests whose ops or dtypes the device lacks are reported as unsupported.\n"
    "  --min-passed N fails the run when fewer than N tests pass (a lost op shows).\n";

}  // namespace

int main(int argc, char** argv) {
  std::string device, data_dir = "/usr/share/libonnx-testdata/data/node", filter, json_out;
  bool json = false, verbose = false;
  long min_passed = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n%s", a.c_str(), kUsage);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--device")
      device = value();
    else if (a == "--data-dir")
      data_dir = value();
    else if (a == "--filter")
      filter = value();
    else if (a == "--json-out")
      json_out = value();
    else if (a == "--min-passed")
      min_passed = std::strtol(value().c_str(), nullptr, 10);
    else if (a == "--json")
      json = true;
    else if (a == "--verbose")
      verbose = true;
    else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "unknown argument '%s'\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  if (device.empty()) {
    std::fprintf(stderr, "missing --device\n%s", kUsage);
    return 2;
  }
  qs::Registry registry = qs::make_default_registry();
  std::unique_ptr<qs::Device> dev;
  try {
    dev = registry.create_device(device);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "quantscope-conformance: %s\n", e.what());
    return 1;
  }
  if (const qs::DeviceStatus st = dev->status(); !st.usable) {
    // Exit status 77: CTest reports the test as skipped (SKIP_RETURN_CODE), not passed.
    std::printf("SKIP: device %s is not usable here: %s\n", device.c_str(), st.reason.c_str());
    return 77;
  }
  std::error_code ec;
  if (!fs::is_directory(data_dir, ec)) {
    std::fprintf(stderr, "quantscope-conformance: %s: no such folder (install libonnx-testdata)\n",
                 data_dir.c_str());
    return 1;
  }
  std::vector<std::string> dirs;
  for (const auto& entry : fs::directory_iterator(data_dir))
    if (fs::exists(entry.path() / "model.onnx") &&
        entry.path().filename().string().find(filter) != std::string::npos)
      dirs.push_back(entry.path().string());
  std::sort(dirs.begin(), dirs.end());

  int passed = 0, failed = 0, unsupported = 0;
  nlohmann::json tests = nlohmann::json::array();
  for (const std::string& dir : dirs) {
    NodeTestResult r = run_node_test(dir, *dev);
    passed += r.status == Status::passed;
    failed += r.status == Status::failed;
    unsupported += r.status == Status::unsupported;
    tests.push_back({{"name", r.name}, {"status", status_name(r.status)}, {"detail", r.detail}});
    if (!json && (r.status == Status::failed || verbose))
      std::printf("%-11s %s  %s\n", status_name(r.status), r.name.c_str(), r.detail.c_str());
  }
  nlohmann::json report{{"device", device},
                        {"passed", passed},
                        {"failed", failed},
                        {"unsupported", unsupported},
                        {"tests", tests}};
  if (!json_out.empty()) std::ofstream(json_out) << report.dump(2) << "\n";
  if (json)
    std::printf("%s\n", report.dump(2).c_str());
  else
    std::printf("device %s: %d passed, %d failed, %d unsupported (of %zu node tests)\n",
                device.c_str(), passed, failed, unsupported, dirs.size());
  if (passed < min_passed) {
    std::printf("FAIL: %d tests passed, fewer than the %ld expected (--min-passed)\n", passed,
                min_passed);
    return 1;
  }
  return failed > 0 ? 1 : 0;
}
