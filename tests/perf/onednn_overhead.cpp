// Executor overhead of cpu-onednn: the largest Conv and the largest MatMul/Gemm of each bundled
// model, timed (a) inside Quantscope: the node's step in the whole model's plan (bench
// --per-layer; with its fused post-ops), and as a one-node graph (with the reorders from and to
// plain layouts that a lone node needs), and (b) as a bare oneDNN primitive on the same shapes
// with the layouts oneDNN prefers and no reorders. Target: (a) / (b) <= 1.2.
// usage: quantscope-onednn-overhead [--batch B] [--runs N] [--json FILE] MODEL.onnx...
// A benchmark, not a test.
#include <chrono>
#include <cstdio>
#include <dnnl.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "quantscope/bench.h"
#include "quantscope/executor.h"
#include "quantscope/model.h"
#include "quantscope/model_info.h"
#include "quantscope/registry.h"

using namespace qs;
using dnnl::memory;

namespace {

double median_ms(std::vector<double> v) {
  return latency_stats(std::move(v)).median_ms;
}

// The node as a graph of its own: runtime inputs with the shapes the model gives them.
Graph single_node_graph(const Graph& g, const Node& node, const TensorMap& shapes) {
  Graph one;
  one.opset = g.opset;
  one.nodes = {node};
  for (const std::string& in : node.inputs) {
    if (in.empty()) continue;
    if (g.initializers.count(in)) {
      one.initializers[in] = g.initializers.at(in);
    } else {
      const Tensor& t = shapes.at(in);
      one.inputs.push_back(
          {in, t.dtype(), t.shape(), std::vector<std::string>(t.shape().size()), true});
    }
  }
  const Tensor& out = shapes.at(node.outputs[0]);
  one.outputs.push_back({node.outputs[0], out.dtype(), out.shape(), {}, true});
  one.value_info = shapes;
  return one;
}

template <typename Primitive>
double time_primitive(const Primitive& p, dnnl::stream& s,
                      const std::unordered_map<int, memory>& args, int runs) {
  for (int i = 0; i < 10; ++i) p.execute(s, args);
  s.wait();
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    auto start = std::chrono::steady_clock::now();
    p.execute(s, args);
    s.wait();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                    .count());
  }
  return median_ms(t);
}

memory::dims dims_of(const Shape& s) {
  return memory::dims(s.begin(), s.end());
}

double bare_conv(const Graph& g, const Node& n, const TensorMap& shapes, int runs) {
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream s(eng);
  const Shape x = shapes.at(n.inputs[0]).shape(), w = g.initializers.at(n.inputs[1]).shape();
  const Shape y = shapes.at(n.outputs[0]).shape();
  const std::int64_t groups = n.attr_int("group", 1);
  memory::dims wd = dims_of(w);
  if (groups > 1) {
    wd[0] /= groups;
    wd.insert(wd.begin(), groups);
  }
  const int r = static_cast<int>(x.size()) - 2;
  auto ints = [&](const char* key, std::int64_t fallback) {
    auto v = n.attr_ints(key);
    return v.empty() ? memory::dims(r, fallback) : memory::dims(v.begin(), v.end());
  };
  memory::dims strides = ints("strides", 1), dil = ints("dilations", 1), pads = ints("pads", 0);
  if (pads.size() < static_cast<std::size_t>(2 * r)) pads.assign(2 * r, 0);
  for (auto& d : dil) d -= 1;  // oneDNN counts dilation from 0
  memory::dims pl(pads.begin(), pads.begin() + r), pr(pads.begin() + r, pads.end());
  auto any = [](const memory::dims& d) {
    return memory::desc(d, memory::data_type::f32, memory::format_tag::any);
  };
  memory::desc bias_md({y[1]}, memory::data_type::f32, memory::format_tag::a);
  dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference,
                                    dnnl::algorithm::convolution_direct, any(dims_of(x)), any(wd),
                                    bias_md, any(dims_of(y)), strides, dil, pl, pr);
  dnnl::convolution_forward::primitive_desc pd(d, eng);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(pd.src_desc(), eng)},
                                       {DNNL_ARG_WEIGHTS, memory(pd.weights_desc(), eng)},
                                       {DNNL_ARG_BIAS, memory(bias_md, eng)},
                                       {DNNL_ARG_DST, memory(pd.dst_desc(), eng)}};
  return time_primitive(dnnl::convolution_forward(pd), s, args, runs);
}

double bare_matmul(const Node& n, const TensorMap& shapes, const Graph& g, int runs) {
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream s(eng);
  auto shape = [&](const std::string& name) {
    return g.initializers.count(name) ? g.initializers.at(name).shape() : shapes.at(name).shape();
  };
  Shape a = shape(n.inputs[0]), b = shape(n.inputs[1]), y = shapes.at(n.outputs[0]).shape();
  if (n.op_type == "Gemm" && n.attr_int("transB", 0)) std::swap(b[0], b[1]);
  while (b.size() < a.size()) b.insert(b.begin(), 1);
  while (a.size() < b.size()) a.insert(a.begin(), 1);
  auto md = [](const Shape& s) {
    return memory::desc(dims_of(s), memory::data_type::f32, memory::format_tag::any);
  };
  dnnl::matmul::desc d(md(a), md(b), md(y));
  dnnl::matmul::primitive_desc pd(d, eng);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(pd.src_desc(), eng)},
                                       {DNNL_ARG_WEIGHTS, memory(pd.weights_desc(), eng)},
                                       {DNNL_ARG_DST, memory(pd.dst_desc(), eng)}};
  return time_primitive(dnnl::matmul(pd), s, args, runs);
}

}  // namespace

int main(int argc, char** argv) {
  std::int64_t batch = 1;
  int runs = 200;
  std::string json_out;
  std::vector<std::string> models;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--batch" && i + 1 < argc)
      batch = std::stoll(argv[++i]);
    else if (a == "--runs" && i + 1 < argc)
      runs = std::stoi(argv[++i]);
    else if (a == "--json" && i + 1 < argc)
      json_out = argv[++i];
    else
      models.push_back(a);
  }
  Registry registry = make_default_registry();
  std::unique_ptr<Device> device = registry.create_device("cpu-onednn");
  nlohmann::json rows = nlohmann::json::array();
  std::printf("%-12s %-30s %-7s %12s %12s %12s %6s %6s\n", "model", "node", "op", "in model",
              "alone", "bare oneDNN", "ratio", "alone");
  for (const std::string& path : models) {
    Graph g = load_model(path);
    TensorMap meta;
    for (const ValueInfo& in : g.inputs) {
      Shape s = in.shape;
      if (!s.empty() && s[0] < 0) s[0] = batch;
      meta[in.name] = Tensor::meta(in.dtype, s);
    }
    TensorMap shapes = infer_shapes(g, meta);
    // The largest Conv and the largest MatMul/Gemm by MACs.
    const ModelInfo info = describe_model(g);
    const LayerInfo* largest[2] = {nullptr, nullptr};
    for (const LayerInfo& l : info.layers) {
      const int k = l.op_type == "Conv"                              ? 0
                    : (l.op_type == "MatMul" || l.op_type == "Gemm") ? 1
                                                                     : -1;
      if (k >= 0 && (!largest[k] || l.macs > largest[k]->macs)) largest[k] = &l;
    }
    BenchOptions whole;
    whole.batch = batch;
    whole.runs = runs;
    whole.min_seconds = 0.5;
    whole.per_layer = true;
    const BenchResult per_layer = benchmark(g, *device, whole);
    for (const LayerInfo* l : largest) {
      if (!l) continue;
      const Node& node = *g.find_node(l->name);
      Graph one = single_node_graph(g, node, shapes);
      BenchOptions options;
      options.batch = batch;
      options.runs = runs;
      options.min_seconds = 0.5;
      const double alone = benchmark(one, *device, options).end_to_end.median_ms;
      double ours = 0;
      for (const LayerLatency& step : per_layer.layers)
        if (step.name == node.name) ours = step.median_ms;
      const double bare = node.op_type == "Conv" ? bare_conv(g, node, shapes, runs)
                                                 : bare_matmul(node, shapes, g, runs);
      std::printf("%-12s %-30s %-7s %9.4f ms %9.4f ms %9.4f ms %6.2f %6.2f\n",
                  path.substr(path.rfind('/') + 1).c_str(), node.name.c_str(), node.op_type.c_str(),
                  ours, alone, bare, ours / bare, alone / bare);
      rows.push_back({{"model", path},
                      {"node", node.name},
                      {"op", node.op_type},
                      {"batch", batch},
                      {"quantscope_in_model_ms", ours},
                      {"quantscope_alone_ms", alone},
                      {"bare_onednn_ms", bare},
                      {"ratio", ours / bare},
                      {"ratio_alone", alone / bare}});
    }
  }
  if (!json_out.empty())
    std::ofstream(json_out) << nlohmann::json{
        {"isa", device->environment()["isa"]},
        {"rows", rows}}.dump(2);
  std::printf("isa %s\n", device->environment()["isa"].c_str());
  return 0;
}
