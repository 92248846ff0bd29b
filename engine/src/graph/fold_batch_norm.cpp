// BatchNormalization after Conv or Gemm, folded into the weights and bias:
//   y = a * (W x + b) + (beta - mean * a),  a = gamma / sqrt(var + eps)
#include <cmath>
#include <map>

#include "graph/passes.h"

namespace qs {

namespace {

const Tensor* constant_f32(const Graph& g, const Node& n, int i) {
  if (!n.has_input(i)) return nullptr;
  auto it = g.initializers.find(n.inputs[i]);
  if (it == g.initializers.end() || it->second.dtype() != DType::f32) return nullptr;
  return &it->second;
}

// Per-channel factor a and shift (beta - mean * a); empty when BN's parameters are not
// constants of the expected size.
bool bn_affine(const Graph& g, const Node& bn, std::int64_t channels, std::vector<float>& a,
               std::vector<float>& shift) {
  if (bn.attr_int("training_mode", 0) != 0) return false;
  const Tensor* p[4];
  for (int i = 0; i < 4; ++i) {
    p[i] = constant_f32(g, bn, i + 1);
    if (!p[i] || p[i]->numel() != channels) return false;
  }
  const float eps = bn.attr_float("epsilon", 1e-5f);
  a.resize(channels);
  shift.resize(channels);
  for (std::int64_t c = 0; c < channels; ++c) {
    a[c] = p[0]->data<float>()[c] / std::sqrt(p[3]->data<float>()[c] + eps);
    shift[c] = p[1]->data<float>()[c] - p[2]->data<float>()[c] * a[c];
  }
  return true;
}

std::string fresh_name(const Graph& g, const std::string& base) {
  std::string name = base;
  for (int i = 1; g.initializers.count(name); ++i) name = base + "_" + std::to_string(i);
  return name;
}

bool fold_into_conv(Graph& g, Node& conv, const Node& bn) {
  const Tensor* w = constant_f32(g, conv, 1);
  if (!w || w->rank() < 3) return false;
  const std::int64_t out_ch = w->dim(0);
  const Tensor* b = constant_f32(g, conv, 2);
  if (conv.has_input(2) && (!b || b->numel() != out_ch)) return false;
  std::vector<float> a, shift;
  if (!bn_affine(g, bn, out_ch, a, shift)) return false;
  Tensor new_w = w->clone();
  const std::int64_t per = w->numel() / out_ch;
  for (std::int64_t m = 0; m < out_ch; ++m)
    for (std::int64_t k = 0; k < per; ++k) new_w.data<float>()[m * per + k] *= a[m];
  Tensor new_b(DType::f32, {out_ch});
  for (std::int64_t m = 0; m < out_ch; ++m)
    new_b.data<float>()[m] = (b ? b->data<float>()[m] : 0.0f) * a[m] + shift[m];
  const std::string w_name = fresh_name(g, conv.inputs[1] + "_bnfolded");
  const std::string b_name = fresh_name(g, conv.name + "_bias_bnfolded");
  g.initializers[w_name] = new_w;
  g.initializers[b_name] = new_b;
  conv.inputs.resize(3);
  conv.inputs[1] = w_name;
  conv.inputs[2] = b_name;
  return true;
}

bool fold_into_gemm(Graph& g, Node& gemm, const Node& bn) {
  const Tensor* w = constant_f32(g, gemm, 1);
  if (!w || w->rank() != 2 || gemm.attr_int("transA", 0) != 0) return false;
  const bool trans_b = gemm.attr_int("transB", 0) != 0;
  const std::int64_t n_out = trans_b ? w->dim(0) : w->dim(1);
  const Tensor* c = constant_f32(g, gemm, 2);
  if (gemm.has_input(2) && (!c || c->numel() != n_out || c->shape().back() != n_out)) return false;
  std::vector<float> a, shift;
  if (!bn_affine(g, bn, n_out, a, shift)) return false;
  const float alpha = gemm.attr_float("alpha", 1.0f), beta = gemm.attr_float("beta", 1.0f);
  Tensor new_w = w->clone();
  float* pw = new_w.data<float>();
  for (std::int64_t r = 0; r < w->dim(0); ++r)
    for (std::int64_t k = 0; k < w->dim(1); ++k)
      pw[r * w->dim(1) + k] *= alpha * a[trans_b ? r : k];
  Tensor new_c(DType::f32, {n_out});
  for (std::int64_t m = 0; m < n_out; ++m)
    new_c.data<float>()[m] = (c ? beta * c->data<float>()[m] : 0.0f) * a[m] + shift[m];
  const std::string w_name = fresh_name(g, gemm.inputs[1] + "_bnfolded");
  const std::string c_name = fresh_name(g, gemm.name + "_bias_bnfolded");
  g.initializers[w_name] = new_w;
  g.initializers[c_name] = new_c;
  gemm.inputs.resize(3);
  gemm.inputs[1] = w_name;
  gemm.inputs[2] = c_name;
  gemm.attributes["alpha"].value = 1.0f;
  gemm.attributes["beta"].value = 1.0f;
  return true;
}

}  // namespace

void fold_batch_norm(Graph& g) {
  std::map<std::string, int> readers;
  for (const Node& n : g.nodes)
    for (const std::string& in : n.inputs) ++readers[in];
  for (const ValueInfo& out : g.outputs) ++readers[out.name];
  std::map<std::string, std::size_t> producer;
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    for (const std::string& out : g.nodes[i].outputs) producer[out] = i;

  std::vector<bool> removed(g.nodes.size(), false);
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& bn = g.nodes[i];
    if (bn.op_type != "BatchNormalization" || bn.inputs.empty()) continue;
    if (bn.outputs.size() > 1 && bn.outputs.size() - 1 > 0) {
      bool extra = false;
      for (std::size_t k = 1; k < bn.outputs.size(); ++k) extra = extra || !bn.outputs[k].empty();
      if (extra) continue;
    }
    auto p = producer.find(bn.inputs[0]);
    if (p == producer.end() || readers[bn.inputs[0]] != 1 || removed[p->second]) continue;
    Node& prev = g.nodes[p->second];
    if (prev.outputs.size() != 1) continue;
    bool folded = prev.op_type == "Conv"   ? fold_into_conv(g, prev, bn)
                  : prev.op_type == "Gemm" ? fold_into_gemm(g, prev, bn)
                                           : false;
    if (!folded) continue;
    prev.outputs[0] = bn.outputs[0];
    prev.folded_from.push_back(bn.name);
    removed[i] = true;
  }
  std::vector<Node> kept;
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    if (!removed[i]) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
  drop_unused_initializers(g);
}

}  // namespace qs
