// quantscope-cli demo: every bundled model evaluated on Fashion-MNIST, as a table.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "quantscope/evaluate.h"
#include "quantscope/model.h"
#include "quantscope/model_info.h"

namespace qs::cli {

namespace fs = std::filesystem;

namespace {

// The bundled models: beside the installed program, else in the source tree it was built from.
std::string default_models_dir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path installed = exe.parent_path().parent_path() / "share/quantscope/models";
    if (fs::exists(installed / "models.json")) return installed.string();
  }
  return QS_SOURCE_MODELS_DIR;
}

}  // namespace

int cmd_demo(const std::vector<std::string>& argv) {
  Args args(argv, {{"models", "DIR", "the models folder (default: the bundled models)"},
                   common("limit"),
                   common("batch"),
                   common("device"),
                   common("json")});
  // The demo shows speed too: the fastest CPU device there is, unless --device says otherwise.
  std::unique_ptr<Device> device;
  const auto names = registry().device_names();
  if (!args.has("device") && std::find(names.begin(), names.end(), "cpu-onednn") != names.end()) {
    device = registry().create_device("cpu-onednn");
    if (!device->status().usable) device.reset();
  }
  if (!device) device = open_device(args);
  if (!args.positional().empty()) throw UsageError{"demo takes no positional arguments"};
  const std::string dir = args.get("models", default_models_dir());
  const fs::path manifest = fs::path(dir) / "models.json";
  std::ifstream in(manifest);
  if (!in) throw Error(manifest.string() + ": cannot open the list of bundled models");
  nlohmann::json list;
  try {
    list = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(manifest.string() + ": malformed JSON: " + e.what());
  }
  const long long limit = args.get_int("limit", -1, 1);
  EvalOptions options;
  options.batch = args.get_int("batch", 100, 1);

  nlohmann::json rows = nlohmann::json::array();
  if (!args.flag("json"))
    std::printf("device %s\n\n%-14s %10s %10s %10s %12s %10s %12s\n", device->name().c_str(),
                "model", "params", "MACs", "top-1 %", "pytorch %", "samples", "samples/s");
  for (const auto& [key, entry] : list.at("models").items()) {
    const std::string file = (fs::path(dir) / entry.at("file").get<std::string>()).string();
    Graph g = load_model(file);
    DataOptions data_options;
    data_options.preprocess = preprocess_from_model(g);
    data_options.limit = limit;
    auto data = open_dataset("fashion-mnist:test", data_options);
    EvalResult r = evaluate(g, *data, *device, options, terminal_progress(key));
    const ModelInfo info = describe_model(g);
    const double throughput = r.seconds > 0 ? r.samples / r.seconds : 0;
    nlohmann::json row{{"model", key},
                       {"file", file},
                       {"params", info.total_params},
                       {"macs", info.total_macs},
                       {"samples", r.samples},
                       {"seconds", r.seconds},
                       {"samples_per_second", throughput}};
    // The autoencoder's recorded PSNR is for noisy inputs; here it reconstructs clean ones,
    // so only classifiers are compared with PyTorch.
    if (r.image_output)
      row["psnr_db"] = r.psnr_db;
    else
      row["top1"] = r.top1, row["pytorch_top1"] = entry.value("top1", 0.0);
    rows.push_back(row);
    if (args.flag("json")) continue;
    if (r.image_output)
      std::printf("%-14s %10lld %10lld %10s %12s %10lld %12.0f   PSNR %.2f dB (clean input)\n",
                  key.c_str(), static_cast<long long>(info.total_params),
                  static_cast<long long>(info.total_macs), "-", "-",
                  static_cast<long long>(r.samples), throughput, r.psnr_db);
    else
      std::printf("%-14s %10lld %10lld %10.2f %12.2f %10lld %12.0f\n", key.c_str(),
                  static_cast<long long>(info.total_params),
                  static_cast<long long>(info.total_macs), r.top1, entry.value("top1", 0.0),
                  static_cast<long long>(r.samples), throughput);
  }
  if (args.flag("json"))
    std::printf("%s\n",
                nlohmann::json{{"device", device->name()}, {"models", rows}}.dump(2).c_str());
  return 0;
}

}  // namespace qs::cli
