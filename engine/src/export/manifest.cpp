// manifest.json: what the package holds and how it was made, for people and for tools.
#include <nlohmann/json.hpp>

#include "export/package_parts.h"

namespace qs::exporter {

namespace {

nlohmann::json class_json(const ClassAccuracy& a) {
  return {{"label", a.label},
          {"samples", a.samples},
          {"float_top1", a.float_top1},
          {"quantized_top1", a.quantized_top1},
          {"change", a.quantized_top1 - a.float_top1},
          {"flagged", a.flagged}};
}

}  // namespace

std::string manifest_json(const PackageContents& c) {
  const PackageOptions& o = *c.options;
  const PackageResult& r = *c.result;
  nlohmann::json m;
  m["format"] = "quantscope-package";
  m["schema_version"] = 1;
  m["tool"] = {{"name", "quantscope"}, {"version", o.tool_version}};
  m["created"] = c.created_utc;
  m["source_model"] = {{"name", c.source_name},
                       {"sha256", c.source_sha256},
                       {"opset", c.graph->opset},
                       {"size_bytes", c.float_bytes}};
  m["model"] = {{"file", "model.onnx"},
                {"format", "onnx-qdq"},
                {"opset", r.opset},
                {"sha256", c.model_sha256},
                {"quantize_nodes", c.quantize_nodes},
                {"dequantize_nodes", c.dequantize_nodes},
                {"matmul_nbits_nodes", c.matmul_nbits_nodes},
                {"folded_activations", c.folded_activations},
                {"size_bytes_under_config", c.quantized_bytes}};
  m["quantization"] = nlohmann::json::parse(quant_config_to_json(c.q->config));
  m["calibration"] = {{"data", c.q->calibration_data},
                      {"samples", c.q->calibration_samples},
                      {"notes", c.q->notes}};
  nlohmann::json eval = nullptr;
  if (r.evaluated) {
    const PairEvalResult& p = r.metrics;
    eval = {{"data", o.data_description},
            {"samples", p.reference.samples},
            {"float", {{"top1", p.reference.top1}, {"top5", p.reference.top5}}},
            {"quantized", {{"top1", p.candidate.top1}, {"top5", p.candidate.top5}}},
            {"simulated_on", p.candidate.device},
            {"sqnr_db", p.sqnr_db}};
    if (p.classifier) {
      eval["agreement"] = p.agreement;
      eval["kl"] = p.kl;
    }
    if (p.reference.image_output) {
      eval["float"]["psnr_db"] = p.reference.psnr_db;
      eval["quantized"]["psnr_db"] = p.candidate.psnr_db;
    }
    nlohmann::json classes = nlohmann::json::array();
    for (const ClassAccuracy& a : r.classes) classes.push_back(class_json(a));
    eval["per_class"] = classes;
    eval["class_threshold"] = o.class_threshold;
    eval["flagged_classes"] = r.flagged_classes;
  }
  m["evaluation"] = eval;
  nlohmann::json latency = nlohmann::json::array();
  for (const PackageLatency& l : o.latency) {
    const BenchResult& b = l.result;
    latency.push_back({{"device", b.device},
                       {"precision", l.precision},
                       {"batch", b.batch},
                       {"threads", b.threads},
                       {"median_ms", b.end_to_end.median_ms},
                       {"p90_ms", b.end_to_end.p90_ms},
                       {"runs", b.end_to_end.runs},
                       {"unstable", b.unstable},
                       {"environment", b.environment}});
  }
  m["latency"] = latency;
  m["selfcheck"] = nlohmann::json::parse(c.selfcheck_json);
  m["notes"] = r.notes;
  return m.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace qs::exporter
