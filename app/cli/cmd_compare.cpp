// quantscope-cli compare: one sample through the float and the quantized model, with pictures.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "compare_png.h"
#include "quantscope/compare.h"
#include "quantscope/model.h"

namespace qs::cli {

namespace {

nlohmann::json finite(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

nlohmann::json hist_json(const Histogram& h) {
  return {{"lo", h.lo}, {"hi", h.hi}, {"counts", h.counts}};
}

nlohmann::json topk_json(const std::vector<ClassScore>& k) {
  nlohmann::json j = nlohmann::json::array();
  for (const ClassScore& c : k) j.push_back({{"class", c.index}, {"probability", c.probability}});
  return j;
}

// A layer name as a file name part: "/blocks/blocks.0/dw/Conv" -> "blocks.blocks.0.dw.Conv".
std::string file_part(const std::string& name) {
  std::string s;
  for (char c : name) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
    if (ok)
      s += c;
    else if (!s.empty() && s.back() != '.')
      s += '.';
  }
  while (!s.empty() && s.back() == '.') s.pop_back();
  return s.empty() ? "layer" : s.substr(0, 80);
}

}  // namespace

int cmd_compare(const std::vector<std::string>& argv) {
  Args args(argv,
            {common("config"),
             common("data"),
             common("limit"),
             common("mean"),
             common("std"),
             common("device"),
             {"sample", "K", "the sample of --data to run (default 0)"},
             {"topk", "K", "classes listed for classifiers (default 5)"},
             {"bins", "B", "histogram bins (default 64)"},
             {"o", "DIR",
              "write PNGs there: the input, the output images and their error map, the histograms"},
             common("json")});
  const std::string path = single_model_argument(args);
  if (!args.has("config")) throw UsageError{"missing --config CONFIG.json"};
  if (!args.has("data")) throw UsageError{"missing --data SPEC"};
  CompareOptions options;
  options.bins = static_cast<int>(args.get_int("bins", 64, 1));
  options.topk = static_cast<int>(args.get_int("topk", 5, 1));
  const std::int64_t sample = args.get_int("sample", 0, 0);

  std::unique_ptr<Device> device = open_device(args);
  const Graph g = load_model_for_data(path);
  const QuantizedModel q = load_quantized_model(args.get("config"));
  DataOptions data_options = data_options_for(g, args);
  auto data = open_dataset(args.get("data"), data_options);
  const SampleComparison r = compare_sample(g, q, *data, sample, *device, options);

  // Pictures, when asked for.
  std::vector<std::string> files;
  if (args.has("o")) {
    const std::filesystem::path dir = args.get("o");
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw Error("cannot create " + dir.string() + ": " + ec.message());
    auto file = [&](const std::string& name) {
      files.push_back((dir / name).string());
      return files.back();
    };
    const int zoom = 8;
    if (is_image(r.input)) {
      double lo = INFINITY, hi = -INFINITY;
      for (float v : r.input.to_f32()) lo = std::min(lo, double(v)), hi = std::max(hi, double(v));
      write_image_png(file("input.png"), r.input, lo, hi, zoom);
    }
    if (!r.classifier && is_image(r.float_output)) {
      double lo = INFINITY, hi = -INFINITY;
      for (const Tensor* t : {&r.float_output, &r.quant_output})
        for (float v : t->to_f32()) lo = std::min(lo, double(v)), hi = std::max(hi, double(v));
      write_image_png(file("output_float.png"), r.float_output, lo, hi, zoom);
      write_image_png(file("output_quantized.png"), r.quant_output, lo, hi, zoom);
      write_error_png(file("error_map.png"), r.error_map, r.max_abs_error, zoom);
    }
    for (std::size_t i = 0; i < r.activations.size(); ++i)
      write_histogram_png(file("activations_" + std::to_string(i) + "_" +
                               file_part(r.activations[i].layer) + ".png"),
                          r.activations[i].float_hist, r.activations[i].quant_hist);
    for (std::size_t i = 0; i < r.weights.size(); ++i)
      write_histogram_png(
          file("weights_" + std::to_string(i) + "_" + file_part(r.weights[i].layer) + ".png"),
          r.weights[i].float_hist, r.weights[i].quant_hist, r.weights[i].grid);
  }

  if (args.flag("json")) {
    nlohmann::json j{{"model", path},
                     {"config", args.get("config")},
                     {"data", args.get("data")},
                     {"sample", r.sample},
                     {"label", r.label >= 0 ? nlohmann::json(r.label) : nlohmann::json(nullptr)},
                     {"classifier", r.classifier},
                     {"sqnr_db", finite(r.sqnr_db)},
                     {"kl", r.kl},
                     {"max_abs_error", r.max_abs_error},
                     {"output_shape", r.float_output.shape()},
                     {"float_topk", topk_json(r.float_topk)},
                     {"quant_topk", topk_json(r.quant_topk)},
                     {"files", files}};
    j["activations"] = nlohmann::json::array();
    for (const ActivationComparison& a : r.activations)
      j["activations"].push_back({{"layer", a.layer},
                                  {"tensor", a.tensor},
                                  {"sqnr_db", finite(a.sqnr_db)},
                                  {"float_hist", hist_json(a.float_hist)},
                                  {"quant_hist", hist_json(a.quant_hist)}});
    j["weights"] = nlohmann::json::array();
    for (const WeightComparison& w : r.weights)
      j["weights"].push_back({{"layer", w.layer},
                              {"bits", w.bits},
                              {"granularity", w.granularity},
                              {"grid", w.grid},
                              {"float_hist", hist_json(w.float_hist)},
                              {"quant_hist", hist_json(w.quant_hist)}});
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("model    %s\nconfig   %s\nsample   %lld of %s%s\n", path.c_str(),
              args.get("config").c_str(), static_cast<long long>(r.sample),
              args.get("data").c_str(),
              r.label >= 0 ? (" (label " + std::to_string(r.label) + ")").c_str() : "");
  std::printf("output   SQNR %.1f dB, max |error| %.3g%s\n", r.sqnr_db, r.max_abs_error,
              r.classifier ? (", KL " + std::to_string(r.kl) + " nats").c_str() : "");
  if (r.classifier) {
    std::printf("\n%-6s %-8s %-10s   %-8s %-10s\n", "rank", "float", "p", "quant", "p");
    for (std::size_t i = 0; i < r.float_topk.size(); ++i)
      std::printf("%-6zu %-8lld %-10.4f   %-8lld %-10.4f\n", i + 1,
                  static_cast<long long>(r.float_topk[i].index), r.float_topk[i].probability,
                  static_cast<long long>(r.quant_topk[i].index), r.quant_topk[i].probability);
  }
  std::printf("\n%-36s %10s\n", "layer", "SQNR dB");
  for (const ActivationComparison& a : r.activations)
    std::printf("%-36s %10.1f\n", a.layer.c_str(), a.sqnr_db);
  for (const std::string& f : files) std::printf("wrote %s\n", f.c_str());
  return 0;
}

}  // namespace qs::cli
