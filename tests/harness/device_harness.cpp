// quantscope-device-harness: every case (harness_cases.cpp) on every registered device, in four
// modes, against the reference device (cpu-ref) on the same seeded inputs:
//   fp32       the float graph
//   int8-sim   W8A8 (per-channel weights, min-max activations) simulated in float
//   int8-real  the same graph with the device's integer kernels (use_integer_kernels)
//   w4         4-bit weights per channel, float activations, integer kernels where the device
//              has them
// A case whose op the device does not run itself is reported as unsupported (with the reason),
// apart from failures; it still runs (on the fallback) and must still match. A device that
// cannot run here (no Vulkan driver) is reported as unavailable. --perf adds the time of a run
// on the device and on cpu-ref. Exit status 1 when any row fails.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "harness_cases.h"
#include "quantscope/device.h"
#include "quantscope/quant.h"
#include "quantscope/registry.h"
#include "random_dataset.h"

namespace qs::harness {
namespace {

struct Row {
  std::string device, case_name, op, mode;
  std::string status;  // pass, FAIL, unsupported, unavailable
  std::string detail;  // why not run on the device, or what failed
  double error = NAN, tol = NAN;
  double device_us = NAN, ref_us = NAN;
};

struct Options {
  std::vector<std::string> devices, modes{"fp32", "int8-sim", "int8-real", "w4"};
  std::string only, json;
  bool perf = false;
};

TensorMap make_inputs(const Graph& g, unsigned seed) {
  TensorMap inputs;
  for (const ValueInfo& v : g.inputs) {
    Shape s = v.shape;
    for (std::int64_t& d : s)
      if (d < 0) d = 2;
    Tensor t(DType::f32, s);
    const std::vector<float> values =
        test::random_values(static_cast<std::size_t>(shape_numel(s)), seed++, 1.0f);
    std::copy(values.begin(), values.end(), t.data<float>());
    inputs[v.name] = t;
  }
  return inputs;
}

// max |got - want| / max |want| over every output; a string when they cannot be compared.
double relative_error(const TensorMap& got, const TensorMap& want, std::string& problem) {
  double worst = 0;
  for (const auto& [name, w] : want) {
    auto it = got.find(name);
    if (it == got.end()) {
      problem = "no output '" + name + "'";
      return INFINITY;
    }
    const Tensor& g = it->second;
    if (g.shape() != w.shape() || g.dtype() != DType::f32 || w.dtype() != DType::f32) {
      problem = "output '" + name + "' has another shape or dtype";
      return INFINITY;
    }
    const float* a = g.data<float>();
    const float* b = w.data<float>();
    double diff = 0, scale = 0;
    for (std::int64_t i = 0; i < w.numel(); ++i) {
      if (std::isnan(a[i]) != std::isnan(b[i])) return INFINITY;
      diff = std::max(diff, std::fabs(double(a[i]) - double(b[i])));
      scale = std::max(scale, std::fabs(double(b[i])));
    }
    worst = std::max(worst, diff / std::max(scale, 1e-6));
  }
  return worst;
}

// Median microseconds of a run, over at least 0.1 s.
double time_us(CompiledGraph& compiled, const TensorMap& inputs) {
  for (int i = 0; i < 2; ++i) compiled.run(inputs);
  std::vector<double> us;
  const auto start = std::chrono::steady_clock::now();
  while (us.size() < 5 ||
         (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(100) &&
          us.size() < 1000)) {
    const auto t0 = std::chrono::steady_clock::now();
    compiled.run(inputs);
    us.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::nth_element(us.begin(), us.begin() + us.size() / 2, us.end());
  return us[us.size() / 2];
}

// The graph a mode runs: the case's, or its quantized simulation (nullopt: the case has no layer
// to quantize).
std::optional<Graph> graph_for(const Case& c, const std::string& mode, Device& reference) {
  if (mode == "fp32") return c.graph;
  if (quantizable_nodes(c.graph).empty() || c.graph.inputs.size() != 1) return std::nullopt;
  QuantConfig config;
  config.defaults.calibrator = "minmax";
  if (mode == "w4") {
    config.defaults.weight_bits = 4;
    config.defaults.act_bits = 0;
  }
  Shape sample = c.graph.inputs[0].shape;
  sample.erase(sample.begin());
  test::RandomDataset data(32, sample, 7);
  return apply_quantization(c.graph, quantize_model(c.graph, config, data, reference));
}

double tolerance(const Case& c, const std::string& mode) {
  // A float difference far below a step can still move a value across a rounding boundary of an
  // activation grid: one input step through one layer is about 1/(K x 127) of the output's range.
  // A wrong scale, zero point or rounding mode is 1e-2 or more.
  if (mode == "int8-sim" || mode == "int8-real") return 2e-3;
  if (mode == "w4") return std::max(c.tol, 1e-5);
  return c.tol;
}

Row run_one(const Case& c, const std::string& mode, const Graph& g, const Registry& registry,
            const std::string& device_name, Device& reference, bool perf) {
  Row row{device_name, c.name, c.op, mode, "pass", "", NAN, tolerance(c, mode)};
  try {
    std::unique_ptr<Device> device = registry.create_device(device_name);
    const bool integer = mode == "int8-real" || mode == "w4";
    if (integer && !device->use_integer_kernels(true) && mode == "int8-real") {
      row.status = "unsupported";
      row.detail = "no integer kernels";
      return row;
    }
    for (const Node& n : g.nodes) {
      if (n.op_type != c.op) continue;
      const std::string why = device->unsupported_reason(g, n);
      if (!why.empty()) {
        row.status = "unsupported";
        row.detail = why;
      }
    }
    const TensorMap inputs = make_inputs(g, 100);
    std::unique_ptr<CompiledGraph> mine = device->compile(g);
    std::unique_ptr<CompiledGraph> ref = reference.compile(g);
    const TensorMap want = ref->run(inputs);
    const TensorMap got = mine->run(inputs);
    std::string problem;
    row.error = relative_error(got, want, problem);
    if (!(row.error <= row.tol)) {
      row.status = "FAIL";
      row.detail = problem.empty() ? "error above tolerance" : problem;
    }
    if (perf) {
      row.device_us = time_us(*mine, inputs);
      row.ref_us = time_us(*ref, inputs);
    }
  } catch (const std::exception& e) {
    row.status = "FAIL";
    row.detail = e.what();
  }
  return row;
}

Options parse(int argc, char** argv) {
  Options o;
  std::vector<std::string> modes;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw Error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--device") {
      o.devices.push_back(value());
    } else if (a == "--mode") {
      modes.push_back(value());
    } else if (a == "--case") {
      o.only = value();
    } else if (a == "--json") {
      o.json = value();
    } else if (a == "--perf") {
      o.perf = true;
    } else {
      throw Error(
          "usage: quantscope-device-harness [--device NAME]... [--mode "
          "fp32|int8-sim|int8-real|w4]... [--case TEXT] [--perf] [--json FILE]; "
          "unknown argument '" +
          a + "'");
    }
  }
  if (!modes.empty()) o.modes = modes;
  return o;
}

void print(const std::vector<Row>& rows, bool perf) {
  std::printf("%-12s %-9s %-44s %-12s %10s %9s", "device", "mode", "case", "status", "error",
              "tol");
  if (perf) std::printf(" %10s %10s %7s", "dev us", "ref us", "x ref");
  std::printf("  detail\n");
  for (const Row& r : rows) {
    std::printf("%-12s %-9s %-44s %-12s", r.device.c_str(), r.mode.c_str(), r.case_name.c_str(),
                r.status.c_str());
    std::isnan(r.error) ? std::printf(" %10s %9s", "-", "-")
                        : std::printf(" %10.2e %9.1e", r.error, r.tol);
    if (perf) {
      std::isnan(r.device_us)
          ? std::printf(" %10s %10s %7s", "-", "-", "-")
          : std::printf(" %10.1f %10.1f %7.2f", r.device_us, r.ref_us, r.ref_us / r.device_us);
    }
    std::printf("  %s\n", r.detail.c_str());
  }
}

int run(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const Registry registry = make_default_registry();
  std::vector<std::string> devices = o.devices;
  if (devices.empty())
    for (const std::string& d : registry.device_names())
      if (d != "cpu-ref") devices.push_back(d);
  std::unique_ptr<Device> reference = registry.create_device("cpu-ref");
  std::vector<Row> rows;
  std::vector<std::string> usable;
  for (const std::string& d : devices) {
    const DeviceStatus st = registry.create_device(d)->status();
    if (st.usable) {
      usable.push_back(d);
    } else {
      rows.push_back({d, "-", "-", "-", "unavailable", st.reason});
    }
  }
  for (const Case& c : cases()) {
    if (!o.only.empty() && c.name.find(o.only) == std::string::npos) continue;
    for (const std::string& mode : o.modes) {
      std::optional<Graph> g;
      try {
        g = graph_for(c, mode, *reference);
      } catch (const std::exception& e) {
        for (const std::string& d : usable)
          rows.push_back({d, c.name, c.op, mode, "FAIL", std::string("quantize: ") + e.what()});
        continue;
      }
      if (!g) continue;  // nothing to quantize in this case
      for (const std::string& d : usable)
        rows.push_back(run_one(c, mode, *g, registry, d, *reference, o.perf));
    }
  }
  std::stable_sort(rows.begin(), rows.end(),
                   [](const Row& a, const Row& b) { return a.device < b.device; });
  print(rows, o.perf);
  int failed = 0;
  std::printf("\n");
  for (const std::string& d : devices) {
    int pass = 0, fail = 0, unsupported = 0, unavailable = 0;
    for (const Row& r : rows) {
      if (r.device != d) continue;
      pass += r.status == "pass";
      fail += r.status == "FAIL";
      unsupported += r.status == "unsupported";
      unavailable += r.status == "unavailable";
    }
    failed += fail;
    if (unavailable)
      std::printf("%-12s unavailable here\n", d.c_str());
    else
      std::printf("%-12s %d passed, %d failed, %d unsupported (ran on the fallback, matched)\n",
                  d.c_str(), pass, fail, unsupported);
  }
  if (!o.json.empty()) {
    nlohmann::json j = nlohmann::json::array();
    for (const Row& r : rows) {
      auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); };
      j.push_back({{"device", r.device},
                   {"case", r.case_name},
                   {"op", r.op},
                   {"mode", r.mode},
                   {"status", r.status},
                   {"detail", r.detail},
                   {"error", num(r.error)},
                   {"tol", num(r.tol)},
                   {"device_us", num(r.device_us)},
                   {"ref_us", num(r.ref_us)}});
    }
    std::ofstream(o.json) << j.dump(2) << "\n";
  }
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace qs::harness

int main(int argc, char** argv) {
  try {
    return qs::harness::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "quantscope-device-harness: %s\n", e.what());
    return 2;
  }
}
