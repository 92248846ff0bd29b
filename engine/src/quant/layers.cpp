#include "quant/layers.h"

#include "quantscope/error.h"

namespace qs::quant {

namespace {

const Tensor* constant(const Graph& g, const Node& n, int input) {
  if (!n.has_input(input)) return nullptr;
  auto it = g.initializers.find(n.inputs[input]);
  return it == g.initializers.end() ? nullptr : &it->second;
}

// A 1-D bias of `rows` float values.
std::string bias_of(const Graph& g, const Node& n, int input, std::int64_t rows) {
  const Tensor* b = constant(g, n, input);
  if (!b || b->dtype() != DType::f32 || b->numel() != rows || b->rank() > 2) return "";
  if (b->rank() == 2 && b->dim(0) != 1) return "";
  return n.inputs[input];
}

}  // namespace

const char* layer_kind_name(LayerKind kind) {
  switch (kind) {
    case LayerKind::conv:
      return "conv";
    case LayerKind::conv_transpose:
      return "conv_transpose";
    case LayerKind::gemm:
      return "gemm";
    case LayerKind::matmul_weight:
      return "matmul";
    case LayerKind::matmul_acts:
      return "matmul_acts";
  }
  return "?";
}

std::vector<QuantLayer> find_quant_layers(const Graph& g) {
  std::vector<QuantLayer> out;
  for (const Node& n : g.nodes) {
    if (!n.domain.empty()) continue;
    QuantLayer l;
    l.node = &n;
    const Tensor* w = constant(g, n, 1);
    const bool float_weight = w && w->dtype() == DType::f32;
    if ((n.op_type == "Conv" || n.op_type == "ConvTranspose") && float_weight && w->rank() >= 3 &&
        !constant(g, n, 0)) {
      l.groups = n.attr_int("group", 1);
      if (l.groups < 1) continue;
      std::int64_t spatial = 1;
      for (int d = 2; d < w->rank(); ++d) spatial *= w->dim(d);
      if (n.op_type == "Conv") {
        l.kind = LayerKind::conv;
        l.rows = w->dim(0);
        l.cols = w->dim(1) * spatial;
      } else {
        l.kind = LayerKind::conv_transpose;
        if (w->dim(0) % l.groups != 0) continue;
        l.rows = w->dim(1) * l.groups;
        l.cols = w->dim(0) / l.groups * spatial;
      }
      if (l.rows % l.groups != 0) continue;
      l.weight = n.inputs[1];
      l.bias = bias_of(g, n, 2, l.rows);
      l.act_inputs = {n.inputs[0]};
    } else if (n.op_type == "Gemm" && float_weight && w->rank() == 2 && !constant(g, n, 0)) {
      l.kind = LayerKind::gemm;
      const bool trans_b = n.attr_int("transB", 0) != 0;
      l.rows = trans_b ? w->dim(0) : w->dim(1);
      l.cols = trans_b ? w->dim(1) : w->dim(0);
      l.weight = n.inputs[1];
      if (n.attr_float("beta", 1.0f) == 1.0f) l.bias = bias_of(g, n, 2, l.rows);
      l.act_inputs = {n.inputs[0]};
    } else if (n.op_type == "MatMul" && float_weight && w->rank() == 2 && !constant(g, n, 0)) {
      l.kind = LayerKind::matmul_weight;
      l.rows = w->dim(1);
      l.cols = w->dim(0);
      l.weight = n.inputs[1];
      l.act_inputs = {n.inputs[0]};
    } else if (n.op_type == "MatMul" && n.has_input(0) && n.has_input(1) && !constant(g, n, 0) &&
               !constant(g, n, 1)) {
      l.kind = LayerKind::matmul_acts;
      l.act_inputs = {n.inputs[0]};
      if (n.inputs[1] != n.inputs[0]) l.act_inputs.push_back(n.inputs[1]);
    } else {
      continue;
    }
    out.push_back(std::move(l));
  }
  return out;
}

std::vector<std::int64_t> matrix_to_weight_index(const QuantLayer& l, const Shape& shape) {
  std::vector<std::int64_t> index(static_cast<std::size_t>(l.rows * l.cols));
  switch (l.kind) {
    case LayerKind::conv:  // [M, C/g, k...]: already [rows, cols]
      for (std::size_t i = 0; i < index.size(); ++i) index[i] = static_cast<std::int64_t>(i);
      break;
    case LayerKind::conv_transpose: {  // [C, M/g, k...]: row m = g*(M/g) + m', col = c' * k + s
      const std::int64_t m_per_group = shape[1];
      const std::int64_t c_per_group = shape[0] / l.groups;
      const std::int64_t spatial = l.cols / c_per_group;
      for (std::int64_t m = 0; m < l.rows; ++m) {
        const std::int64_t grp = m / m_per_group, mi = m % m_per_group;
        for (std::int64_t col = 0; col < l.cols; ++col) {
          const std::int64_t c = grp * c_per_group + col / spatial, s = col % spatial;
          index[static_cast<std::size_t>(m * l.cols + col)] = (c * m_per_group + mi) * spatial + s;
        }
      }
      break;
    }
    case LayerKind::gemm:
    case LayerKind::matmul_weight: {
      const bool transposed = l.kind == LayerKind::gemm && l.node->attr_int("transB", 0) != 0;
      for (std::int64_t r = 0; r < l.rows; ++r)
        for (std::int64_t c = 0; c < l.cols; ++c)
          index[static_cast<std::size_t>(r * l.cols + c)] =
              transposed ? r * l.cols + c : c * l.rows + r;
      break;
    }
    case LayerKind::matmul_acts:
      throw Error("node '" + l.node->name + "' has no weights");
  }
  return index;
}

std::vector<float> weight_to_matrix(const QuantLayer& l, const Tensor& w) {
  const std::vector<std::int64_t> index = matrix_to_weight_index(l, w.shape());
  const float* data = w.data<float>();
  std::vector<float> m(index.size());
  for (std::size_t i = 0; i < index.size(); ++i) m[i] = data[index[i]];
  return m;
}

}  // namespace qs::quant
