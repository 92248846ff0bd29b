#include "quantscope/model_info.h"

namespace qs {

namespace {

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
  const Shape* out = n.outputs.empty() ? nullptr : shape_of(g, n.outputs[0]);
  const Shape* w = n.inputs.size() > 1 ? shape_of(g, n.inputs[1]) : nullptr;
  const Shape* x = n.inputs.empty() ? nullptr : shape_of(g, n.inputs[0]);
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

ModelInfo describe_model(const Graph& g) {
  ModelInfo info;
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
    if (const Shape* s = n.outputs.empty() ? nullptr : shape_of(g, n.outputs[0]))
      layer.output_shape = *s;
    layer.macs = layer_macs(g, n);
    info.total_params += layer.params;
    info.total_macs += layer.macs;
    ++info.op_histogram[n.op_type];
    info.layers.push_back(std::move(layer));
  }
  return info;
}

}  // namespace qs
