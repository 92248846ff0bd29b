// The deployment package: a folder (or a .zip) that carries a quantized model to its target.
//   model.onnx           the QDQ model (export.h)
//   manifest.json        schema-versioned: source model and its SHA-256, the configuration and
//                        calibration, the data, float vs quantized metrics (also per class, with
//                        the classes that moved flagged), latency per device, tool, date
//   report.html          self-contained: summary, per-class chart, layer table, latency, notes
//   selfcheck/           reference inputs, Quantscope's outputs for them, and the scripts
//                        (Node or Python ONNX Runtime) that check the package on the target
//   checksums.sha256     every other file's SHA-256, as sha256sum writes them
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "quantscope/analysis.h"
#include "quantscope/bench.h"
#include "quantscope/dataset.h"
#include "quantscope/device.h"
#include "quantscope/evaluate.h"
#include "quantscope/export.h"
#include "quantscope/job.h"
#include "quantscope/quant.h"
#include "quantscope/search.h"

namespace qs {

struct PackageLatency {
  std::string precision;  // "fp32", "int8", "simulated"
  BenchResult result;
};

struct PackageOptions {
  std::string output;       // a folder, or a file ending in .zip
  std::string source_path;  // the model file (for its name and SHA-256)
  QdqExportOptions qdq;
  Dataset* data = nullptr;             // evaluation data: metrics and per-class accuracy (optional)
  std::string data_description;        // the spec and how many samples
  Device* device = nullptr;            // runs the evaluation (cpu-ref when null)
  double class_threshold = 2.0;        // percentage points a class may move before it is flagged
  std::int64_t reference_samples = 8;  // inputs in selfcheck/ (from the data, else random)
  std::vector<PackageLatency> latency;  // measured by the caller, written as given
  // Earlier analysis of this model, drawn in the report when given (not owned).
  const SensitivityResult* sensitivity = nullptr;
  const SearchResult* search = nullptr;
  std::string tool_version;
};

struct ClassAccuracy {
  std::int64_t label = 0, samples = 0;
  double float_top1 = 0, quantized_top1 = 0;  // percent
  bool flagged = false;                       // |quantized - float| > class_threshold
};

struct PackageResult {
  std::string path;
  std::vector<std::string> files;  // relative to the package
  std::int64_t opset = 0;
  std::vector<std::string> notes;
  bool evaluated = false;
  PairEvalResult metrics;
  std::vector<ClassAccuracy> classes;
  std::vector<std::int64_t> flagged_classes;
};

// Why the package of `graph` cannot take evaluation data, or "" when it can (a language
// model's package is checked on a window of token ids; its report does not score text yet).
std::string package_data_refusal(const Graph& graph);

// Exports `q` on `graph` and writes the package. A folder `output` must not exist, be empty, or
// hold a previous package (its manifest.json says so), which is then replaced; a .zip is written
// atomically. Throws Error naming what is wrong; Cancelled when the job is cancelled.
PackageResult export_package(const Graph& graph, const QuantizedModel& q,
                             const PackageOptions& options, const JobControl& job = {});

}  // namespace qs
