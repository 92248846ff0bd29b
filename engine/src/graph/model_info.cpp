#include "quantscope/model_info.h"

#include "graph/passes.h"

namespace qs {

namespace {

// Each dynamic input dimension stands for a symbol (its name, or one made up for an unnamed
// one). Shapes are inferred twice, with every symbol set to a different large value each time:
// a dimension equal in both runs is a number, one that is a symbol times the same number in
// both is labelled with it, any other is "?".
struct SymbolRuns {
  std::vector<std::string> names;
  std::vector<std::int64_t> first, second;  // each symbol's value in the two runs
  std::map<std::string, Tensor> a, b;
};

SymbolRuns run_with_symbols(const Graph& g) {
  SymbolRuns r;
  PlaceholderShapes pa, pb;
  pa.lenient = pb.lenient = true;
  for (const ValueInfo& in : g.inputs) {
    if (!in.has_shape) continue;
    Shape sa = in.shape, sb = in.shape;
    for (std::size_t d = 0; d < in.shape.size(); ++d) {
      if (in.shape[d] >= 0) continue;
      std::string name = d < in.dim_names.size() ? in.dim_names[d] : "";
      if (name.empty()) name = "?" + in.name + "." + std::to_string(d);
      std::size_t k = 0;
      while (k < r.names.size() && r.names[k] != name) ++k;
      if (k == r.names.size()) {
        // Large enough for a length that meets a wide kernel, divisible by the window and head
        // counts a reshape may split it into, distinct per symbol and run.
        r.names.push_back(name);
        r.first.push_back(40320 * (2 * static_cast<std::int64_t>(k) + 1));
        r.second.push_back(40320 * (2 * static_cast<std::int64_t>(k) + 2));
      }
      sa[d] = r.first[k];
      sb[d] = r.second[k];
    }
    pa.shapes[in.name] = sa;
    pb.shapes[in.name] = sb;
  }
  if (r.names.empty()) return r;
  r.a = infer_shapes_from_placeholders(g, pa, nullptr);
  r.b = infer_shapes_from_placeholders(g, pb, nullptr);
  return r;
}

std::vector<std::string> symbolic_dims(const SymbolRuns& r, const std::string& tensor) {
  auto ia = r.a.find(tensor), ib = r.b.find(tensor);
  if (ia == r.a.end() || ib == r.b.end() || ia->second.rank() != ib->second.rank()) return {};
  std::vector<std::string> dims;
  for (int d = 0; d < ia->second.rank(); ++d) {
    const std::int64_t x = ia->second.dim(d), y = ib->second.dim(d);
    std::string label = x == y ? std::to_string(x) : "?";
    for (std::size_t k = 0; x != y && k < r.names.size(); ++k) {
      if (x % r.first[k] != 0 || y % r.second[k] != 0) continue;
      const std::int64_t m = x / r.first[k];
      if (m != y / r.second[k]) continue;
      label = m == 1 ? r.names[k] : r.names[k] + "*" + std::to_string(m);
      break;
    }
    dims.push_back(label);
  }
  return dims;
}

const Shape* shape_of(const Graph& g, const std::string& name) {
  auto it = g.value_info.find(name);
  return it == g.value_info.end() ? nullptr : &it->second.shape();
}

std::int64_t product(const Shape& s, std::size_t from, std::size_t to) {
  std::int64_t p = 1;
  for (std::size_t i = from; i < to && i < s.size(); ++i) p *= s[i];
  return p;
}

// MACs per sample: the first dimension of activations is the batch, inferred as 1.
std::int64_t layer_macs(const Graph& g, const Node& n) {
  const Shape* w = n.inputs.size() > 1 ? shape_of(g, n.inputs[1]) : nullptr;
  const Shape* x = n.inputs.empty() ? nullptr : shape_of(g, n.inputs[0]);
  // RNN, GRU, LSTM: every step, each direction's gates from the input (W) and the state (R).
  if ((n.op_type == "RNN" || n.op_type == "GRU" || n.op_type == "LSTM") && x && w &&
      x->size() == 3 && w->size() == 3) {
    const Shape* r = n.inputs.size() > 2 ? shape_of(g, n.inputs[2]) : nullptr;
    const std::int64_t seq = (*x)[n.attr_int("layout", 0) != 0 ? 1 : 0];
    return r && r->size() == 3 ? seq * (*w)[0] * (*w)[1] * ((*w)[2] + (*r)[2]) : 0;
  }
  const Shape* out = n.outputs.empty() ? nullptr : shape_of(g, n.outputs[0]);
  if (!out || !w || !x) return 0;
  if (n.op_type == "Conv" && w->size() >= 3) return shape_numel(*out) * product(*w, 1, w->size());
  if (n.op_type == "ConvTranspose" && w->size() >= 3)
    return shape_numel(*x) * product(*w, 1, w->size());
  if (n.op_type == "Gemm" && x->size() == 2) {
    const bool trans_a = n.attr_int("transA", 0) != 0;
    return shape_numel(*out) * (trans_a ? (*x)[0] : (*x)[1]);
  }
  if (n.op_type == "MatMul" && !x->empty()) return shape_numel(*out) * x->back();
  return 0;
}

}  // namespace

std::string dims_text(const std::vector<std::string>& dims) {
  if (dims.empty()) return "?";
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? "," : "") + dims[i];
  return s + "]";
}

ModelInfo describe_model(const Graph& g) {
  ModelInfo info;
  const SymbolRuns symbols = run_with_symbols(g);
  info.inputs = g.inputs;
  info.outputs = g.outputs;
  info.opset = g.opset;
  for (const auto& [name, t] : g.initializers)
    info.weight_bytes += static_cast<std::int64_t>(t.size_bytes());
  for (const Node& n : g.nodes) {
    LayerInfo layer;
    layer.name = n.name;
    layer.op_type = n.op_type;
    layer.folded_from = n.folded_from;
    for (const std::string& in : n.inputs) {
      auto it = g.initializers.find(in);
      // Scalars are constants of the formula (Clip bounds, GELU's 0.5), not parameters.
      if (it != g.initializers.end() && it->second.dtype() == DType::f32 && it->second.numel() > 1)
        layer.params += it->second.numel();
    }
    if (const Shape* s = n.outputs.empty() ? nullptr : shape_of(g, n.outputs[0])) {
      layer.output_shape = *s;
      for (std::int64_t d : *s) layer.output_dims.push_back(std::to_string(d));
    }
    if (!symbols.names.empty() && !n.outputs.empty())
      layer.output_dims = symbolic_dims(symbols, n.outputs[0]);
    layer.macs = layer_macs(g, n);
    info.total_params += layer.params;
    info.total_macs += layer.macs;
    ++info.op_histogram[n.op_type];
    info.layers.push_back(std::move(layer));
  }
  return info;
}

}  // namespace qs
