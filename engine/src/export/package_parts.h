// The parts of a deployment package that are pure functions of what was computed: the manifest,
// the report and the self-check's description. export_package() (package.cpp) runs the model,
// then writes these.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "quantscope/export_package.h"
#include "quantscope/model_info.h"

namespace qs::exporter {

struct PackageContents {
  const Graph* graph = nullptr;  // the float model
  const QuantizedModel* q = nullptr;
  const PackageOptions* options = nullptr;
  PackageResult* result = nullptr;
  std::string source_name, source_sha256, model_sha256, created_utc;
  std::int64_t float_bytes = 0, quantized_bytes = 0;
  std::int64_t quantize_nodes = 0, dequantize_nodes = 0, folded_activations = 0;
  std::int64_t matmul_nbits_nodes = 0;
  // selfcheck/selfcheck.json, also embedded in the manifest.
  std::string selfcheck_json;
};

std::string manifest_json(const PackageContents& c);
std::string report_html(const PackageContents& c);
// The self-check scripts, kept in src/export/selfcheck/ and embedded at build time.
const std::string& selfcheck_node_script();
const std::string& selfcheck_python_script();

}  // namespace qs::exporter
