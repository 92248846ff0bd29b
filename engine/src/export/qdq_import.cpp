// import_qdq(): a QDQ model back into a float graph and the quantization it encodes. Weights
// read by DequantizeLinear become float initializers and their codes, scales and zero points the
// configuration's weight parameters; QuantizeLinear -> DequantizeLinear pairs on activations
// become activation parameters; Relu/Clip nodes an export folded come back from the metadata.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "data/zip_archive.h"
#include "graph/passes.h"
#include "quant/layers.h"
#include "quantscope/error.h"
#include "quantscope/export.h"
#include "quantscope/model.h"
#include "quantscope/quant_format.h"

namespace qs {

namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxModelBytes = std::size_t{2} << 30;

// Which scale (and zero point) element each element of x uses: DequantizeLinear's rule.
struct ParamMap {
  std::int64_t outer = 1, dim = 1, inner = 1, block = 0;
  bool per_tensor = true;
  std::int64_t index(std::int64_t k) const {
    if (per_tensor) return 0;
    const std::int64_t i = k % inner, a = (k / inner) % dim;
    if (block == 0) return a;
    const std::int64_t o = k / (inner * dim), blocks = dim / block + (dim % block != 0);
    return (o * blocks + a / block) * inner + i;
  }
};

ParamMap param_map(const Shape& x, const Tensor& scale, std::int64_t axis, std::int64_t block) {
  ParamMap m;
  if (block < 0)
    throw Error("DequantizeLinear block_size " + std::to_string(block) + " is negative");
  if (block == 0 && scale.numel() == 1) return m;
  const auto rank = static_cast<std::int64_t>(x.size());
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) throw Error("DequantizeLinear axis out of range");
  m.per_tensor = false;
  m.block = block;
  m.dim = x[static_cast<std::size_t>(axis)];
  for (std::int64_t d = 0; d < axis; ++d) m.outer *= x[static_cast<std::size_t>(d)];
  for (std::int64_t d = axis + 1; d < rank; ++d) m.inner *= x[static_cast<std::size_t>(d)];
  const std::int64_t needed =
      block ? m.outer * (m.dim / block + (m.dim % block != 0)) * m.inner : m.dim;
  if (scale.numel() != needed) throw Error("DequantizeLinear scale size does not fit its input");
  return m;
}

struct WeightCodes {
  std::vector<std::int64_t> codes, zero_points;
  std::vector<float> scales;
  ParamMap map;
  int onnx_type = 0;
};

// The ONNX type of an initializer as the file stored it (before widening).
int stored_type(const Graph& g, const std::string& name) {
  auto w = g.widened_types.find(name);
  return w != g.widened_types.end() ? w->second : static_cast<int>(g.initializers.at(name).dtype());
}

Graph load_for_import(const std::string& path) {
  LoadOptions o;
  o.fold_constants = false;
  o.fold_batch_norm = false;
  o.require_supported = false;
  o.widen_narrow_types = true;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const fs::path model = fs::path(path) / "model.onnx";
    if (!fs::exists(model, ec))
      throw Error(path + ": a folder without model.onnx is not a Quantscope package");
    return load_model(model.string(), o);
  }
  if (path.size() > 4 && path.compare(path.size() - 4, 4, ".zip") == 0) {
    const std::string bytes = zip::Archive::open_file(path).read("model.onnx", kMaxModelBytes);
    return load_model_from_bytes(bytes, "", path + ":model.onnx", o);
  }
  return load_model(path, o);
}

bool same_values(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::equal(static_cast<const char*>(a.raw()),
                    static_cast<const char*>(a.raw()) + a.size_bytes(),
                    static_cast<const char*>(b.raw()));
}

class Importer {
 public:
  explicit Importer(Graph g) : g_(std::move(g)) {}
  QdqImport run(const std::string& path);

 private:
  void take_weights();
  void take_activation_pairs();
  void restore_folded(const nlohmann::json& entry, const std::string& output);
  std::optional<WeightQuantParams> weight_params(const quant::QuantLayer& l,
                                                 const LayerQuantSettings* stored);
  bool initializer(const std::string& n) const { return g_.initializers.count(n) != 0; }

  Graph g_;
  std::map<std::string, WeightCodes> weights_;    // by the dequantized tensor's name
  std::map<std::string, ActQuantParams> acts_;    // by the tensor the pair quantized
  std::map<std::string, nlohmann::json> folded_;  // folded Relu/Clip by its input
  std::vector<Node> restored_;
  std::vector<std::string> notes_;
};

void Importer::take_weights() {
  std::vector<Node> kept;
  for (Node& n : g_.nodes) {
    const bool constant = n.op_type == "DequantizeLinear" && n.domain.empty() && n.has_input(1) &&
                          initializer(n.inputs[0]) && initializer(n.inputs[1]) &&
                          (!n.has_input(2) || initializer(n.inputs[2]));
    if (!constant) {
      kept.push_back(std::move(n));
      continue;
    }
    const Tensor& x = g_.initializers.at(n.inputs[0]);
    const Tensor& scale = g_.initializers.at(n.inputs[1]);
    const std::string where = "node '" + n.name + "' (DequantizeLinear)";
    if (scale.dtype() != DType::f32) throw Error(where + ": only float32 scales are supported");
    if (x.dtype() != DType::i8 && x.dtype() != DType::u8 && x.dtype() != DType::i32)
      throw Error(where + ": input of type " + dtype_name(x.dtype()) + " is not an integer code");
    if (n.has_input(2)) {
      const Tensor& z = g_.initializers.at(n.inputs[2]);
      if (z.numel() != scale.numel() ||
          stored_type(g_, n.inputs[2]) != stored_type(g_, n.inputs[0]))
        throw Error(where + ": its zero point (" + std::to_string(z.numel()) +
                    " values) does not match its scale (" + std::to_string(scale.numel()) +
                    " values) or its input's type");
    }
    WeightCodes w;
    w.map = param_map(x.shape(), scale, n.attr_int("axis", 1),
                      g_.opset >= 21 ? n.attr_int("block_size", 0) : 0);
    w.codes = x.to_i64();
    w.scales = scale.to_f32();
    w.zero_points = n.has_input(2) ? g_.initializers.at(n.inputs[2]).to_i64()
                                   : std::vector<std::int64_t>(w.scales.size(), 0);
    w.onnx_type = stored_type(g_, n.inputs[0]);
    std::vector<float> values(w.codes.size());
    for (std::size_t k = 0; k < values.size(); ++k) {
      const auto p = static_cast<std::size_t>(w.map.index(static_cast<std::int64_t>(k)));
      values[k] = static_cast<float>(w.codes[k] - w.zero_points[p]) * w.scales[p];
    }
    g_.initializers[n.outputs[0]] = Tensor::from_vector<float>(x.shape(), values);
    const bool sane = std::all_of(w.scales.begin(), w.scales.end(),
                                  [](float v) { return std::isfinite(v) && v > 0; });
    if (sane)
      weights_[n.outputs[0]] = std::move(w);
    else
      notes_.push_back(where + ": a scale is not a positive finite number; the weight is kept " +
                       "as its float values");
  }
  g_.nodes = std::move(kept);
}

void Importer::restore_folded(const nlohmann::json& f, const std::string& output) {
  Node n;
  n.name = f.value("name", output + "_restored");
  n.op_type = f.value("op", "Relu");
  n.inputs = {f.value("input", "")};
  n.outputs = {output};
  for (const char* bound : {"min", "max"}) {
    if (!f.contains(bound)) {
      if (n.op_type == "Clip") n.inputs.push_back("");
      continue;
    }
    std::string name = n.name + "_" + bound;
    while (initializer(name)) name += "_";
    g_.initializers[name] = Tensor::scalar_f32(f[bound].get<float>());
    n.inputs.push_back(name);
  }
  while (!n.inputs.empty() && n.inputs.back().empty()) n.inputs.pop_back();
  restored_.push_back(std::move(n));
}

void Importer::take_activation_pairs() {
  std::map<std::string, std::string> rename;  // DequantizeLinear output -> what readers read now
  std::set<std::string> dropped;              // node names
  std::set<std::string> outputs;
  for (const ValueInfo& v : g_.outputs) outputs.insert(v.name);
  for (const Node& q : g_.nodes) {
    if (q.op_type != "QuantizeLinear" || !q.domain.empty() || initializer(q.inputs[0]) ||
        !q.has_input(1) || !initializer(q.inputs[1]))
      continue;
    const Tensor& scale = g_.initializers.at(q.inputs[1]);
    if (scale.numel() != 1 || scale.dtype() != DType::f32) continue;  // per-tensor only
    const Tensor* zp =
        q.has_input(2) && initializer(q.inputs[2]) ? &g_.initializers.at(q.inputs[2]) : nullptr;
    // The grid's type: the zero point's, else output_dtype (opset 21), else uint8.
    int type = static_cast<int>(DType::u8);
    if (zp)
      type = stored_type(g_, q.inputs[2]);
    else if (g_.opset >= 21 && q.attr_int("output_dtype", 0) != 0)
      type = static_cast<int>(q.attr_int("output_dtype", 0));
    int bits = 0;
    if (type == static_cast<int>(DType::u8) || type == static_cast<int>(DType::i8)) bits = 8;
    if (type == 4 /* UINT16 */ || type == 5 /* INT16 */) bits = 16;
    const bool is_signed = type == static_cast<int>(DType::i8) || type == 5;
    const float scale_value = scale.data<float>()[0];
    if (bits == 0 || (zp && zp->numel() != 1) || !std::isfinite(scale_value) ||
        !(scale_value > 0)) {
      notes_.push_back("node '" + q.name + "' (QuantizeLinear): its grid (" + onnx_type_name(type) +
                       ", scale " + std::to_string(scale_value) +
                       ") is not one Quantscope simulates; left as it is");
      continue;
    }
    std::vector<const Node*> dqs;
    bool pairs_only = true;
    for (const Node& c : g_.nodes) {
      if (std::find(c.inputs.begin(), c.inputs.end(), q.outputs[0]) == c.inputs.end()) continue;
      const bool match = c.op_type == "DequantizeLinear" && c.inputs[0] == q.outputs[0] &&
                         c.has_input(1) && initializer(c.inputs[1]) &&
                         same_values(g_.initializers.at(c.inputs[1]), scale) &&
                         (zp ? c.has_input(2) && initializer(c.inputs[2]) &&
                                   same_values(g_.initializers.at(c.inputs[2]), *zp)
                             : !c.has_input(2)) &&
                         !outputs.count(c.outputs[0]);
      pairs_only = pairs_only && match;
      dqs.push_back(&c);
    }
    if (!pairs_only || dqs.empty() || outputs.count(q.outputs[0])) continue;
    std::string target = q.inputs[0];
    auto f = folded_.find(target);
    if (f != folded_.end()) {
      target = f->second.value("output", target);
      if (!std::any_of(restored_.begin(), restored_.end(),
                       [&](const Node& n) { return n.outputs[0] == target; }))
        restore_folded(f->second, target);
    }
    for (const Node* dq : dqs) {
      rename[dq->outputs[0]] = target;
      dropped.insert(dq->name);
    }
    dropped.insert(q.name);
    ActQuantParams a;
    a.bits = bits;
    a.is_signed = is_signed;
    a.scale = scale_value;
    a.zero_point = zp ? static_cast<std::int32_t>(zp->to_i64()[0]) : 0;
    const std::int32_t qmin = a.is_signed ? -(1 << (a.bits - 1)) + 1 : 0;
    const std::int32_t qmax = a.is_signed ? (1 << (a.bits - 1)) - 1 : (1 << a.bits) - 1;
    a.lo = static_cast<float>(qmin - a.zero_point) * a.scale;
    a.hi = static_cast<float>(qmax - a.zero_point) * a.scale;
    a.calibrator = "imported";
    if (a.is_signed && a.zero_point != 0)
      notes_.push_back("tensor '" + target + "': a signed grid with a zero point is read as " +
                       "Quantscope's symmetric grid (zero point kept)");
    acts_[target] = a;
  }
  std::vector<Node> nodes;
  for (Node& n : g_.nodes) {
    if (dropped.count(n.name)) continue;
    for (std::string& in : n.inputs) {
      auto r = rename.find(in);
      if (r != rename.end()) in = r->second;
    }
    nodes.push_back(std::move(n));
  }
  for (Node& n : restored_) nodes.push_back(std::move(n));
  g_.nodes = std::move(nodes);
}

std::optional<WeightQuantParams> Importer::weight_params(const quant::QuantLayer& l,
                                                         const LayerQuantSettings* stored) {
  auto it = weights_.find(l.weight);
  if (it == weights_.end()) return std::nullopt;
  const WeightCodes& w = it->second;
  const Shape& shape = g_.initializers.at(l.weight).shape();
  const std::vector<std::int64_t> index = quant::matrix_to_weight_index(l, shape);
  const std::int64_t rows = l.rows, cols = l.cols;
  if (rows <= 0 || cols <= 0) return std::nullopt;
  auto param = [&](std::int64_t r, std::int64_t c) {
    return w.map.index(index[static_cast<std::size_t>(r * cols + c)]);
  };
  // Group length: the run of equal parameters at the start of row 0; every row must split
  // into such runs, each with one parameter (the last run may be shorter).
  std::int64_t group = 1;
  while (group < cols && param(0, group) == param(0, 0)) ++group;
  bool ok = true;
  for (std::int64_t r = 0; ok && r < rows; ++r)
    for (std::int64_t c = 0; ok && c < cols; ++c) ok = param(r, c) == param(r, c - c % group);
  if (!ok) {
    notes_.push_back("node '" + l.node->name + "': its scales do not follow output channels or " +
                     "groups of input channels; its weights are kept as float values");
    return std::nullopt;
  }
  WeightQuantParams p;
  p.weight = l.weight;
  p.rows = rows;
  p.cols = cols;
  p.groups_per_row = quant::groups_in_row(cols, group);
  p.group_size = group;
  const bool unsigned_codes = w.onnx_type == static_cast<int>(DType::u8) || w.onnx_type == 21;
  const std::int64_t shift = unsigned_codes && w.onnx_type == static_cast<int>(DType::u8) ? 128
                             : unsigned_codes                                             ? 8
                                                                                          : 0;
  p.codes.resize(static_cast<std::size_t>(rows * cols));
  std::int64_t lo = 0, hi = 0;
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) {
      const std::int64_t v =
          w.codes[static_cast<std::size_t>(index[static_cast<std::size_t>(r * cols + c)])] - shift;
      if (v < -128 || v > 127) return std::nullopt;
      p.codes[static_cast<std::size_t>(r * cols + c)] = static_cast<std::int8_t>(v);
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  bool zero_zps = true;
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t g = 0; g < p.groups_per_row; ++g) {
      const auto k = static_cast<std::size_t>(param(r, g * group));
      p.scales.push_back(w.scales[k]);
      p.zero_points.push_back(static_cast<std::int32_t>(w.zero_points[k] - shift));
      zero_zps = zero_zps && p.zero_points.back() == 0;
    }
  p.symmetric = zero_zps && lo > -128;
  if (stored && stored->weight_bits > 0) {
    p.bits = stored->weight_bits;
  } else {
    p.bits = 2;
    while (p.bits < 8 && (lo < -(1 << (p.bits - 1)) || hi > (1 << (p.bits - 1)) - 1)) ++p.bits;
  }
  const bool uniform =
      p.groups_per_row == 1 &&
      std::all_of(p.scales.begin(), p.scales.end(), [&](float s) { return s == p.scales[0]; }) &&
      std::all_of(p.zero_points.begin(), p.zero_points.end(),
                  [&](std::int32_t z) { return z == p.zero_points[0]; });
  p.granularity = p.groups_per_row > 1  ? QuantGranularity::per_group
                  : uniform && rows > 1 ? QuantGranularity::per_tensor
                                        : QuantGranularity::per_channel;
  p.rounding = stored ? stored->rounding : "imported";
  return p;
}

// The ops this pass rewrites must have the inputs and outputs their definitions require.
void check_arity(const Graph& g) {
  for (const Node& n : g.nodes) {
    const bool qdq = n.op_type == "QuantizeLinear" || n.op_type == "DequantizeLinear";
    if (!n.domain.empty() || (!qdq && n.op_type != "Reshape")) continue;
    if (!n.has_input(0) || !n.has_input(1) || n.outputs.size() != 1 || n.outputs[0].empty())
      throw Error("node '" + n.name + "' (" + n.op_type + ") lacks a required input or output");
  }
}

QdqImport Importer::run(const std::string& path) {
  check_arity(g_);
  if (g_.metadata.count("quantscope.folded")) {
    const nlohmann::json f =
        nlohmann::json::parse(g_.metadata["quantscope.folded"], nullptr, false);
    auto text = [](const nlohmann::json& e, const char* key) {
      return e.contains(key) && e[key].is_string();
    };
    auto number = [](const nlohmann::json& e, const char* key) {
      return !e.contains(key) || e[key].is_number();
    };
    if (f.is_array())
      for (const nlohmann::json& e : f)
        if (e.is_object() && text(e, "input") && text(e, "output") && text(e, "name") &&
            text(e, "op") && (e["op"] == "Relu" || e["op"] == "Clip") && number(e, "min") &&
            number(e, "max"))
          folded_[e["input"].get<std::string>()] = e;
  }
  std::optional<QuantConfig> stored;
  if (g_.metadata.count("quantscope.quantization")) {
    try {
      stored = quantized_model_from_json(g_.metadata["quantscope.quantization"]).config;
    } catch (const Error& e) {
      notes_.push_back(std::string("the stored configuration was not read: ") + e.what());
    }
  }
  if (!g_.metadata.count("quantscope.folded"))
    notes_.push_back(
        "the file does not say which Relu/Clip nodes its exporter folded into "
        "quantize ranges; none are put back, so the float model may lack some (the "
        "quantized model is exact)");
  take_weights();
  take_activation_pairs();
  g_.metadata.erase("quantscope.folded");
  g_.metadata.erase("quantscope.quantization");
  g_.problems.clear();
  g_.widened_types.clear();
  g_.value_info.clear();
  sort_and_validate(g_);
  check_ops_supported(g_);
  // A Reshape of dequantized weights (how exports write Conv weights with grouped scales) keeps
  // the element order: its output has the same codes.
  for (const Node& n : g_.nodes)
    if (n.op_type == "Reshape" && weights_.count(n.inputs[0]) && n.has_input(1) &&
        initializer(n.inputs[1]))
      weights_[n.outputs[0]] = weights_.at(n.inputs[0]);
  fold_constants(g_);  // those Reshapes become initializers
  drop_unused_initializers(g_);
  infer_graph_shapes(g_);

  QdqImport r;
  QuantizedModel& q = r.quantized;
  q.model_name = fs::path(path).filename().string();
  q.calibration_data = "recovered from the Q/DQ nodes of " + path;
  q.config = stored.value_or(QuantConfig{});
  for (const quant::QuantLayer& l : quant::find_quant_layers(g_)) {
    const std::string& name = l.node->name;
    const LayerQuantSettings s = q.config.settings_for(name);
    LayerOverride o;
    std::optional<WeightQuantParams> w;
    // Weights: a constant weight that came out of a DequantizeLinear.
    if (l.kind != quant::LayerKind::matmul_acts) w = weight_params(l, stored ? &s : nullptr);
    if (w) {
      q.weights[name] = *w;
      if (!stored) {
        o.weight_bits = w->bits;
        o.granularity = w->granularity;
        if (w->granularity == QuantGranularity::per_group) o.group_size = w->group_size;
        o.weight_symmetric = w->symmetric;
      }
    } else if (l.kind != quant::LayerKind::matmul_acts && (!stored || s.weight_bits > 0)) {
      o.weight_bits = 0;
      if (stored)
        notes_.push_back("node '" + name + "': the configuration quantizes its weights, the file " +
                         "does not; left in float");
    }
    // Activations: every input it reads as an activation must have a pair.
    bool all = !l.act_inputs.empty();
    for (const std::string& t : l.act_inputs) all = all && acts_.count(t);
    if (all) {
      for (const std::string& t : l.act_inputs) q.activations[t] = acts_.at(t);
      if (!stored) {
        o.act_bits = acts_.at(l.act_inputs[0]).bits;
        o.act_symmetric = acts_.at(l.act_inputs[0]).is_signed;
      }
    } else if (!stored || s.act_bits > 0) {
      o.act_bits = 0;
      if (stored)
        notes_.push_back("node '" + name + "': the configuration quantizes its activations, the " +
                         "file does not; left in float");
    }
    if (o.weight_bits || o.act_bits || o.granularity || o.group_size || o.weight_symmetric ||
        o.act_symmetric)
      q.config.overrides[name] = o;
  }
  r.graph = std::move(g_);
  r.notes = notes_;
  q.notes = notes_;
  return r;
}

}  // namespace

QdqImport import_qdq(const std::string& path) {
  Graph g = load_for_import(path);
  try {
    return Importer(std::move(g)).run(path);
  } catch (const Unsupported& e) {
    throw Unsupported(path + ": " + e.what());
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

}  // namespace qs
