// quantscope-cli export: the deployment package (QDQ ONNX, manifest, report, self-check).
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_common.h"
#include "quantscope/bench.h"
#include "quantscope/export_package.h"
#include "quantscope/model.h"
#include "quantscope/results_json.h"

namespace qs::cli {

namespace {

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream s(text);
  for (std::string item; std::getline(s, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

// fp32, and the quantized model for real where the device has integer kernels (simulated
// otherwise), on each device named by --bench.
std::vector<PackageLatency> measure_latency(const Graph& g, const QuantizedModel& q,
                                            const Args& args) {
  std::vector<PackageLatency> out;
  if (!args.has("bench")) return out;
  BenchOptions options;
  options.batch = args.get_int("batch", 1, 1);
  options.threads = static_cast<int>(args.get_int("threads", 0, 0));
  options.min_seconds = 0.5;
  const Graph sim = apply_quantization(g, q);
  for (const std::string& name : split_list(args.get("bench"))) {
    std::unique_ptr<Device> device = registry().create_device(name);
    const DeviceStatus status = device->status();
    if (!status.usable)
      throw Error("--bench: device '" + name + "' is not usable: " + status.reason);
    out.push_back({"fp32", benchmark(g, *device, options)});
    const bool real = device->use_integer_kernels(true);
    out.push_back({real ? "int8" : "simulated", benchmark(sim, *device, options)});
  }
  return out;
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open the file");
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error(path + ": not a JSON object");
  return j;
}

}  // namespace

int cmd_export(const std::vector<std::string>& argv) {
  Args args(
      argv,
      {common("config"),
       {"o", "DIR|FILE.zip", "where the package is written (a folder, or a .zip)"},
       {"output", "DIR|FILE.zip", "the same as -o"},
       common("data"),
       common("limit"),
       common("mean"),
       common("std"),
       common("device"),
       {"opset", "N",
        "the ONNX opset of model.onnx (default: the lowest that holds the quantization)"},
       {"matmul-nbits", "",
        "weight-only MatMuls as ONNX Runtime's com.microsoft MatMulNBits (ONNX Runtime GenAI's "
        "form; only ONNX Runtime runs the file)"},
       {"class-threshold", "P", "flag classes whose top-1 moves by more than P points (default 2)"},
       {"samples", "K", "reference inputs in selfcheck/ (default 8)"},
       {"bench", "DEVICE[,DEVICE]", "time float and quantized on these devices"},
       common("batch"),
       common("threads"),
       {"sensitivity", "SENS.json", "the JSON of 'sensitivity --json', drawn in report.html"},
       {"search", "SEARCH.json", "the JSON of 'search --json', drawn in report.html"},
       common("json")});
  const std::string path = single_model_argument(args);
  if (!args.has("config")) throw UsageError{"missing --config CONFIG.json"};
  const std::string output = args.get("o", args.get("output"));
  if (output.empty()) throw UsageError{"missing -o DIR or -o FILE.zip"};

  const Graph g = load_model_for_data(path);
  const QuantizedModel q = load_quantized_model(args.get("config"));
  PackageOptions options;
  options.output = output;
  options.source_path = path;
  options.qdq.opset = args.get_int("opset", 0, 0);
  options.qdq.matmul_nbits = args.flag("matmul-nbits");
  options.tool_version = QS_VERSION;
  options.reference_samples = args.get_int("samples", 8, 1);
  if (args.has("class-threshold")) {
    const std::vector<float> t = args.get_floats("class-threshold");
    if (t.size() != 1 || !(t[0] >= 0)) throw UsageError{"--class-threshold takes one number >= 0"};
    options.class_threshold = t[0];
  }
  std::unique_ptr<Dataset> data;
  if (args.has("data") && !package_data_refusal(g).empty()) throw Error(package_data_refusal(g));
  if (args.has("data")) {
    DataOptions data_options;
    data_options.preprocess = preprocess_for(g, args);
    data_options.limit = args.get_int("limit", -1, 0);
    data = open_dataset(args.get("data"), data_options);
    options.data = data.get();
    options.data_description = data->describe();
  }
  std::unique_ptr<Device> device = open_device(args);
  options.device = device.get();
  options.latency = measure_latency(g, q, args);
  SensitivityResult sensitivity;
  SearchResult search;
  if (args.has("sensitivity")) {
    sensitivity =
        sensitivity_from_json(read_json(args.get("sensitivity")).dump(), args.get("sensitivity"));
    options.sensitivity = &sensitivity;
  }
  if (args.has("search")) {
    search = search_result_from_json(read_json(args.get("search")).dump(), args.get("search"));
    options.search = &search;
  }
  const PackageResult r = export_package(g, q, options, terminal_progress("export"));

  if (args.flag("json")) {
    nlohmann::json j{{"package", r.path},
                     {"files", r.files},
                     {"opset", r.opset},
                     {"notes", r.notes},
                     {"flagged_classes", r.flagged_classes}};
    if (r.evaluated) {
      j["fp32_top1"] = r.metrics.reference.top1;
      j["top1"] = r.metrics.candidate.top1;
      j["agreement"] = r.metrics.classifier ? nlohmann::json(r.metrics.agreement) : nullptr;
      j["samples"] = r.metrics.candidate.samples;
    }
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("package    %s\nmodel      model.onnx (QDQ, opset %lld)\nfiles      %zu\n",
              r.path.c_str(), static_cast<long long>(r.opset), r.files.size());
  if (r.evaluated && r.metrics.reference.has_labels && !r.metrics.reference.image_output)
    std::printf("top-1      %.2f %% float, %.2f %% quantized (%lld samples)\n",
                r.metrics.reference.top1, r.metrics.candidate.top1,
                static_cast<long long>(r.metrics.candidate.samples));
  if (r.evaluated && !r.classes.empty()) {
    if (r.flagged_classes.empty())
      std::printf("classes    none moved by more than %.1f points\n", options.class_threshold);
    else
      for (const ClassAccuracy& a : r.classes)
        if (a.flagged)
          std::printf("WARNING    class %lld: %.2f %% float -> %.2f %% quantized\n",
                      static_cast<long long>(a.label), a.float_top1, a.quantized_top1);
  }
  for (const std::string& n : r.notes) std::printf("note       %s\n", n.c_str());
  std::printf("self-check node %s/selfcheck/selfcheck.mjs\n", output.c_str());
  return 0;
}

}  // namespace qs::cli
