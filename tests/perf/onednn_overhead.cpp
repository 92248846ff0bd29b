// Executor overhead of cpu-onednn: the largest Conv and the largest MatMul/Gemm of each bundled
// model, timed (a) inside Quantscope: the node's step in the whole model's plan (bench
// --per-layer: the step with its fused post-ops and any reorder it runs), and as a one-node graph
// (end to end, with the reorders from and to plain layouts that a lone node needs), and (b) as a
// bare oneDNN primitive on the same shapes, like-for-like: created the way plugins/cpu-onednn
// creates the step (the same memory descriptors, i.e. the same layouts, or oneDNN's choice where
// the plugin lets oneDNN choose; the same bias and the same post-ops: the nodes fused into the
// step, read from the per-layer op string "Conv+Relu"), at the same thread count, timed the same
// way (one clock read before the execute, one after the stream's wait; median). The one-node
// graph is compared with the bare primitive without the post-ops (a lone node fuses nothing).
// Target: in model / bare <= 1.2.
//
// Columns: "ratio" in model / bare (bare executed back to back: hot caches); "vs best" against
// the fastest bare time at up to this many threads (a small primitive may be faster on one
// thread; Quantscope runs a small graph on one); "bare cold" the bare primitive executed right
// after an untimed run of the whole model, i.e. with the caches in the state a step inside the
// model finds them (a diagnostic: the step's own inputs were just written there, the bare
// primitive's were not); "alone" the one-node graph.
// The table prints microseconds, the JSON milliseconds.
// Every measurement is repeated in --rounds interleaved rounds and keeps its best round's median,
// so that another program's load falls on all of them alike.
//
// usage: quantscope-onednn-overhead [--batch B[,B...]] [--threads T[,T...]] [--runs N]
//                                   [--rounds R] [--min-seconds S] [--json FILE] MODEL.onnx...
//   defaults: batch 1; threads 1,2 (in ascending order; each through the device's set_threads,
//   i.e. OpenMP); 100 runs and at least 0.1 s per measurement; 3 rounds.
// A benchmark, not a test.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <dnnl.hpp>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
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

using Clock = std::chrono::steady_clock;

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

// ---- Memory descriptors, as plugins/cpu-onednn/support.cpp makes them.

memory::dims to_dims(const Shape& shape) {
  if (shape.empty()) return {1};
  return memory::dims(shape.begin(), shape.end());
}

memory::desc plain_md(const Shape& shape) {
  memory::dims d = to_dims(shape), strides(d.size(), 1);
  for (int i = static_cast<int>(d.size()) - 2; i >= 0; --i) strides[i] = strides[i + 1] * d[i + 1];
  return memory::desc(d, memory::data_type::f32, strides);
}

memory::desc padded_md(const Shape& shape, int rank) {
  Shape s(rank - std::min<int>(rank, static_cast<int>(shape.size())), 1);
  s.insert(s.end(), shape.begin(), shape.end());
  return plain_md(s);
}

memory::desc any_md(const Shape& shape) {
  return memory::desc(to_dims(shape), memory::data_type::f32, memory::format_tag::any);
}

// ---- The post-ops of a fused step, from the graph and the step's op string.

struct PostOp {
  bool binary = false;
  dnnl::algorithm alg = dnnl::algorithm::undef;
  float alpha = 0, beta = 0;  // eltwise
  Shape shape;                // binary operand
  std::vector<float> values;  // a constant binary operand; empty: a runtime value
};

const Tensor* constant_of(const Graph& g, const std::string& name) {
  auto it = g.initializers.find(name);
  if (it != g.initializers.end()) return &it->second;
  for (const Node& n : g.nodes)
    if (n.op_type == "Constant" && n.outputs.size() == 1 && n.outputs[0] == name)
      return n.attr_tensor("value");
  return nullptr;
}

Shape shape_of(const Graph& g, const TensorMap& shapes, const std::string& name) {
  if (const Tensor* c = constant_of(g, name)) return c->shape();
  return shapes.at(name).shape();
}

// The first node after `after` of type `op` that reads `value`; -1 when none.
int consumer(const Graph& g, const std::string& value, const std::string& op, int after) {
  for (std::size_t j = after + 1; j < g.nodes.size(); ++j) {
    if (g.nodes[j].op_type != op) continue;
    for (const std::string& in : g.nodes[j].inputs)
      if (in == value) return static_cast<int>(j);
  }
  return -1;
}

float scalar_input(const Graph& g, const Node& n, int i, float fallback) {
  const Tensor* t = n.has_input(i) ? constant_of(g, n.inputs[i]) : nullptr;
  return t && t->numel() == 1 ? t->to_f32()[0] : fallback;
}

// The eltwise post-ops of `n` (plugins/cpu-onednn/support.cpp, eltwise_ops); false when none.
bool eltwise_post_ops(const Graph& g, const Node& n, std::vector<PostOp>& out) {
  using alg = dnnl::algorithm;
  auto add = [&](alg a, float alpha = 0.f, float beta = 0.f) {
    PostOp p;
    p.alg = a;
    p.alpha = alpha;
    p.beta = beta;
    out.push_back(p);
  };
  const std::string& op = n.op_type;
  const float inf = std::numeric_limits<float>::infinity();
  if (op == "Relu")
    add(alg::eltwise_relu);
  else if (op == "LeakyRelu")
    add(alg::eltwise_relu, n.attr_float("alpha", 0.01f));
  else if (op == "Sigmoid")
    add(alg::eltwise_logistic);
  else if (op == "Tanh")
    add(alg::eltwise_tanh);
  else if (op == "Exp")
    add(alg::eltwise_exp);
  else if (op == "Log")
    add(alg::eltwise_log);
  else if (op == "Sqrt")
    add(alg::eltwise_sqrt);
  else if (op == "Abs")
    add(alg::eltwise_abs);
  else if (op == "Neg")
    add(alg::eltwise_linear, -1.f, 0.f);
  else if (op == "HardSwish")
    add(alg::eltwise_hardswish);
  else if (op == "HardSigmoid") {
    add(alg::eltwise_linear, n.attr_float("alpha", 0.2f), n.attr_float("beta", 0.5f));
    add(alg::eltwise_clip, 0.f, 1.f);
  } else if (op == "Gelu")
    add(n.attr_string("approximate", "none") == "tanh" ? alg::eltwise_gelu_tanh
                                                       : alg::eltwise_gelu_erf);
  else if (op == "Clip" && g.opset < 11)
    add(alg::eltwise_clip, n.attr_float("min", -inf), n.attr_float("max", inf));
  else if (op == "Clip")
    add(alg::eltwise_clip, scalar_input(g, n, 1, -inf), scalar_input(g, n, 2, inf));
  else
    return false;
  return true;
}

// Reads the nodes fused into the step anchored at `anchor` ("Conv+BatchNormalization+Clip":
// each the consumer of the previous value; Div+Erf+Add+Mul+Mul is an exact GELU) and returns
// their oneDNN post-ops, as plugins/cpu-onednn/fusion.cpp builds them.
std::vector<PostOp> fused_post_ops(const Graph& g, int anchor, const std::string& op_string,
                                   const TensorMap& shapes) {
  std::vector<std::string> ops;
  std::stringstream in(op_string);
  for (std::string op; std::getline(in, op, '+');) ops.push_back(op);
  if (ops.empty() || ops[0] != g.nodes[anchor].op_type)
    throw Error("step '" + op_string + "' is not anchored at " + g.nodes[anchor].op_type);
  std::string value = g.nodes[anchor].outputs[0];
  const int rank = static_cast<int>(shapes.at(value).rank());
  int last = anchor;
  std::vector<PostOp> post;
  for (std::size_t i = 1; i < ops.size();) {
    const char* gelu[] = {"Div", "Erf", "Add", "Mul", "Mul"};
    bool is_gelu = i + 5 <= ops.size();
    for (int k = 0; k < 5 && is_gelu; ++k) is_gelu = ops[i + k] == gelu[k];
    if (is_gelu) {
      for (const char* op : gelu) {
        last = consumer(g, value, op, last);
        if (last < 0) throw Error("no GELU after '" + value + "'");
        value = g.nodes[last].outputs[0];
      }
      PostOp p;
      p.alg = dnnl::algorithm::eltwise_gelu_erf;
      post.push_back(p);
      i += 5;
      continue;
    }
    const int j = consumer(g, value, ops[i], last);
    if (j < 0) throw Error("no " + ops[i] + " reads '" + value + "'");
    const Node& n = g.nodes[j];
    if (n.op_type == "BatchNormalization") {
      // x * scale + shift, per channel (fusion.cpp, batch_norm_affine).
      std::vector<float> s = constant_of(g, n.inputs[1])->to_f32();
      std::vector<float> b = constant_of(g, n.inputs[2])->to_f32();
      const std::vector<float> mean = constant_of(g, n.inputs[3])->to_f32();
      const std::vector<float> var = constant_of(g, n.inputs[4])->to_f32();
      const float epsilon = n.attr_float("epsilon", 1e-5f);
      for (std::size_t c = 0; c < s.size(); ++c) {
        s[c] = s[c] / std::sqrt(var[c] + epsilon);
        b[c] = b[c] - mean[c] * s[c];
      }
      Shape shape(rank, 1);
      shape[1] = static_cast<std::int64_t>(s.size());
      post.push_back({true, dnnl::algorithm::binary_mul, 0, 0, shape, s});
      post.push_back({true, dnnl::algorithm::binary_add, 0, 0, shape, b});
    } else if (n.op_type == "Add" || n.op_type == "Sub" || n.op_type == "Mul" ||
               n.op_type == "Div") {
      PostOp p;
      p.binary = true;
      p.alg = n.op_type == "Add"   ? dnnl::algorithm::binary_add
              : n.op_type == "Sub" ? dnnl::algorithm::binary_sub
              : n.op_type == "Mul" ? dnnl::algorithm::binary_mul
                                   : dnnl::algorithm::binary_div;
      const std::string& other = n.inputs[0] == value ? n.inputs[1] : n.inputs[0];
      p.shape = shape_of(g, shapes, other);
      if (const Tensor* c = constant_of(g, other)) p.values = c->to_f32();
      post.push_back(p);
    } else if (!eltwise_post_ops(g, n, post)) {
      throw Error("op " + n.op_type + " is no post-op");
    }
    value = n.outputs[0];
    last = j;
    ++i;
  }
  return post;
}

// ---- The bare primitive.

struct Bare {
  dnnl::primitive prim;
  std::unordered_map<int, memory> args;
  std::string impl;  // oneDNN's implementation name
};

// A memory of descriptor `target` holding `values` (or random numbers) laid out as `source`.
memory filled(const dnnl::engine& eng, dnnl::stream& s, const memory::desc& target,
              const memory::desc& source, const std::vector<float>& values, std::mt19937& rng) {
  memory from(source, eng);
  float* p = static_cast<float*>(from.get_data_handle());
  const std::size_t n = source.get_size() / sizeof(float);
  if (!values.empty()) {
    std::memcpy(p, values.data(), std::min(n, values.size()) * sizeof(float));
  } else {
    std::normal_distribution<float> normal(0.f, 1.f);
    for (std::size_t i = 0; i < n; ++i) p[i] = normal(rng);
  }
  if (target == source) return from;
  memory to(target, eng);
  dnnl::reorder(from, to).execute(s, from, to);
  s.wait();
  return to;
}

std::vector<float> values_of(const Graph& g, const std::string& name) {
  const Tensor* c = constant_of(g, name);
  return c ? c->to_f32() : std::vector<float>{};
}

// Appends `post` to `ops` with operand descriptors made by `operand_md` and their memories to
// `args`.
template <typename OperandMd>
void append_post_ops(const std::vector<PostOp>& post, dnnl::post_ops& ops, OperandMd operand_md,
                     const dnnl::engine& eng, dnnl::stream& s, Bare& b, std::mt19937& rng) {
  for (const PostOp& p : post) {
    if (!p.binary) {
      ops.append_eltwise(1.f, p.alg, p.alpha, p.beta);
      continue;
    }
    const memory::desc md = operand_md(p.shape);
    const int index = ops.len();
    ops.append_binary(p.alg, md);
    b.args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(index) | DNNL_ARG_SRC_1] =
        filled(eng, s, md, md, p.values, rng);
  }
}

// As make_conv in plugins/cpu-onednn/steps_compute.cpp.
Bare bare_conv(const Graph& g, const Node& n, const TensorMap& shapes,
               const std::vector<PostOp>& post, const dnnl::engine& eng, dnnl::stream& s) {
  std::mt19937 rng(1);
  const Shape x = shapes.at(n.inputs[0]).shape(), w = g.initializers.at(n.inputs[1]).shape();
  const Shape y = shapes.at(n.outputs[0]).shape();
  const std::int64_t group = n.attr_int("group", 1);
  Shape wg = w;
  if (group > 1) {
    wg[0] /= group;
    wg.insert(wg.begin(), group);
  }
  // Geometry as geometry.cpp: the trailing pad that gives the model's output size.
  const int r = static_cast<int>(x.size()) - 2;
  auto ints = [&](const char* key, std::int64_t fallback, int count) {
    auto v = n.attr_ints(key);
    return v.empty() ? memory::dims(count, fallback) : memory::dims(v.begin(), v.end());
  };
  memory::dims strides = ints("strides", 1, r), dil = ints("dilations", 1, r),
               pads = ints("pads", 0, 2 * r);
  const std::string auto_pad = n.attr_string("auto_pad", "NOTSET");
  memory::dims pl(r), pr(r);
  for (int i = 0; i < r; ++i) {
    const std::int64_t extent = (w[i + 2] - 1) * dil[i] + 1;
    const std::int64_t total =
        std::max<std::int64_t>(0, (y[i + 2] - 1) * strides[i] + extent - x[i + 2]);
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      pl[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
    } else {
      pl[i] = auto_pad == "VALID" ? 0 : pads[i];
    }
    pr[i] = std::max<std::int64_t>(auto_pad == "NOTSET" ? pads[i + r] : 0, total - pl[i]);
    dil[i] -= 1;  // oneDNN counts the gaps
  }
  const bool bias = n.has_input(2);
  const memory::desc bias_md = plain_md({w[0]});
  // Few input channels: the plugin passes a row-major input.
  const memory::desc x_md = group == 1 && x[1] <= 8 ? plain_md(x) : any_md(x);
  using conv = dnnl::convolution_forward;
  conv::desc desc =
      bias ? conv::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                        x_md, any_md(wg), bias_md, any_md(y), strides, dil, pl, pr)
           : conv::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                        x_md, any_md(wg), any_md(y), strides, dil, pl, pr);
  Bare b;
  dnnl::post_ops ops;
  append_post_ops(
      post, ops, [&](const Shape& shape) { return padded_md(shape, static_cast<int>(y.size())); },
      eng, s, b, rng);
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  conv::primitive_desc pd(desc, attr, eng);
  b.args[DNNL_ARG_SRC] = filled(eng, s, pd.src_desc(), plain_md(x), {}, rng);
  b.args[DNNL_ARG_WEIGHTS] =
      filled(eng, s, pd.weights_desc(), plain_md(wg), values_of(g, n.inputs[1]), rng);
  if (bias)
    b.args[DNNL_ARG_BIAS] = filled(eng, s, bias_md, bias_md, values_of(g, n.inputs[2]), rng);
  b.args[DNNL_ARG_DST] = memory(pd.dst_desc(), eng);
  b.prim = conv(pd);
  b.impl = pd.impl_info_str();
  return b;
}

// A row-major [rows, cols] matrix, or its transpose viewed through strides.
memory::desc matrix_md(std::int64_t rows, std::int64_t cols, bool transposed) {
  return transposed ? memory::desc({rows, cols}, memory::data_type::f32, {1, rows})
                    : memory::desc({rows, cols}, memory::data_type::f32, {cols, 1});
}

// As make_gemm: alpha as the output scale, beta * C as the first binary post-op.
Bare bare_gemm(const Graph& g, const Node& n, const TensorMap& shapes,
               const std::vector<PostOp>& post, const dnnl::engine& eng, dnnl::stream& s) {
  std::mt19937 rng(1);
  const Shape a = shape_of(g, shapes, n.inputs[0]), bs = shape_of(g, shapes, n.inputs[1]);
  const bool ta = n.attr_int("transA", 0) != 0, tb = n.attr_int("transB", 0) != 0;
  const std::int64_t M = ta ? a[1] : a[0], K = ta ? a[0] : a[1], N = tb ? bs[0] : bs[1];
  const memory::desc a_md = matrix_md(M, K, ta), b_md = matrix_md(K, N, tb);
  const bool const_b = g.initializers.count(n.inputs[1]) != 0;
  const float alpha = n.attr_float("alpha", 1.0f), beta = n.attr_float("beta", 1.0f);
  std::vector<PostOp> all;
  if (n.has_input(2) && beta != 0.0f) {
    PostOp c{true, dnnl::algorithm::binary_add,      0,
             0,    shape_of(g, shapes, n.inputs[2]), values_of(g, n.inputs[2])};
    for (float& v : c.values) v *= beta;
    all.push_back(c);
  }
  all.insert(all.end(), post.begin(), post.end());
  Bare b;
  dnnl::post_ops ops;
  append_post_ops(
      all, ops, [](const Shape& shape) { return padded_md(shape, 2); }, eng, s, b, rng);
  dnnl::primitive_attr attr;
  if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
  attr.set_post_ops(ops);
  dnnl::matmul::desc desc(a_md, const_b ? any_md({K, N}) : b_md, plain_md({M, N}));
  dnnl::matmul::primitive_desc pd(desc, attr, eng);
  b.args[DNNL_ARG_SRC] = filled(eng, s, a_md, a_md, values_of(g, n.inputs[0]), rng);
  b.args[DNNL_ARG_WEIGHTS] =
      filled(eng, s, const_b ? pd.weights_desc() : b_md, b_md, values_of(g, n.inputs[1]), rng);
  b.args[DNNL_ARG_DST] = memory(pd.dst_desc(), eng);
  b.prim = dnnl::matmul(pd);
  b.impl = pd.impl_info_str();
  return b;
}

// flat_operand in steps_compute.cpp: a binary operand against a destination viewed as [M, N].
bool flat_operand(const Shape& shape, const memory::dims& flat, memory::desc& md) {
  const std::int64_t n = shape_numel(shape);
  if (n == flat[0] * flat[1])
    md = plain_md({flat[0], flat[1]});
  else if (n == 1 || (n == flat[1] && !shape.empty() && shape.back() == flat[1]))
    md = plain_md({1, n});
  else
    return false;
  return true;
}

// As make_matmul: a batched A times a constant 2-D B as one [M, K] x [K, N] product.
Bare bare_matmul(const Graph& g, const Node& n, const TensorMap& shapes,
                 const std::vector<PostOp>& post, const dnnl::engine& eng, dnnl::stream& s) {
  std::mt19937 rng(1);
  Shape a = shape_of(g, shapes, n.inputs[0]), bs = shape_of(g, shapes, n.inputs[1]);
  const std::size_t b_rank = bs.size();
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (bs.size() == 1) bs.push_back(1);
  const int rank = static_cast<int>(std::max(a.size(), bs.size()));
  const memory::desc a_md = padded_md(a, rank);
  memory::desc b_md = padded_md(bs, rank);
  memory::dims y(rank);
  const memory::dims ad = a_md.dims(), bd = b_md.dims();
  for (int i = 0; i < rank - 2; ++i) y[i] = std::max(ad[i], bd[i]);
  y[rank - 2] = ad[rank - 2];
  y[rank - 1] = bd[rank - 1];
  const bool constant = g.initializers.count(n.inputs[1]) != 0;
  memory::dims flat;
  if (constant && b_rank == 2 && a.size() > 2) {
    flat = {shape_numel(a) / a.back(), bs[1]};
    memory::desc md;
    for (const PostOp& p : post)
      if (p.binary && !flat_operand(p.shape, flat, md)) flat.clear();
  }
  const bool const_b = constant && (rank == 2 || !flat.empty());
  const memory::desc a_view = flat.empty() ? a_md : plain_md({flat[0], a.back()});
  Bare b;
  dnnl::post_ops ops;
  append_post_ops(
      post, ops,
      [&](const Shape& shape) {
        memory::desc md = padded_md(shape, rank);
        if (!flat.empty()) flat_operand(shape, flat, md);
        return md;
      },
      eng, s, b, rng);
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  if (!flat.empty()) b_md = plain_md(bs);
  dnnl::matmul::desc desc(
      a_view, const_b ? any_md(bs) : b_md,
      flat.empty() ? plain_md(Shape(y.begin(), y.end())) : plain_md({flat[0], flat[1]}));
  dnnl::matmul::primitive_desc pd(desc, attr, eng);
  b.args[DNNL_ARG_SRC] = filled(eng, s, a_view, a_view, values_of(g, n.inputs[0]), rng);
  b.args[DNNL_ARG_WEIGHTS] =
      filled(eng, s, const_b ? pd.weights_desc() : b_md, b_md, values_of(g, n.inputs[1]), rng);
  b.args[DNNL_ARG_DST] = memory(pd.dst_desc(), eng);
  b.prim = dnnl::matmul(pd);
  b.impl = pd.impl_info_str();
  return b;
}

// Median of at least `runs` executions lasting at least `min_seconds`, after 10 discarded;
// with `model`, each execution follows an untimed run of the whole model (the caches then hold
// what a run leaves, as they do for a step inside the model).
double time_bare(const Bare& b, dnnl::stream& s, int runs, double min_seconds,
                 CompiledGraph* model = nullptr, const TensorMap* inputs = nullptr) {
  for (int i = 0; i < 10; ++i) b.prim.execute(s, b.args);
  s.wait();
  std::vector<double> t;
  const auto began = Clock::now();
  while (static_cast<int>(t.size()) < runs ||
         std::chrono::duration<double>(Clock::now() - began).count() < min_seconds) {
    if (model) model->run(*inputs);
    const auto start = Clock::now();
    b.prim.execute(s, b.args);
    s.wait();
    t.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  return latency_stats(std::move(t)).median_ms;
}

TensorMap random_inputs(const Graph& g, std::int64_t batch) {
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.f, 1.f);
  TensorMap inputs;
  for (const ValueInfo& in : g.inputs) {
    Shape s = in.shape;
    if (!s.empty() && s[0] < 0) s[0] = batch;
    Tensor t(DType::f32, s);
    for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = normal(rng);
    inputs[in.name] = t;
  }
  return inputs;
}

std::vector<std::int64_t> int_list(const std::string& s) {
  std::vector<std::int64_t> v;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) v.push_back(std::stoll(item));
  return v;
}

// One measured layer at one batch and thread count: the smallest median over the rounds.
struct Row {
  std::string model, path, node, op, step, impl;
  std::int64_t batch = 0, threads = 0;
  std::size_t post_ops = 0;
  double in_model = 1e300, bare = 1e300, bare_after_run = 1e300, alone = 1e300,
         bare_no_post = 1e300;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::int64_t> batches{1}, thread_counts{1, 2};
  int runs = 100, rounds = 3;
  double min_seconds = 0.1;
  std::string json_out;
  std::vector<std::string> models;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--batch" && i + 1 < argc)
      batches = int_list(argv[++i]);
    else if (a == "--threads" && i + 1 < argc)
      thread_counts = int_list(argv[++i]);
    else if (a == "--runs" && i + 1 < argc)
      runs = std::stoi(argv[++i]);
    else if (a == "--rounds" && i + 1 < argc)
      rounds = std::max(1, std::stoi(argv[++i]));
    else if (a == "--min-seconds" && i + 1 < argc)
      min_seconds = std::stod(argv[++i]);
    else if (a == "--json" && i + 1 < argc)
      json_out = argv[++i];
    else
      models.push_back(a);
  }
  Registry registry = make_default_registry();
  std::unique_ptr<Device> device = registry.create_device("cpu-onednn");
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(eng);
  const char* header = "%-16s %-28s %-30s %5s %3s %9s %9s %6s %6s %9s %6s %9s %6s\n";
  std::printf(header, "model", "node", "step (fused)", "batch", "thr", "in model", "bare", "ratio",
              "vs best", "bare cold", "ratio", "alone", "ratio");
  std::printf(header, "", "", "", "", "", "us", "us", "", "", "us", "", "us", "");
  std::vector<Row> table;
  for (const std::string& path : models) {
    const Graph g = load_model(path);
    const std::string model = path.substr(path.rfind('/') + 1);
    for (const std::int64_t batch : batches) {
      TensorMap meta;
      for (const ValueInfo& in : g.inputs) {
        Shape s = in.shape;
        if (!s.empty() && s[0] < 0) s[0] = batch;
        meta[in.name] = Tensor::meta(in.dtype, s);
      }
      const TensorMap shapes = infer_shapes(g, meta);
      const TensorMap inputs = random_inputs(g, batch);
      // The largest Conv and the largest MatMul/Gemm by MACs.
      const ModelInfo info = describe_model(g);
      const LayerInfo* largest[2] = {nullptr, nullptr};
      for (const LayerInfo& l : info.layers) {
        const int k = l.op_type == "Conv"                              ? 0
                      : (l.op_type == "MatMul" || l.op_type == "Gemm") ? 1
                                                                       : -1;
        if (k >= 0 && (!largest[k] || l.macs > largest[k]->macs)) largest[k] = &l;
      }
      for (const std::int64_t threads : thread_counts) {
        const int used = device->set_threads(static_cast<int>(threads));
        BenchOptions whole;
        whole.batch = batch;
        whole.threads = static_cast<int>(threads);
        whole.runs = runs;
        whole.min_seconds = min_seconds;
        whole.per_layer = true;
        std::vector<Row> rows;
        for (const LayerInfo* l : largest)
          if (l) rows.push_back({model, path, l->name, l->op_type, l->op_type, "", batch, used});
        // Rounds interleave every measurement, so that another program's load on the machine
        // falls on all of them alike; each keeps its best round.
        for (int round = 0; round < rounds; ++round) {
          const BenchResult per_layer = benchmark(g, *device, whole);
          std::unique_ptr<CompiledGraph> compiled = device->compile(g);
          compiled->run(inputs);
          for (Row& row : rows) {
            const Node& node = *g.find_node(row.node);
            const int anchor = static_cast<int>(&node - g.nodes.data());
            for (const LayerLatency& step : per_layer.layers)
              if (step.name == node.name) {
                row.in_model = std::min(row.in_model, step.median_ms);
                row.step = step.op;
              }
            const std::vector<PostOp> post = fused_post_ops(g, anchor, row.step, shapes);
            row.post_ops = post.size();
            BenchOptions options = whole;
            options.per_layer = false;
            row.alone =
                std::min(row.alone, benchmark(single_node_graph(g, node, shapes), *device, options)
                                        .end_to_end.median_ms);
            device->set_threads(static_cast<int>(threads));  // bare primitives made for T threads
            auto make = [&](const std::vector<PostOp>& p) {
              return node.op_type == "Conv"   ? bare_conv(g, node, shapes, p, eng, stream)
                     : node.op_type == "Gemm" ? bare_gemm(g, node, shapes, p, eng, stream)
                                              : bare_matmul(g, node, shapes, p, eng, stream);
            };
            const Bare fused = make(post), lone = make({});
            row.impl = fused.impl;
            row.bare = std::min(row.bare, time_bare(fused, stream, runs, min_seconds));
            row.bare_no_post =
                std::min(row.bare_no_post, time_bare(lone, stream, runs, min_seconds));
            row.bare_after_run = std::min(
                row.bare_after_run,
                time_bare(fused, stream, std::max(runs / 4, 10), 0, compiled.get(), &inputs));
          }
        }
        for (const Row& row : rows) {
          // The best bare time at up to this many threads (a small primitive may be faster on
          // fewer threads than it was given).
          double best = row.bare;
          for (const Row& other : table)
            if (other.path == row.path && other.node == row.node && other.batch == row.batch &&
                other.threads <= row.threads)
              best = std::min(best, other.bare);
          std::printf(
              "%-16s %-28s %-30s %5lld %3lld %9.2f %9.2f %6.2f %6.2f %9.2f %6.2f %9.2f %6.2f\n",
              row.model.c_str(), row.node.c_str(), row.step.c_str(),
              static_cast<long long>(row.batch), static_cast<long long>(row.threads),
              1e3 * row.in_model, 1e3 * row.bare, row.in_model / row.bare, row.in_model / best,
              1e3 * row.bare_after_run, row.in_model / row.bare_after_run, 1e3 * row.alone,
              row.alone / row.bare_no_post);
          std::fflush(stdout);
          table.push_back(row);
        }
      }
    }
  }
  const std::map<std::string, std::string> env = device->environment();
  if (!json_out.empty()) {
    nlohmann::json rows = nlohmann::json::array();
    for (const Row& row : table)
      rows.push_back({{"model", row.path},
                      {"node", row.node},
                      {"op", row.op},
                      {"step", row.step},
                      {"post_ops", row.post_ops},
                      {"batch", row.batch},
                      {"threads", row.threads},
                      {"bare_impl", row.impl},
                      {"quantscope_in_model_ms", row.in_model},
                      {"bare_onednn_ms", row.bare},
                      {"ratio", row.in_model / row.bare},
                      {"bare_onednn_after_model_run_ms", row.bare_after_run},
                      {"ratio_vs_after_model_run", row.in_model / row.bare_after_run},
                      {"quantscope_alone_ms", row.alone},
                      {"bare_onednn_no_post_ops_ms", row.bare_no_post},
                      {"ratio_alone", row.alone / row.bare_no_post}});
    std::ofstream(json_out) << nlohmann::json{
        {"isa", env.at("isa")},
        {"onednn_version", env.at("onednn_version")},
        {"cpu_runtime", env.at("cpu_runtime")},
        {"cpu_model", cpu_model_name()},
        {"rounds", rounds},
        {"rows", rows}}.dump(2);
  }
  std::printf("isa %s, oneDNN %s (%s), %s\n", env.at("isa").c_str(),
              env.at("onednn_version").c_str(), env.at("cpu_runtime").c_str(),
              cpu_model_name().c_str());
  return 0;
}
