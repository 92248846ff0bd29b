// export_qdq(): the simulation graph rewritten with standard ONNX ops. Every FakeQuant becomes
// QuantizeLinear -> DequantizeLinear with its grid; the parameters that apply_quantization leaves
// on quantized nodes (quant_format.h) become integer initializers read through DequantizeLinear.
// Working from the simulation graph keeps the file and the simulation one computation.
#include <algorithm>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "export/matmul_nbits.h"
#include "export/opset_upgrade.h"
#include "graph/onnx_write.h"
#include "graph/passes.h"
#include "quant/layers.h"
#include "quantscope/error.h"
#include "quantscope/export.h"
#include "quantscope/quant_format.h"

namespace qs {

namespace {

using ActGrid = quant::Grid;

class QdqBuilder {
 public:
  QdqBuilder(Graph g, std::int64_t opset, bool matmul_nbits)
      : g_(std::move(g)), opset_(opset), matmul_nbits_(matmul_nbits) {
    for (const auto& [name, t] : g_.initializers) names_.insert(name);
    for (const ValueInfo& v : g_.inputs) names_.insert(v.name);
    for (const Node& n : g_.nodes) {
      names_.insert(n.name);
      for (const std::string& s : n.inputs) names_.insert(s);
      for (const std::string& s : n.outputs) names_.insert(s);
    }
  }

  void quantize_weights(QdqModel& result);
  void quantize_activations(QdqModel& result);
  Graph finish();
  const std::map<std::string, int>& stored_as() const { return stored_as_; }
  // The folded Relu/Clip nodes, for the model's metadata: re-import puts them back.
  std::string folded_json() const {
    return folded_.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

 private:
  std::string fresh(const std::string& base) {
    std::string name = base;
    for (int i = 1; names_.count(name); ++i) name = base + "_" + std::to_string(i);
    names_.insert(name);
    return name;
  }
  std::string add_initializer(const std::string& base, Tensor t, int stored_as = 0) {
    const std::string name = fresh(base);
    g_.initializers[name] = std::move(t);
    if (stored_as) stored_as_[name] = stored_as;
    return name;
  }
  Node dequantize_node(const std::string& base, const std::string& x, const std::string& scale,
                       const std::string& zero_point, const std::string& out) {
    Node dq;
    dq.name = fresh(base + "_DequantizeLinear");
    dq.op_type = "DequantizeLinear";
    dq.inputs = {x, scale};
    if (!zero_point.empty()) dq.inputs.push_back(zero_point);
    dq.outputs = {out};
    return dq;
  }
  std::vector<std::size_t> consumers(const std::string& tensor) const;
  std::optional<std::size_t> producer(const std::string& tensor) const;
  bool is_graph_output(const std::string& t) const {
    return std::any_of(g_.outputs.begin(), g_.outputs.end(),
                       [&](const ValueInfo& v) { return v.name == t; });
  }
  std::string weight_dequantized(const quant::QuantLayer& layer, const Node& n);
  bool as_matmul_nbits(Node& n, const quant::LayerWeights& w, QdqModel& result);
  bool folds_into(const Node& p, const ActGrid& grid) const;
  void walk_back(std::size_t q_index, const ActGrid& grid, const std::string& scale,
                 const std::string& zero_point, QdqModel& result);

  Graph g_;
  std::int64_t opset_;
  bool matmul_nbits_ = false;
  std::set<std::string> names_;
  std::map<std::string, int> stored_as_;
  bool ort_nbits_noted_ = false;
  std::vector<Node> added_;     // new nodes, sorted into place by finish()
  std::set<std::size_t> dead_;  // indices into g_.nodes removed by folding
  nlohmann::json folded_ = nlohmann::json::array();

  void record_fold(const Node& p) {
    nlohmann::json f{
        {"name", p.name}, {"op", p.op_type}, {"input", p.inputs[0]}, {"output", p.outputs[0]}};
    for (int i = 1; i <= 2; ++i) {
      if (!p.has_input(i)) continue;
      const Tensor& t = g_.initializers.at(p.inputs[static_cast<std::size_t>(i)]);
      f[i == 1 ? "min" : "max"] = t.data<float>()[0];
    }
    folded_.push_back(std::move(f));
  }
};

std::vector<std::size_t> QdqBuilder::consumers(const std::string& tensor) const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
    if (dead_.count(i)) continue;
    const auto& in = g_.nodes[i].inputs;
    if (std::find(in.begin(), in.end(), tensor) != in.end()) out.push_back(i);
  }
  for (const Node& n : added_)
    if (std::find(n.inputs.begin(), n.inputs.end(), tensor) != n.inputs.end())
      out.push_back(std::numeric_limits<std::size_t>::max());  // an added node reads it
  return out;
}

std::optional<std::size_t> QdqBuilder::producer(const std::string& tensor) const {
  for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
    if (dead_.count(i)) continue;
    const auto& out = g_.nodes[i].outputs;
    if (std::find(out.begin(), out.end(), tensor) != out.end()) return i;
  }
  return std::nullopt;
}

// The weight's codes, scales and zero points (from the qs.* attributes) as initializers read by
// a DequantizeLinear; returns the dequantized tensor's name.
std::string QdqBuilder::weight_dequantized(const quant::QuantLayer& l, const Node& n) {
  std::string why;
  const std::optional<quant::LayerWeights> w = quant::read_weights(n, why);
  if (!w) throw Error("node '" + n.name + "': the simulation graph's weights: " + why);
  const Tensor* codes = w->codes;
  const Tensor* scales_t = w->scales;
  const Tensor* zps_t = w->zero_points;
  const std::int64_t bits = w->bits;
  const std::int64_t gpr = w->groups_per_row;
  const std::vector<float> scales(scales_t->values<float>().begin(),
                                  scales_t->values<float>().end());
  const std::vector<std::int32_t> zps(zps_t->values<std::int32_t>().begin(),
                                      zps_t->values<std::int32_t>().end());
  const Shape& wshape = codes->shape();
  const bool int4 = bits <= 4 && opset_ >= 21;
  const int code_type = int4 ? onnx_type::kInt4 : 0;
  auto zp_tensor = [&](Shape shape, const std::vector<std::int32_t>& v) {
    std::vector<std::int8_t> z(v.begin(), v.end());
    return Tensor::from_vector<std::int8_t>(std::move(shape), z);
  };
  const std::string base = l.weight.substr(0, l.weight.find("::"));
  const std::string out = fresh(base + "_dequantized");
  Node dq;
  const bool uniform =
      gpr == 1 &&
      std::all_of(scales.begin(), scales.end(), [&](float s) { return s == scales.front(); }) &&
      std::all_of(zps.begin(), zps.end(), [&](std::int32_t z) { return z == zps.front(); });
  int out_axis = 0;
  if (l.kind == quant::LayerKind::conv_transpose) out_axis = 1;
  if (l.kind == quant::LayerKind::gemm) out_axis = n.attr_int("transB", 0) ? 0 : 1;
  if (l.kind == quant::LayerKind::matmul_weight) out_axis = 1;
  const std::int64_t rows = l.rows, cols = l.cols;

  if (uniform) {
    const std::string c = add_initializer(base + "_quantized", *codes, code_type);
    const std::string s = add_initializer(base + "_scale", Tensor::scalar_f32(scales.front()));
    const std::string z =
        add_initializer(base + "_zero_point", zp_tensor({}, {zps.front()}), code_type);
    dq = dequantize_node(base, c, s, z, out);
  } else if (gpr == 1 && static_cast<int>(wshape.size()) > out_axis &&
             wshape[static_cast<std::size_t>(out_axis)] == rows) {
    const std::string c = add_initializer(base + "_quantized", *codes, code_type);
    const std::string s =
        add_initializer(base + "_scale", Tensor::from_vector<float>({rows}, scales));
    const std::string z = add_initializer(base + "_zero_point", zp_tensor({rows}, zps), code_type);
    dq = dequantize_node(base, c, s, z, out);
    dq.attributes["axis"] = {std::int64_t{out_axis}};
  } else if (gpr > 1 &&
             (l.kind == quant::LayerKind::gemm || l.kind == quant::LayerKind::matmul_weight)) {
    // Blocked along the input (K) axis: scales [N, ceil(K/G)] for B = [N, K], [ceil(K/G), N]
    // for [K, N]; a last block shorter than G is ONNX's own rule for blocked scales.
    const std::int64_t block = w->group_size;
    const int k_axis = 1 - out_axis;
    std::vector<float> s(scales.size());
    std::vector<std::int32_t> z(zps.size());
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t b = 0; b < gpr; ++b) {
        const auto from = static_cast<std::size_t>(r * gpr + b);
        const auto to = static_cast<std::size_t>(out_axis == 0 ? r * gpr + b : b * rows + r);
        s[to] = scales[from];
        z[to] = zps[from];
      }
    const Shape pshape = out_axis == 0 ? Shape{rows, gpr} : Shape{gpr, rows};
    const std::string c = add_initializer(base + "_quantized", *codes, code_type);
    const std::string sn = add_initializer(base + "_scale", Tensor::from_vector<float>(pshape, s));
    const std::string zn = add_initializer(base + "_zero_point", zp_tensor(pshape, z), code_type);
    dq = dequantize_node(base, c, sn, zn, out);
    dq.attributes["axis"] = {std::int64_t{k_axis}};
    dq.attributes["block_size"] = {block};
  } else {
    // The matrix view [rows, cols] when it is the weight's own element order (Conv, also grouped):
    // dequantize the matrix (per row, or blocked along its columns), then reshape.
    const std::vector<std::int64_t> index = quant::matrix_to_weight_index(l, wshape);
    for (std::size_t i = 0; i < index.size(); ++i)
      if (index[i] != static_cast<std::int64_t>(i))
        throw Error("node '" + n.name + "' (" + n.op_type +
                    "): its weight scales cannot be expressed along one axis of the weight "
                    "tensor in ONNX; quantize it per tensor");
    const std::string c =
        add_initializer(base + "_quantized", codes->reshaped({rows, cols}), code_type);
    const Shape pshape = gpr == 1 ? Shape{rows} : Shape{rows, gpr};
    const std::string s =
        add_initializer(base + "_scale", Tensor::from_vector<float>(pshape, scales));
    const std::string z = add_initializer(base + "_zero_point", zp_tensor(pshape, zps), code_type);
    const std::string matrix = fresh(base + "_dequantized_matrix");
    dq = dequantize_node(base, c, s, z, matrix);
    dq.attributes["axis"] = {std::int64_t{gpr == 1 ? 0 : 1}};
    if (gpr > 1) dq.attributes["block_size"] = {w->group_size};
    Node reshape;
    reshape.name = fresh(base + "_Reshape");
    reshape.op_type = "Reshape";
    reshape.inputs = {
        matrix,
        add_initializer(base + "_shape", Tensor::from_vector<std::int64_t>(
                                             {static_cast<std::int64_t>(wshape.size())}, wshape))};
    reshape.outputs = {out};
    added_.push_back(std::move(dq));
    added_.push_back(std::move(reshape));
    return out;
  }
  added_.push_back(std::move(dq));
  return out;
}

// A weight-only MatMul as MatMulNBits when its weights fit (matmul_nbits.h); a note says why not.
bool QdqBuilder::as_matmul_nbits(Node& n, const quant::LayerWeights& w, QdqModel& result) {
  if (n.op_type != "MatMul" || quant::read_input_grid(n)) return false;
  std::string why;
  const std::optional<exporter::NBitsWeights> nb = exporter::matmul_nbits_weights(w, why);
  if (!nb) {
    result.notes.push_back("node '" + n.name + "': kept as DequantizeLinear + MatMul, not " +
                           "MatMulNBits: " + why);
    return false;
  }
  const std::string base = n.inputs[1].substr(0, n.inputs[1].find("::"));
  std::vector<std::string> inputs = {n.inputs[0], add_initializer(base + "_nbits", nb->b),
                                     add_initializer(base + "_scales", nb->scales)};
  if (nb->zero_points.numel() > 0)
    inputs.push_back(add_initializer(base + "_zero_points", nb->zero_points));
  n.inputs = std::move(inputs);
  n.op_type = "MatMulNBits";
  n.domain = "com.microsoft";
  n.attributes["K"] = {nb->k};
  n.attributes["N"] = {nb->n};
  n.attributes["bits"] = {nb->bits};
  n.attributes["block_size"] = {nb->block};
  if (result.matmul_nbits_nodes++ == 0)
    result.notes.push_back(
        "weight-only MatMuls written as com.microsoft MatMulNBits: ONNX Runtime runs the file, "
        "other runtimes do not have the op");
  return true;
}

void QdqBuilder::quantize_weights(QdqModel& result) {
  for (const quant::QuantLayer& l : quant::find_quant_layers(g_)) {
    Node& n = const_cast<Node&>(*l.node);
    if (quant::has_quantized_weights(n)) {
      std::string why;
      const std::optional<quant::LayerWeights> w = quant::read_weights(n, why);
      if (!w) throw Error("node '" + n.name + "': the simulation graph's weights: " + why);
      const std::int64_t bits = w->bits;
      if (matmul_nbits_ && as_matmul_nbits(n, *w, result)) continue;
      n.inputs[1] = weight_dequantized(l, n);
      if (bits <= 4 && opset_ < 21)
        result.notes.push_back("node '" + n.name + "': " + std::to_string(bits) +
                               "-bit weights stored as int8 (opset " + std::to_string(opset_) +
                               " has no int4)");
      ++result.dequantize_nodes;
      if (bits <= 4 && opset_ >= 21 && w->groups_per_row > 1 && n.op_type == "MatMul" &&
          !quant::read_input_grid(n) && !ort_nbits_noted_) {
        ort_nbits_noted_ = true;
        result.notes.push_back(
            "weight-only 4-bit MatMuls: ONNX Runtime fuses their blocked DequantizeLinear into "
            "its MatMulNBits, which by default (session.qdq_matmulnbits_accuracy_level 4) "
            "computes with 8-bit activations; level 1 keeps them fp32, as simulated (the "
            "self-check sets it)");
      }
      if (const Tensor* bias = w->bias_codes) {
        // int32 codes on the accumulator's grid: scale = input scale x weight scale.
        const std::optional<quant::Grid> x_grid = quant::read_input_grid(n);
        const float x_scale = x_grid ? x_grid->scale : 1.0f;
        std::vector<float> s;
        for (float ws : w->scales->values<float>()) s.push_back(x_scale * ws);
        const std::string base = l.bias.substr(0, l.bias.find("::"));
        const std::string c = add_initializer(base + "_quantized", *bias);
        const std::string sn = add_initializer(
            base + "_scale", Tensor::from_vector<float>({static_cast<std::int64_t>(s.size())}, s));
        const std::string out = fresh(base + "_dequantized");
        Node dq = dequantize_node(base, c, sn, "", out);
        dq.attributes["axis"] = {std::int64_t{0}};
        added_.push_back(std::move(dq));
        n.inputs[2] = out;
        ++result.dequantize_nodes;
      }
    }
  }
  for (Node& n : g_.nodes) quant::erase_quantization(n);
}

// A Relu or Clip whose effect the quantize node's clamping already has: removing it gives the
// same codes. Relu: the lowest code dequantizes to >= 0. Clip(lo, hi): the grid lies within it.
bool QdqBuilder::folds_into(const Node& p, const ActGrid& grid) const {
  // ONNX QuantizeLinear saturates at the type's limits (-128 for int8), not at the restricted
  // symmetric range, so that is the lowest value the file can produce.
  const std::int32_t onnx_min = grid.qmin < 0 ? -(1 << (grid.bits - 1)) : grid.qmin;
  const float lowest = quant::dequantize(onnx_min, grid),
              highest = quant::dequantize(grid.qmax, grid);
  if (p.op_type == "Relu") return lowest >= 0.0f;
  if (p.op_type != "Clip") return false;
  float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
  auto bound = [&](int i, float& v) {
    if (!p.has_input(i)) return true;
    auto it = g_.initializers.find(p.inputs[static_cast<std::size_t>(i)]);
    if (it == g_.initializers.end() || it->second.numel() != 1 || it->second.dtype() != DType::f32)
      return false;
    v = it->second.data<float>()[0];
    return true;
  };
  if (!bound(1, lo) || !bound(2, hi)) return false;
  return lowest >= lo && highest <= hi;
}

// From a QuantizeLinear reading tensor s, walks towards the producing layer: Relu/Clip that the
// grid implies are removed, and MaxPool/Flatten/Reshape get the same grid on their input too,
// so that runtimes run them on integers. Only while each tensor has no other reader.
void QdqBuilder::walk_back(std::size_t q_index, const ActGrid& grid, const std::string& scale,
                           const std::string& zero_point, QdqModel& result) {
  for (;;) {
    const std::string s = added_[q_index].inputs[0];
    if (is_graph_output(s) || consumers(s).size() != 1) return;
    const std::optional<std::size_t> p = producer(s);
    if (!p) return;
    Node& prod = g_.nodes[*p];
    if (prod.outputs.size() != 1 || !prod.has_input(0)) return;
    const std::string x = prod.inputs[0];
    if (g_.initializers.count(x) || is_graph_output(x) || consumers(x).size() != 1) return;
    if (folds_into(prod, grid)) {
      record_fold(prod);
      dead_.insert(*p);
      added_[q_index].inputs[0] = x;
      ++result.folded_activations;
      result.notes.push_back("node '" + prod.name + "' (" + prod.op_type +
                             ") folded into the range of the quantize node after it");
      continue;
    }
    if (prod.op_type != "MaxPool" && prod.op_type != "Flatten" && prod.op_type != "Reshape") return;
    Node q;
    q.name = fresh(x + "_QuantizeLinear");
    q.op_type = "QuantizeLinear";
    q.inputs = {x, scale, zero_point};
    q.outputs = {fresh(x + "_quantized")};
    const std::string dq_out = fresh(x + "_dequantized");
    Node dq = dequantize_node(x, q.outputs[0], scale, zero_point, dq_out);
    prod.inputs[0] = dq_out;
    added_.push_back(std::move(q));
    added_.push_back(std::move(dq));
    result.quantize_nodes += 1;
    result.dequantize_nodes += 1;
    q_index = added_.size() - 2;
  }
}

void QdqBuilder::quantize_activations(QdqModel& result) {
  std::vector<std::size_t> fakes;
  for (std::size_t i = 0; i < g_.nodes.size(); ++i)
    if (quant::is_fake_quant(g_.nodes[i])) fakes.push_back(i);
  for (std::size_t i : fakes) {
    const Node f = g_.nodes[i];
    dead_.insert(i);
    const ActGrid grid = quant::read_fake_quant(f);
    if (!quant::valid(grid))
      throw Error("node '" + f.name + "': its activation grid is not valid (scale " +
                  std::to_string(grid.scale) + ")");
    const bool is_signed = grid.qmin < 0;
    const std::string& t = f.inputs[0];
    const std::string scale = add_initializer(t + "_scale", Tensor::scalar_f32(grid.scale));
    std::string zero_point;
    if (grid.bits == 8 && is_signed)
      zero_point = add_initializer(
          t + "_zero_point",
          Tensor::from_vector<std::int8_t>({}, {static_cast<std::int8_t>(grid.zero_point)}));
    else if (grid.bits == 8)
      zero_point = add_initializer(
          t + "_zero_point",
          Tensor::from_vector<std::uint8_t>({}, {static_cast<std::uint8_t>(grid.zero_point)}));
    else
      zero_point = add_initializer(t + "_zero_point",
                                   Tensor::from_vector<std::int32_t>({}, {grid.zero_point}),
                                   is_signed ? onnx_type::kInt16 : onnx_type::kUint16);
    if (is_signed && grid.qmin == -grid.qmax)
      result.notes.push_back("tensor '" + t + "': symmetric grid " + std::to_string(grid.qmin) +
                             ".." + std::to_string(grid.qmax) +
                             "; ONNX QuantizeLinear also uses code " +
                             std::to_string(grid.qmin - 1) +
                             ", so values below the calibrated range differ by one step");
    Node q;
    q.name = fresh(t + "_QuantizeLinear");
    q.op_type = "QuantizeLinear";
    q.inputs = {t, scale, zero_point};
    q.outputs = {fresh(t + "_quantized")};
    Node dq = dequantize_node(t, q.outputs[0], scale, zero_point, f.outputs[0]);
    added_.push_back(std::move(q));
    added_.push_back(std::move(dq));
    result.quantize_nodes += 1;
    result.dequantize_nodes += 1;
    walk_back(added_.size() - 2, grid, scale, zero_point, result);
  }
}

Graph QdqBuilder::finish() {
  std::vector<Node> nodes;
  for (std::size_t i = 0; i < g_.nodes.size(); ++i)
    if (!dead_.count(i)) nodes.push_back(std::move(g_.nodes[i]));
  for (Node& n : added_) nodes.push_back(std::move(n));
  g_.nodes = std::move(nodes);
  // Shapes of the values that remain (the writer needs ranks, e.g. to spell RMSNormalization
  // below opset 23); the rewrite changes no remaining value's shape.
  std::set<std::string> used;
  for (const Node& n : g_.nodes) {
    used.insert(n.inputs.begin(), n.inputs.end());
    used.insert(n.outputs.begin(), n.outputs.end());
  }
  for (auto it = g_.value_info.begin(); it != g_.value_info.end();)
    it = used.count(it->first) ? std::next(it) : g_.value_info.erase(it);
  sort_and_validate(g_);
  drop_unused_initializers(g_);
  return std::move(g_);
}

// The opset the file needs: int4 weights, 16-bit activations and blocked scales came with 21.
std::int64_t choose_opset(const Graph& sim, const QdqExportOptions& options) {
  std::string needs_21;
  bool low_bits = false, needs_17 = false;
  for (const Node& n : sim.nodes) {
    if (quant::is_fake_quant(n) && quant::read_fake_quant(n).bits == 16 && needs_21.empty())
      needs_21 = "tensor '" + n.inputs[0] + "' has 16-bit activations";
    std::string why;
    const std::optional<quant::LayerWeights> w = quant::read_weights(n, why);
    // A layer written as MatMulNBits needs nothing of the default domain's opset 21.
    if (w && options.matmul_nbits && n.op_type == "MatMul" && !quant::read_input_grid(n) &&
        exporter::matmul_nbits_weights(*w, why))
      continue;
    if (w && w->groups_per_row > 1 && needs_21.empty())
      needs_21 = "node '" + n.name + "' has per-group weight scales";
    if (w && w->bits <= 4) low_bits = true;
    if (n.op_type == "LayerNormalization") needs_17 = true;
  }
  // A LayerNormalization fused at load from an older export's decomposition came with 17.
  const std::int64_t floor = needs_17 ? 17 : 13;
  if (options.opset > 0) {
    if (options.opset < 13 || options.opset > 21)
      throw Error("export opset " + std::to_string(options.opset) +
                  ": QDQ export supports opsets 13 to 21");
    if (options.opset < 21 && !needs_21.empty())
      throw Error(needs_21 + ", which ONNX expresses only from opset 21; export with opset 21");
    if (options.opset < floor)
      throw Error(
          "the model has LayerNormalization, which ONNX has from opset 17; export with "
          "opset 17 or later");
    return options.opset;
  }
  if (!needs_21.empty() || low_bits) return 21;
  return std::max<std::int64_t>(sim.opset, floor);
}

}  // namespace

QdqModel export_qdq(const Graph& graph, const QuantizedModel& q, const QdqExportOptions& options) {
  Graph sim = apply_quantization(graph, q);
  QdqModel result;
  result.opset = choose_opset(sim, options);
  exporter::upgrade_opset(sim, result.opset);
  QdqBuilder builder(std::move(sim), result.opset, options.matmul_nbits);
  builder.quantize_weights(result);
  builder.quantize_activations(result);
  Graph out = builder.finish();
  out.metadata["quantscope.quantization"] = quant_config_to_json(q.config);
  out.metadata["quantscope.folded"] = builder.folded_json();
  OnnxWriteOptions write;
  write.opset = result.opset;
  write.stored_as = builder.stored_as();
  write.producer_version = options.producer_version;
  result.onnx = write_onnx(out, write);
  return result;
}

}  // namespace qs
