// Every op but Conv, Gemm and MatMul: elementwise ops, views and copies, reductions, Softmax,
// LayerNormalization, pooling and FakeQuant; and the one list of what the device runs.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "ops.h"
#include "quantscope/quant_format.h"

namespace qs::vk {

namespace {

const char* const kUnaryOps[] = {
    "Relu",     "Sigmoid",    "Tanh",      "Exp",         "Log",      "Sqrt",      "Neg",
    "Abs",      "Erf",        "HardSwish", "HardSigmoid", "Clip",     "LeakyRelu", "Elu",
    "Softplus", "Reciprocal", "Floor",     "Ceil",        "Identity", "Gelu",      "Sin",
    "Cos",      "Silu",       "Sign",      "Round",       "Selu"};
const char* const kBinaryOps[] = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min"};
const char* const kReduceOps[] = {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin",
                                  "ReduceSumSquare"};

template <std::size_t N>
int index_of(const char* const (&list)[N], const std::string& op) {
  for (std::size_t i = 0; i < N; ++i)
    if (op == list[i]) return static_cast<int>(i);
  return -1;
}

std::vector<std::int64_t> constant_ints(const Graph& graph, const std::string& name, bool& ok) {
  auto it = graph.initializers.find(name);
  if (it == graph.initializers.end() || !it->second.has_data()) {
    ok = false;
    return {};
  }
  return it->second.to_i64();
}

bool constant_float(const Graph& graph, const std::string& name, float& v) {
  auto it = graph.initializers.find(name);
  if (it == graph.initializers.end() || !it->second.has_data() || it->second.numel() != 1)
    return false;
  v = it->second.to_f32()[0];
  return true;
}

// Row-major strides of a shape.
std::vector<std::int64_t> strides_of(const Shape& s) {
  std::vector<std::int64_t> st(s.size(), 1);
  for (std::size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}

// The reduced axes of a Reduce* node as [first, last) when they are contiguous; false when not
// constant, not contiguous, or a no-op.
bool reduce_range(const Graph& graph, const Node& node, int rank, int& first, int& last) {
  std::vector<std::int64_t> axes;
  if (node.has_attr("axes")) {
    axes = node.attr_ints("axes");
  } else if (node.inputs.size() > 1 && !node.inputs[1].empty()) {
    bool ok = true;
    axes = constant_ints(graph, node.inputs[1], ok);
    if (!ok) return false;
  }
  if (axes.empty()) {
    if (node.attr_int("noop_with_empty_axes", 0) != 0) return false;
    for (int i = 0; i < rank; ++i) axes.push_back(i);
  }
  for (std::int64_t& a : axes) {
    if (a < 0) a += rank;
    if (a < 0 || a >= rank) return false;
  }
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  if (axes.back() - axes.front() + 1 != static_cast<std::int64_t>(axes.size())) return false;
  first = static_cast<int>(axes.front());
  last = static_cast<int>(axes.back()) + 1;
  return true;
}

std::int64_t product(const Shape& s, int from, int to) {
  std::int64_t n = 1;
  for (int i = from; i < to; ++i) n *= s[static_cast<std::size_t>(i)];
  return n;
}

// A Slice's start and step per axis (opset 10 and later: inputs; before: attributes).
bool slice_params(const Graph& graph, const Node& node, const Shape& x, const Shape& y,
                  std::vector<std::int64_t>& start, std::vector<std::int64_t>& step) {
  const int rank = static_cast<int>(x.size());
  std::vector<std::int64_t> starts, axes, steps;
  bool ok = true;
  if (graph.opset < 10) {
    starts = node.attr_ints("starts");
    axes = node.attr_ints("axes");
  } else {
    starts = constant_ints(graph, node.inputs[1], ok);
    if (node.inputs.size() > 3 && !node.inputs[3].empty())
      axes = constant_ints(graph, node.inputs[3], ok);
    if (node.inputs.size() > 4 && !node.inputs[4].empty())
      steps = constant_ints(graph, node.inputs[4], ok);
  }
  if (!ok) return false;
  if (axes.empty())
    for (std::size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<std::int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (axes.size() != starts.size() || steps.size() != starts.size()) return false;
  start.assign(static_cast<std::size_t>(rank), 0);
  step.assign(static_cast<std::size_t>(rank), 1);
  for (std::size_t i = 0; i < axes.size(); ++i) {
    std::int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];
    if (a < 0 || a >= rank || steps[i] == 0) return false;
    const std::int64_t dim = x[static_cast<std::size_t>(a)];
    std::int64_t s = starts[i] < 0 ? starts[i] + dim : starts[i];
    s = steps[i] > 0 ? std::clamp<std::int64_t>(s, 0, dim)
                     : std::clamp<std::int64_t>(s, 0, dim - 1);
    start[static_cast<std::size_t>(a)] = s;
    step[static_cast<std::size_t>(a)] = steps[i];
  }
  return y.size() == x.size();
}

struct CopyPush {
  std::int32_t n, src_base, dst_base;
  std::int32_t dims[6], ss[6], ds[6];
};

// A strided copy of `dims` (up to 6, left-padded with 1s).
void copy(Plan& p, const Binding& src, const Binding& dst, const Shape& dims,
          const std::vector<std::int64_t>& ss, const std::vector<std::int64_t>& ds,
          std::int64_t src_base, std::int64_t dst_base) {
  CopyPush c{};
  c.n = static_cast<std::int32_t>(shape_numel(dims));
  if (c.n == 0) return;
  c.src_base = static_cast<std::int32_t>(src_base);
  c.dst_base = static_cast<std::int32_t>(dst_base);
  const std::size_t pad = 6 - dims.size();
  for (std::size_t i = 0; i < 6; ++i) {
    c.dims[i] = i < pad ? 1 : static_cast<std::int32_t>(dims[i - pad]);
    c.ss[i] = i < pad ? 0 : static_cast<std::int32_t>(ss[i - pad]);
    c.ds[i] = i < pad ? 0 : static_cast<std::int32_t>(ds[i - pad]);
  }
  p.dispatch_1d(p.ctx().kernel("copy", 2, {}), {src, dst}, &c, sizeof c, c.n);
}

struct RowsPush {
  std::int32_t rows, r, inner;
};

void rows_dispatch(Plan& p, const Kernel& k, std::vector<Binding> b, const RowsPush& rp) {
  const std::int64_t x = std::min<std::int64_t>(rp.rows, 65535);
  p.dispatch(k, std::move(b), &rp, sizeof rp, static_cast<std::uint32_t>(x),
             static_cast<std::uint32_t>((rp.rows + x - 1) / x));
}

bool fake_quant_grid(const Node& n, float& scale, float& zp, float& qmin, float& qmax) {
  const quant::Grid g = quant::read_fake_quant(n);
  scale = g.scale;
  zp = static_cast<float>(g.zero_point);
  qmin = static_cast<float>(g.qmin);
  qmax = static_cast<float>(g.qmax);
  return quant::valid(g);
}

}  // namespace

bool clip_bounds(const Graph& graph, const Node& node, float& lo, float& hi) {
  lo = -INFINITY;
  hi = INFINITY;
  if (graph.opset < 11) {
    lo = node.attr_float("min", -INFINITY);
    hi = node.attr_float("max", INFINITY);
    return true;
  }
  if (node.inputs.size() > 1 && !node.inputs[1].empty() &&
      !constant_float(graph, node.inputs[1], lo))
    return false;
  if (node.inputs.size() > 2 && !node.inputs[2].empty() &&
      !constant_float(graph, node.inputs[2], hi))
    return false;
  return true;
}

bool activation_code(const Graph& graph, const Node& node, int& act, float& lo, float& hi) {
  lo = hi = 0;
  if (node.op_type == "Relu")
    act = 1;
  else if (node.op_type == "Clip")
    act = clip_bounds(graph, node, lo, hi) ? 2 : 0;
  else if (node.op_type == "HardSwish")
    act = 3;
  else if (node.op_type == "Sigmoid")
    act = 4;
  else
    act = 0;
  return act != 0;
}

bool is_view(const Node& node) {
  const std::string& op = node.op_type;
  return node.domain.empty() && (op == "Reshape" || op == "Flatten" || op == "Squeeze" ||
                                 op == "Unsqueeze" || op == "Identity" || op == "Dropout");
}

std::string unsupported(const Graph& graph, const Node& node, const ShapeOf& shape_of,
                        bool packed) {
  const std::string& op = node.op_type;
  if (node.inputs.empty() || node.outputs.empty() || node.inputs[0].empty()) return "no input";
  const Tensor* x = shape_of(node.inputs[0]);
  const Tensor* y = shape_of(node.outputs[0]);
  if (node.domain == "ai.quantscope" && op == "FakeQuant") {
    float s, z, lo, hi;
    if (!is_f32(x) || !fake_quant_grid(node, s, z, lo, hi)) return "FakeQuant parameters";
    return shape_numel(x->shape()) > kMaxElements ? "size" : "";
  }
  if (!node.domain.empty() && node.domain != "ai.onnx") return "domain " + node.domain;
  if (!x || !y) return "shapes not known before the run";
  if (!is_f32(x) || !is_f32(y)) return "dtype " + dtype_name(is_f32(x) ? y->dtype() : x->dtype());
  if (x->rank() > 6 || y->rank() > 6) return "rank above 6";
  if (shape_numel(x->shape()) > kMaxElements || shape_numel(y->shape()) > kMaxElements)
    return "size";
  // LayerNormalization may also return its Mean and InvStdDev; other ops one output.
  const bool stats = op == "LayerNormalization" && node.outputs.size() == 3 &&
                     !node.outputs[1].empty() && !node.outputs[2].empty();
  for (std::size_t i = 1; i < node.outputs.size(); ++i)
    if (!node.outputs[i].empty() && !stats) return "second output";
  if (op == "Conv" || op == "ConvTranspose" || op == "Gemm" || op == "MatMul")
    return matmul_unsupported(graph, node, shape_of, packed);
  if (is_view(node)) return "";
  if (const int u = index_of(kUnaryOps, op); u >= 0) {
    if (op == "Clip") {
      float lo, hi;
      if (!clip_bounds(graph, node, lo, hi))  // bounds computed at run time: one value each
        for (std::size_t i = 1; i < node.inputs.size() && i < 3; ++i)
          if (!node.inputs[i].empty() &&
              (!is_f32(shape_of(node.inputs[i])) || shape_of(node.inputs[i])->numel() != 1))
            return "Clip bounds";
    }
    if (op == "Gelu" && node.attr_string("approximate", "none") != "none")
      return "Gelu approximate";
    return "";
  }
  if (index_of(kBinaryOps, op) >= 0) {
    if (node.inputs.size() != 2 || !is_f32(shape_of(node.inputs[1]))) return "inputs";
    return "";
  }
  if (op == "Transpose") return "";
  if (op == "Slice") {
    std::vector<std::int64_t> start, step;
    return slice_params(graph, node, x->shape(), y->shape(), start, step) ? "" : "Slice bounds";
  }
  if (op == "Concat") {
    for (const std::string& i : node.inputs)
      if (!is_f32(shape_of(i))) return "inputs";
    return "";
  }
  if (index_of(kReduceOps, op) >= 0) {
    int first, last;
    if (!reduce_range(graph, node, x->rank(), first, last)) return "reduced axes";
    return "";
  }
  if (op == "GlobalAveragePool" || op == "GlobalMaxPool") return x->rank() >= 3 ? "" : "rank";
  if (op == "Softmax" || op == "LogSoftmax") return "";
  if (op == "LayerNormalization") {
    std::int64_t axis = node.attr_int("axis", -1);
    if (axis < 0) axis += x->rank();
    if (axis < 0 || axis >= x->rank()) return "axis";
    const std::int64_t d = product(x->shape(), static_cast<int>(axis), x->rank());
    const Tensor* scale = node.inputs.size() > 1 ? shape_of(node.inputs[1]) : nullptr;
    const Tensor* bias =
        node.inputs.size() > 2 && !node.inputs[2].empty() ? shape_of(node.inputs[2]) : nullptr;
    if (!is_f32(scale) || scale->numel() != d) return "scale";
    if (bias && (!is_f32(bias) || bias->numel() != d)) return "bias";
    return "";
  }
  if (op == "MaxPool" || op == "AveragePool") {
    if (x->rank() != 4) return "pooling of rank " + std::to_string(x->rank());
    if (node.attr_int("storage_order", 0) != 0) return "storage_order";
    Geometry2d g;
    return pool_taps(node, x->shape(), g);
  }
  return "op " + op;
}

bool can_fuse_activation(const Plan& p, const Node& node, const Node& activation) {
  int act;
  float lo, hi;
  if (!activation_code(p.graph(), activation, act, lo, hi)) return false;
  if (activation.inputs.empty() || activation.inputs[0] != node.outputs[0]) return false;
  return node.op_type == "Conv" || node.op_type == "ConvTranspose" || node.op_type == "Gemm" ||
         node.op_type == "MatMul";
}

void build_node(Plan& p, const Node& node, const PackedLayer* packed, const Node* activation) {
  const std::string& op = node.op_type;
  const Graph& graph = p.graph();
  if (op == "Conv" || op == "ConvTranspose" || op == "Gemm" || op == "MatMul") {
    int act = 0;
    float lo = 0, hi = 0;
    if (activation) activation_code(graph, *activation, act, lo, hi);
    build_matmul(p, node, packed, act, lo, hi);
    return;
  }
  if (is_view(node)) {
    p.view(node.outputs[0], node.inputs[0]);
    return;
  }
  const Shape& xs = p.shape(node.inputs[0]);
  const Shape& ys = p.shape(node.outputs[0]);
  Binding x = p.in(node.inputs[0]);
  if (node.domain == "ai.quantscope") {  // FakeQuant
    struct {
      std::int32_t n;
      float inv_scale, scale, zero_point, qmin, qmax;
    } pc{};
    fake_quant_grid(node, pc.scale, pc.zero_point, pc.qmin, pc.qmax);
    pc.n = static_cast<std::int32_t>(shape_numel(xs));
    pc.inv_scale = 1.0f / pc.scale;
    p.dispatch_1d(p.ctx().kernel("fake_quant", 2, {}), {x, p.out(node.outputs[0])}, &pc, sizeof pc,
                  pc.n);
    return;
  }
  float clip_lo = 0, clip_hi = 0;
  if (op == "Clip" && !clip_bounds(graph, node, clip_lo, clip_hi)) {
    auto bound = [&](std::size_t i) {
      return node.inputs.size() > i && !node.inputs[i].empty() ? p.in(node.inputs[i]) : p.dummy();
    };
    const bool has_lo = node.inputs.size() > 1 && !node.inputs[1].empty();
    const bool has_hi = node.inputs.size() > 2 && !node.inputs[2].empty();
    const std::int32_t n = static_cast<std::int32_t>(shape_numel(xs));
    p.dispatch_1d(p.ctx().kernel("clip", 4, {has_lo ? 1 : 0, has_hi ? 1 : 0}),
                  {x, bound(1), bound(2), p.out(node.outputs[0])}, &n, sizeof n, n);
    return;
  }
  if (const int u = index_of(kUnaryOps, op); u >= 0) {
    struct {
      std::int32_t n;
      float alpha, beta;
    } pc{static_cast<std::int32_t>(shape_numel(xs)), 0.0f, 0.0f};
    if (op == "HardSigmoid") {
      pc.alpha = node.attr_float("alpha", 0.2f);
      pc.beta = node.attr_float("beta", 0.5f);
    } else if (op == "Clip") {
      clip_bounds(graph, node, pc.alpha, pc.beta);
    } else if (op == "LeakyRelu") {
      pc.alpha = node.attr_float("alpha", 0.01f);
    } else if (op == "Elu") {
      pc.alpha = node.attr_float("alpha", 1.0f);
    } else if (op == "Selu") {
      pc.alpha = node.attr_float("alpha", 1.67326319217681884765625f);
      pc.beta = node.attr_float("gamma", 1.05070102214813232421875f);
    }
    p.dispatch_1d(p.ctx().kernel("unary", 2, {u}), {x, p.out(node.outputs[0])}, &pc, sizeof pc,
                  pc.n);
    return;
  }
  if (const int b = index_of(kBinaryOps, op); b >= 0) {
    struct {
      std::int32_t n, dims[6], sa[6], sb[6];
    } pc{};
    const Shape& bs = p.shape(node.inputs[1]);
    pc.n = static_cast<std::int32_t>(shape_numel(ys));
    const std::size_t r = ys.size();
    const std::vector<std::int64_t> sa = strides_of(xs), sb = strides_of(bs);
    for (std::size_t i = 0; i < 6; ++i) {
      pc.dims[i] = 1;
      if (i + r < 6) continue;
      const std::size_t d = i + r - 6;  // axis of the output
      pc.dims[i] = static_cast<std::int32_t>(ys[d]);
      // Inputs align on the right.
      const std::size_t ra = xs.size(), rb = bs.size();
      if (d + ra >= r) {
        const std::size_t k = d + ra - r;
        pc.sa[i] = xs[k] == 1 ? 0 : static_cast<std::int32_t>(sa[k]);
      }
      if (d + rb >= r) {
        const std::size_t k = d + rb - r;
        pc.sb[i] = bs[k] == 1 ? 0 : static_cast<std::int32_t>(sb[k]);
      }
    }
    p.dispatch_1d(p.ctx().kernel("binary", 3, {b}),
                  {x, p.in(node.inputs[1]), p.out(node.outputs[0])}, &pc, sizeof pc, pc.n);
    return;
  }
  if (op == "Transpose") {
    std::vector<std::int64_t> perm = node.attr_ints("perm");
    if (perm.empty())
      for (std::size_t i = xs.size(); i-- > 0;) perm.push_back(static_cast<std::int64_t>(i));
    const std::vector<std::int64_t> sx = strides_of(xs);
    std::vector<std::int64_t> ss(ys.size());
    for (std::size_t i = 0; i < ys.size(); ++i) ss[i] = sx[static_cast<std::size_t>(perm[i])];
    copy(p, x, p.out(node.outputs[0]), ys, ss, strides_of(ys), 0, 0);
    return;
  }
  if (op == "Slice") {
    std::vector<std::int64_t> start, step;
    slice_params(graph, node, xs, ys, start, step);
    const std::vector<std::int64_t> sx = strides_of(xs);
    std::vector<std::int64_t> ss(xs.size());
    std::int64_t base = 0;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      base += start[i] * sx[i];
      ss[i] = step[i] * sx[i];
    }
    copy(p, x, p.out(node.outputs[0]), ys, ss, strides_of(ys), base, 0);
    return;
  }
  if (op == "Concat") {
    std::int64_t axis = node.attr_int("axis", 0);
    if (axis < 0) axis += static_cast<std::int64_t>(ys.size());
    Binding y = p.out(node.outputs[0]);
    const std::vector<std::int64_t> sy = strides_of(ys);
    std::int64_t offset = 0;
    for (const std::string& in : node.inputs) {
      const Shape& s = p.shape(in);
      copy(p, p.in(in), y, s, strides_of(s), sy, 0, offset * sy[static_cast<std::size_t>(axis)]);
      offset += s[static_cast<std::size_t>(axis)];
    }
    return;
  }
  if (const int r = index_of(kReduceOps, op); r >= 0) {
    int first = 0, last = 0;
    reduce_range(graph, node, static_cast<int>(xs.size()), first, last);
    RowsPush rp{};
    rp.r = static_cast<std::int32_t>(product(xs, first, last));
    rp.inner = static_cast<std::int32_t>(product(xs, last, static_cast<int>(xs.size())));
    rp.rows = static_cast<std::int32_t>(product(xs, 0, first) * rp.inner);
    rows_dispatch(p, p.ctx().kernel("reduce", 2, {r}), {x, p.out(node.outputs[0])}, rp);
    return;
  }
  if (op == "GlobalAveragePool" || op == "GlobalMaxPool") {
    RowsPush rp{static_cast<std::int32_t>(xs[0] * xs[1]),
                static_cast<std::int32_t>(product(xs, 2, static_cast<int>(xs.size()))), 1};
    rows_dispatch(p, p.ctx().kernel("reduce", 2, {op == "GlobalMaxPool" ? 2 : 1}),
                  {x, p.out(node.outputs[0])}, rp);
    return;
  }
  if (op == "Softmax" || op == "LogSoftmax") {
    const int rank = static_cast<int>(xs.size());
    std::int64_t axis = node.attr_int("axis", graph.opset >= 13 ? -1 : 1);
    if (axis < 0) axis += rank;
    RowsPush rp{};
    if (graph.opset >= 13) {
      rp.r = static_cast<std::int32_t>(xs[static_cast<std::size_t>(axis)]);
      rp.inner = static_cast<std::int32_t>(product(xs, static_cast<int>(axis) + 1, rank));
      rp.rows = static_cast<std::int32_t>(product(xs, 0, static_cast<int>(axis)) * rp.inner);
    } else {  // the input as a 2-D matrix [before axis, from axis on]
      rp.r = static_cast<std::int32_t>(product(xs, static_cast<int>(axis), rank));
      rp.inner = 1;
      rp.rows = static_cast<std::int32_t>(product(xs, 0, static_cast<int>(axis)));
    }
    rows_dispatch(p, p.ctx().kernel("softmax", 2, {op == "LogSoftmax" ? 1 : 0}),
                  {x, p.out(node.outputs[0])}, rp);
    return;
  }
  if (op == "LayerNormalization") {
    const int rank = static_cast<int>(xs.size());
    std::int64_t axis = node.attr_int("axis", -1);
    if (axis < 0) axis += rank;
    struct {
      std::int32_t rows, d;
      float eps;
    } pc{static_cast<std::int32_t>(product(xs, 0, static_cast<int>(axis))),
         static_cast<std::int32_t>(product(xs, static_cast<int>(axis), rank)),
         node.attr_float("epsilon", 1e-5f)};
    const bool has_bias = node.inputs.size() > 2 && !node.inputs[2].empty();
    const bool stats = node.outputs.size() == 3 && !node.outputs[1].empty();
    const Kernel& k = p.ctx().kernel("layer_norm", 6, {has_bias ? 1 : 0, stats ? 1 : 0});
    std::vector<Binding> b{x,
                           p.in(node.inputs[1]),
                           has_bias ? p.in(node.inputs[2]) : p.dummy(),
                           p.out(node.outputs[0]),
                           stats ? p.out(node.outputs[1]) : p.dummy(),
                           stats ? p.out(node.outputs[2]) : p.dummy()};
    const std::int64_t gx = std::min<std::int64_t>(pc.rows, 65535);
    p.dispatch(k, std::move(b), &pc, sizeof pc, static_cast<std::uint32_t>(gx),
               static_cast<std::uint32_t>((pc.rows + gx - 1) / gx));
    return;
  }
  if (op == "MaxPool" || op == "AveragePool") {
    Geometry2d g;
    pool_taps(node, xs, g);
    struct {
      std::int32_t total, H, W, OH, OW;
      Taps taps;
      std::int32_t peh, pew;
    } pc{i32(shape_numel(ys)), i32(xs[2]), i32(xs[3]), i32(ys[2]),
         i32(ys[3]),           g.taps,     g.peh,      g.pew};
    const bool max = op == "MaxPool";
    const int count_pad = !max && node.attr_int("count_include_pad", 0) != 0 ? 1 : 0;
    p.dispatch_1d(p.ctx().kernel("pool", 2, {max ? 1 : 0, count_pad}), {x, p.out(node.outputs[0])},
                  &pc, sizeof pc, pc.total);
    return;
  }
  throw Error("vulkan: no kernel for " + op);
}

}  // namespace qs::vk

namespace qs::vk {

bool batch_separable(const Graph& graph, const Node& node, const ShapeOf& shape_of) {
  const Tensor* y = shape_of(node.outputs[0]);
  if (!y || y->rank() < 1) return false;
  const std::int64_t batch = y->shape()[0];
  // No constant may be indexed by the batch, and batched inputs must be batched alike.
  for (const std::string& in : node.inputs) {
    if (in.empty()) continue;
    const Tensor* t = shape_of(in);
    if (!t) return false;
    const bool batched = t->rank() == y->rank() && t->shape()[0] == batch && batch > 1;
    if (batched && graph.initializers.count(in)) return false;
    if (t->rank() == y->rank() && t->shape()[0] != batch && t->shape()[0] != 1) return false;
  }
  const std::string& op = node.op_type;
  const int rank = y->rank();
  auto axis_attr = [&](std::int64_t fallback) {
    std::int64_t a = node.attr_int("axis", fallback);
    return a < 0 ? a + rank : a;
  };
  if (node.domain == "ai.quantscope") return true;  // FakeQuant
  if (index_of(kUnaryOps, op) >= 0 || index_of(kBinaryOps, op) >= 0) return true;
  if (op == "Conv" || op == "ConvTranspose" || op == "MaxPool" || op == "AveragePool" ||
      op == "GlobalAveragePool" || op == "GlobalMaxPool")
    return true;
  if (op == "Gemm") return node.attr_int("transA", 0) == 0;
  if (op == "MatMul") return shape_of(node.inputs[0])->rank() >= 2;
  if (op == "Softmax" || op == "LogSoftmax") return axis_attr(graph.opset >= 13 ? -1 : 1) > 0;
  if (op == "LayerNormalization") return axis_attr(-1) > 0;
  if (op == "Concat") return axis_attr(0) > 0;
  if (op == "Transpose") {
    const std::vector<std::int64_t> perm = node.attr_ints("perm");
    return !perm.empty() && perm[0] == 0;
  }
  if (index_of(kReduceOps, op) >= 0) {
    int first = 0, last = 0;
    return reduce_range(graph, node, shape_of(node.inputs[0])->rank(), first, last) && first > 0;
  }
  return false;  // Slice and the rest: kept whole
}

}  // namespace qs::vk
