// export_package(): evaluates, exports, and writes the package through a staging folder beside
// the output, so that a failure or a kill leaves the previous package (or nothing) in place.
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "export/package_parts.h"
#include "export/sha256.h"
#include "export/zip_writer.h"
#include "quantscope/atomic_file.h"
#include "quantscope/error.h"
#include "quantscope/executor.h"
#include "quantscope/export_package.h"
#include "quantscope/language_model.h"
#include "quantscope/npy.h"
#include "runtime/cpu_ref_device.h"

namespace qs {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A folder output must be new, empty, or an earlier package (which is replaced).
void check_folder_output(const fs::path& out) {
  std::error_code ec;
  if (!fs::exists(out, ec)) return;
  if (!fs::is_directory(out, ec))
    throw Error(out.string() + ": exists and is not a folder; give a new folder or a .zip path");
  if (fs::is_empty(out, ec)) return;
  std::ifstream in(out / "manifest.json");
  nlohmann::json m = nlohmann::json::parse(in, nullptr, false);
  if (!in || m.is_discarded() || !m.is_object() || m.value("format", "") != "quantscope-package")
    throw Error(out.string() +
                ": the folder exists and is not a Quantscope package; choose a new folder (nothing "
                "in it was changed)");
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) throw Error(path.string() + ": write failed (is the disk full?)");
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in && !in.eof()) throw Error(path.string() + ": read failed");
  return s;
}

// Removes the staging folder unless it was moved into place.
struct Staging {
  fs::path dir;
  ~Staging() {
    std::error_code ec;
    if (!dir.empty()) fs::remove_all(dir, ec);
  }
};

// The self-check's reference inputs: the first samples of the data, else seeded normal values
// in each input's declared shape (dynamic dimensions as 1, the batch as `count`). A decoder's:
// one window of seeded token ids from position 0 with nothing cached.
TensorMap reference_inputs(const Graph& graph, Dataset* data, std::int64_t count) {
  TensorMap inputs;
  if (const std::optional<DecoderLayout> layout = decoder_layout(graph)) {
    constexpr std::int64_t kTokens = 16;
    Tensor ids(DType::i64, {1, kTokens});
    std::mt19937 rng(7);
    std::uniform_int_distribution<std::int64_t> token(0,
                                                      std::max<std::int64_t>(layout->vocab, 2) - 1);
    for (std::int64_t k = 0; k < kTokens; ++k) ids.data<std::int64_t>()[k] = token(rng);
    return decoder_inputs(*layout, ids);
  }
  for (std::size_t i = 0; i < graph.inputs.size(); ++i) {
    const ValueInfo& in = graph.inputs[i];
    if (in.dtype != DType::f32)
      throw Error("input '" + in.name + "' is " + dtype_name(in.dtype) +
                  "; the self-check writes float32 inputs only");
    if (i == 0 && data && data->size() > 0) {
      inputs[in.name] = data->read(0, std::min(count, data->size())).inputs;
      continue;
    }
    Shape shape = in.shape;
    for (std::size_t d = 0; d < shape.size(); ++d)
      if (shape[d] < 0) shape[d] = d == 0 ? count : 1;
    Tensor t(DType::f32, shape);
    std::mt19937 rng(static_cast<unsigned>(7 + i));
    std::normal_distribution<float> normal;
    for (std::int64_t k = 0; k < t.numel(); ++k) t.data<float>()[k] = normal(rng);
    inputs[in.name] = t;
  }
  return inputs;
}

// Process id, a per-process counter and the time: two exports at once never share a folder.
std::string unique_suffix() {
  static std::atomic<unsigned> counter{0};
  return std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
}

std::string file_safe(const std::string& name) {
  std::string s = name;
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') c = '_';
  return s;
}

}  // namespace

std::string package_data_refusal(const Graph& graph) {
  if (!decoder_layout(graph)) return "";
  return "a language model's package is checked on a window of token ids; scoring text in its "
         "report (perplexity, KL divergence) is not in packages yet: export without --data";
}

PackageResult export_package(const Graph& graph, const QuantizedModel& q,
                             const PackageOptions& options, const JobControl& job) {
  if (options.output.empty()) throw Error("export: no output path given (-o DIR or FILE.zip)");
  if (options.data && !package_data_refusal(graph).empty())
    throw Error("export: " + package_data_refusal(graph));
  const bool zip = ends_with(options.output, ".zip");
  fs::path out = fs::absolute(options.output).lexically_normal();
  if (out.filename().empty()) out = out.parent_path();  // "pkg/" names the folder pkg
  if (!zip) check_folder_output(out);
  std::error_code ec;
  if (!fs::is_directory(out.parent_path(), ec))
    throw Error(out.parent_path().string() +
                ": the folder to write the package into does not exist");

  PackageResult result;
  result.path = out.string();
  job.report(0.0, "exporting the QDQ model");
  QdqExportOptions qdq_options = options.qdq;
  if (qdq_options.producer_version.empty()) qdq_options.producer_version = options.tool_version;
  const QdqModel qdq = export_qdq(graph, q, qdq_options);
  result.opset = qdq.opset;
  result.notes = qdq.notes;
  const Graph sim = apply_quantization(graph, q);

  CpuRefDevice cpu_ref;
  Device& device = options.device ? *options.device : static_cast<Device&>(cpu_ref);
  if (options.data) {
    JobControl eval_job;
    eval_job.cancel = job.cancel;
    eval_job.progress = [&job](double f, const std::string& m) {
      job.report(0.05 + 0.85 * f, "evaluating float and quantized: " + m);
    };
    result.metrics = evaluate_pair(graph, sim, *options.data, device, device, {}, eval_job);
    result.evaluated = true;
    const auto& ref = result.metrics.reference;
    const auto& cand = result.metrics.candidate;
    for (std::size_t c = 0; c < ref.class_samples.size(); ++c) {
      ClassAccuracy a;
      a.label = static_cast<std::int64_t>(c);
      a.samples = ref.class_samples[c];
      if (a.samples == 0) continue;
      a.float_top1 = 100.0 * double(ref.class_correct[c]) / double(a.samples);
      a.quantized_top1 = 100.0 * double(cand.class_correct[c]) / double(a.samples);
      a.flagged = std::abs(a.quantized_top1 - a.float_top1) > options.class_threshold;
      if (a.flagged) result.flagged_classes.push_back(a.label);
      result.classes.push_back(a);
    }
  }
  job.check();
  job.report(0.92, "writing the package");

  Staging staging;
  staging.dir = out.parent_path() / ("." + out.filename().string() + ".staging-" + unique_suffix());
  fs::remove_all(staging.dir, ec);
  fs::create_directories(staging.dir / "selfcheck", ec);
  if (ec) throw Error(staging.dir.string() + ": cannot create the folder: " + ec.message());

  write_text(staging.dir / "model.onnx", qdq.onnx);
  // Self-check: reference inputs and Quantscope's simulated outputs for them.
  // A model with a fixed batch checks one batch of exactly that size: the runtime on the target
  // is given the model's own shape.
  const std::int64_t batch = fixed_batch(graph);
  const std::int64_t samples = batch > 0 ? batch : options.reference_samples;
  Dataset* data = options.data && options.data->size() >= samples ? options.data : nullptr;
  const TensorMap inputs = reference_inputs(graph, batch > 0 ? data : options.data, samples);
  std::unique_ptr<CompiledGraph> compiled = cpu_ref.compile(sim);
  const TensorMap expected = compiled->run(inputs);
  nlohmann::json check;
  check["model"] = "model.onnx";
  check["inputs"] = nlohmann::json::array();
  check["outputs"] = nlohmann::json::array();
  int index = 0;  // in the file names: two tensor names may map to one safe name
  for (const auto& [name, t] : inputs) {
    const std::string file =
        "selfcheck/input_" + std::to_string(index++) + "_" + file_safe(name) + ".npy";
    write_npy((staging.dir / file).string(), t);
    check["inputs"].push_back({{"name", name}, {"file", file}});
  }
  for (const ValueInfo& o : graph.outputs) {
    const Tensor& t = expected.at(o.name);
    const std::string file =
        "selfcheck/expected_" + std::to_string(index++) + "_" + file_safe(o.name) + ".npy";
    write_npy((staging.dir / file).string(), t);
    // Runtimes with integer kernels round some intermediate codes the other way (ties, float
    // order); 1% of the output's range bounds what that moves, while a wrong model or runtime
    // moves outputs by far more.
    double range = 0;
    for (float v : t.values<float>()) range = std::max(range, std::abs(double(v)));
    check["outputs"].push_back({{"name", o.name}, {"file", file}, {"atol", 0.01 * range + 1e-5}});
  }
  check["tolerance"] =
      "per output: |ONNX Runtime - Quantscope| <= atol = 1% of the largest "
      "|expected| value + 1e-5";
  write_text(staging.dir / "selfcheck" / "selfcheck.mjs", exporter::selfcheck_node_script());
  write_text(staging.dir / "selfcheck" / "selfcheck.py", exporter::selfcheck_python_script());
  write_text(staging.dir / "selfcheck" / "selfcheck.json", check.dump(2) + "\n");

  exporter::PackageContents c;
  c.graph = &graph;
  c.q = &q;
  c.options = &options;
  c.result = &result;
  c.source_name =
      options.source_path.empty() ? graph.name : fs::path(options.source_path).filename().string();
  // A package opened as the source: its model file is what is fingerprinted.
  std::string source_file = options.source_path;
  if (!source_file.empty() && fs::is_directory(source_file, ec))
    source_file = (fs::path(source_file) / "model.onnx").string();
  c.source_sha256 = source_file.empty() ? "" : exporter::sha256_file(source_file);
  c.model_sha256 = exporter::sha256_hex(qdq.onnx);
  c.created_utc = utc_now();
  c.float_bytes = model_size_bytes(graph);
  c.quantized_bytes = model_size_bytes(graph, &q);
  c.quantize_nodes = qdq.quantize_nodes;
  c.dequantize_nodes = qdq.dequantize_nodes;
  c.matmul_nbits_nodes = qdq.matmul_nbits_nodes;
  c.folded_activations = qdq.folded_activations;
  c.selfcheck_json = check.dump();
  write_text(staging.dir / "manifest.json", exporter::manifest_json(c));
  write_text(staging.dir / "report.html", exporter::report_html(c));

  // Checksums of every file, in a stable order.
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(staging.dir))
    if (e.is_regular_file()) files.push_back(fs::relative(e.path(), staging.dir).generic_string());
  std::sort(files.begin(), files.end());
  std::string sums;
  for (const std::string& f : files)
    sums += exporter::sha256_file((staging.dir / f).string()) + "  " + f + "\n";
  write_text(staging.dir / "checksums.sha256", sums);
  files.push_back("checksums.sha256");
  result.files = files;
  job.check();

  if (zip) {
    std::vector<std::pair<std::string, std::string>> entries;
    for (const std::string& f : files) entries.emplace_back(f, read_bytes(staging.dir / f));
    const std::string archive = exporter::zip_archive(entries);
    write_file_atomically(out.string(),
                          [&](const ByteSink& sink) { sink(archive.data(), archive.size()); });
    return result;
  }
  // Swap the staging folder in; an earlier package moves aside first and comes back on failure.
  const fs::path old =
      out.parent_path() / ("." + out.filename().string() + ".old-" + unique_suffix());
  const bool had = fs::exists(out, ec);
  if (had) {
    fs::rename(out, old, ec);
    if (ec) throw Error(out.string() + ": cannot move the earlier package aside: " + ec.message());
  }
  fs::rename(staging.dir, out, ec);
  if (ec) {
    std::error_code restore;
    if (had) fs::rename(old, out, restore);
    throw Error(out.string() + ": cannot move the package into place: " + ec.message() +
                (had && restore ? "; the earlier package is in " + old.string() : ""));
  }
  staging.dir.clear();
  if (had) fs::remove_all(old, ec);
  return result;
}

}  // namespace qs
