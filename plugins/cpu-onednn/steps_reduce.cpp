// Reductions into a row-major output (keepdims or not, the same buffer). ReduceMean and
// ReduceSum over one block of adjacent axes run as a matmul with a constant vector; the others,
// and scattered axes, on oneDNN's reduction primitive.
#include "plan.h"

namespace qs::onednn {

using dnnl::memory;
using alg = dnnl::algorithm;

namespace {

struct ReduceAlg {
  const char* op;
  alg algorithm;
  float p;           // the norm's power
  bool log = false;  // log of the result (ReduceLogSum)
};

// oneDNN's lp norms: norm_lp_sum is (sum |x|^p)^(1/p), norm_lp_power_p_sum is sum |x|^p; with
// eps 0 they compute exactly the ONNX reductions.
constexpr ReduceAlg kReductions[] = {
    {"ReduceMean", alg::reduction_mean, 0.f},
    {"ReduceSum", alg::reduction_sum, 0.f},
    {"ReduceMax", alg::reduction_max, 0.f},
    {"ReduceMin", alg::reduction_min, 0.f},
    {"ReduceProd", alg::reduction_mul, 0.f},
    {"ReduceL1", alg::reduction_norm_lp_sum, 1.f},
    {"ReduceL2", alg::reduction_norm_lp_sum, 2.f},
    {"ReduceSumSquare", alg::reduction_norm_lp_power_p_sum, 2.f},
    {"ReduceLogSum", alg::reduction_sum, 0.f, true},
};

const ReduceAlg* find_reduction(const std::string& op) {
  for (const ReduceAlg& r : kReductions)
    if (op == r.op) return &r;
  return nullptr;
}

}  // namespace

bool is_reduce_op(const std::string& op) {
  return find_reduction(op) != nullptr;
}

void make_reduce(Plan& p, const Group& g, Step& step) {
  const Node& n = *g.nodes[0];
  const ReduceAlg& r = *find_reduction(n.op_type);
  const Shape x = p.shape(n.inputs[0]);
  std::vector<bool> reduced;
  reduce_axes(p.graph, n, static_cast<int>(x.size()), reduced);
  Shape kept = x;
  int first = -1, last = -1;
  bool contiguous = true;
  for (int i = 0; i < static_cast<int>(x.size()); ++i) {
    if (!reduced[i]) continue;
    kept[i] = 1;
    if (first >= 0 && last != i - 1) contiguous = false;
    if (first < 0) first = i;
    last = i;
  }
  const bool mean = r.algorithm == alg::reduction_mean;
  if (contiguous && first >= 0 && (mean || (r.algorithm == alg::reduction_sum && !r.log))) {
    // One block of axes: x as [outer, len, inner] times a constant vector of 1/len or 1
    // (oneDNN's reduction of a middle dimension is far slower than its matmul).
    std::int64_t outer = 1, len = 1, inner = 1;
    for (int i = 0; i < static_cast<int>(x.size()); ++i)
      (i < first ? outer : i <= last ? len : inner) *= x[i];
    Tensor weights(DType::f32, inner == 1 ? Shape{len, 1} : Shape{1, 1, len});
    for (std::int64_t i = 0; i < len; ++i) weights.data<float>()[i] = mean ? 1.f / len : 1.f;
    const int sw = p.add_constant(weights);
    const int sx = p.slot(n.inputs[0]);
    p.output(g.output, plain_md(p.shape(g.output)));
    const int so = p.slot(g.output);
    const bool rows = inner == 1;
    const memory a = rows ? p.view(sx, plain_md({outer, len}), step) : p.current(sw);
    const memory b = rows ? p.current(sw) : p.view(sx, plain_md({outer, len, inner}), step);
    const memory c = p.view(so, rows ? plain_md({outer, 1}) : plain_md({outer, 1, inner}), step);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a.get_desc(), b.get_desc(), c.get_desc()),
                                    p.engine);
    step.execs.push_back(
        {dnnl::matmul(pd), {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}}});
    return;
  }
  const memory src = p.view(p.slot(n.inputs[0]), plain_md(x), step);
  p.output(g.output, plain_md(p.shape(g.output)));
  const memory dst = p.view(p.slot(g.output), plain_md(kept), step);
  if (kept == x && r.p == 0.f) {
    // Only axes of size 1: a copy (oneDNN's reduction wants a dimension to reduce). The norms
    // still take |x| and powers, so they run the primitive.
    step.execs.push_back({dnnl::reorder(src, dst), {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}}});
  } else {
    dnnl::reduction::desc desc(r.algorithm, src.get_desc(), dst.get_desc(), r.p, 0.f);
    dnnl::reduction::primitive_desc pd(desc, p.engine);
    step.execs.push_back({dnnl::reduction(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}});
  }
  if (r.log) add_eltwise(p, step, {alg::eltwise_log}, dst, dst);
}

}  // namespace qs::onednn
