// Helpers for the cpu-onednn tests: the plugin loaded through the registry, seeded inputs,
// comparison with the reference executor at ONNX's tolerance (rtol 1e-3, atol 1e-5).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <tuple>

#include "model_builder.h"
#include "quantscope/device.h"
#include "quantscope/executor.h"
#include "quantscope/model.h"
#include "quantscope/registry.h"

using namespace qs;
using qs::test::ModelBuilder;
using qs::test::set_attr;

namespace onednn_test {

// One registry for the whole binary: the plugin stays loaded while devices live.
inline Registry& registry() {
  static Registry* r = [] {
    auto* reg = new Registry;
    register_builtins(*reg);
    reg->load_plugins({QS_PLUGIN_DIR});
    return reg;
  }();
  return *r;
}

inline std::unique_ptr<Device> onednn() {
  for (const std::string& name : registry().device_names())
    if (name == "cpu-onednn") return registry().create_device(name);
  return nullptr;
}

#define REQUIRE_ONEDNN(dev)                                                   \
  std::unique_ptr<Device> dev = onednn();                                     \
  if (!dev) GTEST_SKIP() << "the cpu-onednn plugin is not in " QS_PLUGIN_DIR; \
  if (!dev->status().usable) GTEST_SKIP() << dev->status().reason

inline std::vector<float> random_values(std::int64_t n, unsigned seed, float lo = -1.f,
                                        float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

inline void init(ModelBuilder& m, const std::string& name, const Shape& shape, unsigned seed,
                 float lo = -1.f, float hi = 1.f) {
  m.initializer(name, shape, random_values(shape_numel(shape), seed, lo, hi));
}

inline void expect_close(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(shape_to_string(got.shape()), shape_to_string(want.shape())) << what;
  const std::vector<float> g = got.to_f32(), w = want.to_f32();
  std::size_t bad = 0, first = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    if (std::abs(g[i] - w[i]) <= 1e-5f + 1e-3f * std::abs(w[i])) continue;
    if (bad++ == 0) first = i;
  }
  EXPECT_EQ(bad, 0u) << what << ": first at " << first << ": " << g[first] << " vs " << w[first];
}

// Runs the graph on both executors at each batch size (twice on the device, to cover the
// cached plan) and compares; the ops in `on_device` must be placed on cpu-onednn.
// `steps`, when given, must appear in the profiled step list ("Conv+Relu Reorder").
inline void check(Device& dev, const Graph& g, const std::vector<std::string>& on_device,
                  const std::vector<std::int64_t>& batches = {1, 7}, float lo = -1.f,
                  float hi = 1.f, const std::string& steps = "") {
  for (const Placement& p : placement(dev, g))
    for (const std::string& op : on_device)
      if (p.op == op) {
        EXPECT_EQ(p.device, "cpu-onednn") << p.node << " " << p.op << ": " << p.reason;
      }
  std::unique_ptr<CompiledGraph> compiled = dev.compile(g);
  unsigned seed = 100;
  for (std::int64_t batch : batches) {
    TensorMap inputs;
    for (const ValueInfo& in : g.inputs) {
      Shape s = in.shape;
      for (auto& d : s) d = d < 0 ? batch : d;
      inputs[in.name] =
          Tensor::from_vector<float>(s, random_values(shape_numel(s), ++seed, lo, hi));
    }
    const TensorMap want = ReferenceExecutor(g).run(inputs);
    for (int repeat = 0; repeat < 2; ++repeat) {
      compiled->set_profiling(repeat == 1);
      const TensorMap got = compiled->run(inputs);
      if (repeat == 1 && !steps.empty()) {
        std::string ops;
        for (const NodeTiming& t : compiled->last_timings()) ops += t.op + " ";
        EXPECT_NE(ops.find(steps), std::string::npos) << ops;
      }
      for (const auto& [name, t] : want)
        expect_close(got.at(name), t, name + " at batch " + std::to_string(batch));
    }
  }
}

// x [N, C, spatial...] -> Conv -> (act) -> y
struct ConvCase {
  std::string label;
  Shape x;  // without the batch
  std::int64_t out_channels, group;
  Shape kernel;
  std::vector<std::int64_t> strides, pads, dilations;
  std::string auto_pad, act;
  bool bias = true;
};

inline Graph conv_graph(const ConvCase& c) {
  ModelBuilder m(13);
  Shape x{-1};
  x.insert(x.end(), c.x.begin(), c.x.end());
  m.input("x", x);
  Shape w{c.out_channels, c.x[0] / c.group};
  w.insert(w.end(), c.kernel.begin(), c.kernel.end());
  init(m, "w", w, 1);
  init(m, "b", {c.out_channels}, 2);
  auto& n = m.node(
      "Conv", c.bias ? std::vector<std::string>{"x", "w", "b"} : std::vector<std::string>{"x", "w"},
      {c.act.empty() ? "y" : "t"});
  if (c.group != 1) set_attr(n, "group", c.group);
  if (!c.strides.empty()) set_attr(n, "strides", c.strides);
  if (!c.pads.empty()) set_attr(n, "pads", c.pads);
  if (!c.dilations.empty()) set_attr(n, "dilations", c.dilations);
  if (!c.auto_pad.empty()) set_attr(n, "auto_pad", c.auto_pad);
  if (c.act == "Clip") {
    m.initializer("lo", {}, {0.f}).initializer("hi", {}, {0.5f});
    m.node("Clip", {"t", "lo", "hi"}, {"y"});
  } else if (c.act == "Add") {  // residual: output channels equal input channels
    m.node("Add", {"t", "x"}, {"u"});
    m.node("Relu", {"u"}, {"y"});
  } else if (!c.act.empty()) {
    m.node(c.act, {"t"}, {"y"});
  }
  m.output("y");
  return m.load();
}

// The op names of a profiled run's steps ("MatMul (w4, packed) | Relu | "), which say which
// kernel ran each node.
inline std::string step_ops(CompiledGraph& compiled) {
  std::string ops;
  for (const NodeTiming& t : compiled.last_timings()) ops += t.op + " | ";
  return ops;
}

}  // namespace onednn_test
