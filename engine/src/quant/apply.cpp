// apply_quantization(): the simulation graph. Weights become their dequantized codes, biases
// move onto the int32 grid of scale = input scale x weight scale, and each quantized activation
// passes through a FakeQuant node. The parameters also stay on the quantized nodes, in
// quant_format.h's format (input grid, weight codes and grids, bias codes), for devices with
// integer kernels. cpu-ref's Conv, Gemm and MatMul read them too, to sum the integers exactly as
// the integer kernels do (runtime/kernels/integer_layer.h) instead of the rounded float products.
#include <cmath>
#include <limits>
#include <set>

#include "graph/passes.h"
#include "quant/layers.h"
#include "quantscope/error.h"
#include "quantscope/quant.h"
#include "quantscope/quant_format.h"

namespace qs {

namespace {

quant::Grid act_grid(const ActQuantParams& a) {
  quant::Grid g;
  g.scale = a.scale;
  g.zero_point = a.zero_point;
  g.bits = a.bits;
  g.qmin = a.is_signed ? -(1 << (a.bits - 1)) + 1 : 0;
  g.qmax = a.is_signed ? (1 << (a.bits - 1)) - 1 : (1 << a.bits) - 1;
  return g;
}

std::string unique_name(const Graph& g, const std::set<std::string>& taken,
                        const std::string& base) {
  std::string name = base;
  for (int i = 1; g.initializers.count(name) || g.value_info.count(name) || taken.count(name); ++i)
    name = base + "_" + std::to_string(i);
  return name;
}

}  // namespace

Graph apply_quantization(const Graph& graph, const QuantizedModel& q) {
  Graph out = graph;
  out.value_info.clear();
  const std::vector<quant::QuantLayer> layers = quant::find_quant_layers(graph);
  std::map<std::string, const quant::QuantLayer*> by_node;
  for (const quant::QuantLayer& l : layers) by_node[l.node->name] = &l;
  for (const auto& [node, w] : q.weights)
    if (!by_node.count(node))
      throw Error("the configuration quantizes weights of node '" + node +
                  "', which this model does not have (or which is not quantizable)");
  for (const auto& [t, a] : q.activations)
    if (!graph.value_info.count(t))
      throw Error("the configuration quantizes tensor '" + t + "', which this model does not have");

  std::set<std::string> taken;
  std::map<std::string, std::string> fq_name;  // activation -> its FakeQuant output
  std::map<std::string, Node> nodes_changed;   // by node name
  for (const quant::QuantLayer& l : layers) {
    const std::string& name = l.node->name;
    const LayerQuantSettings s = q.config.settings_for(name);
    Node n = *l.node;
    bool changed = false;
    // Activations.
    const ActQuantParams* x_params = nullptr;
    if (s.act_bits > 0) {
      for (std::size_t i = 0; i < n.inputs.size(); ++i) {
        const std::string t = n.inputs[i];
        if (t.empty() || i > 1 || (i == 1 && l.kind != quant::LayerKind::matmul_acts)) continue;
        auto a = q.activations.find(t);
        if (a == q.activations.end())
          throw Error("node '" + name +
                      "': the configuration has no calibrated range for its "
                      "input '" +
                      t + "'; run quantize again");
        if (!fq_name.count(t)) {
          fq_name[t] = unique_name(graph, taken, t + "::fq");
          taken.insert(fq_name[t]);
        }
        n.inputs[i] = fq_name[t];
        if (i == 0) x_params = &a->second;
        changed = true;
      }
    }
    if (x_params) quant::write_input_grid(n, act_grid(*x_params));
    // Weights.
    auto wq = q.weights.find(name);
    if (wq != q.weights.end() && s.weight_bits > 0) {
      const WeightQuantParams& p = wq->second;
      const Tensor& w = graph.initializers.at(l.weight);
      if (p.weight != l.weight || p.rows != l.rows || p.cols != l.cols)
        throw Error("node '" + name + "': the configuration's weights (" + p.weight + ", " +
                    std::to_string(p.rows) + "x" + std::to_string(p.cols) +
                    ") do not match the model's (" + l.weight + ", " + std::to_string(l.rows) +
                    "x" + std::to_string(l.cols) + "); was it made for another model?");
      const std::vector<float> deq = dequantize_weights(p);
      const std::vector<std::int64_t> index = quant::matrix_to_weight_index(l, w.shape());
      const std::string wname = unique_name(graph, taken, l.weight + "::" + name + "::dq");
      taken.insert(wname);
      out.initializers[wname] =
          Tensor::from_vector<float>(w.shape(), quant::matrix_to_weight_order(index, deq));
      n.inputs[1] = wname;
      quant::write_weights(
          n, p.bits,
          Tensor::from_vector<std::int8_t>(w.shape(),
                                           quant::matrix_to_weight_order(index, p.codes)),
          Tensor::from_vector<float>({static_cast<std::int64_t>(p.scales.size())}, p.scales),
          Tensor::from_vector<std::int32_t>({static_cast<std::int64_t>(p.zero_points.size())},
                                            p.zero_points),
          p.groups_per_row, p.group_size);
      // The bias: corrected, and on the int32 grid when the kernel's accumulator holds it.
      if (!l.bias.empty()) {
        std::vector<float> b = p.bias.empty() ? graph.initializers.at(l.bias).to_f32() : p.bias;
        const bool on_grid = x_params && p.groups_per_row == 1;
        if (on_grid) {
          std::vector<std::int32_t> codes(b.size());
          for (std::size_t r = 0; r < b.size(); ++r) {
            const float s_acc = x_params->scale * p.scales[r];
            const double v = std::nearbyint(static_cast<double>(b[r]) / s_acc);
            codes[r] = static_cast<std::int32_t>(std::clamp(
                std::isnan(v) ? 0.0 : v, double(std::numeric_limits<std::int32_t>::min()),
                double(std::numeric_limits<std::int32_t>::max())));
            b[r] = static_cast<float>(codes[r]) * s_acc;
          }
          quant::write_bias_codes(n, Tensor::from_vector<std::int32_t>(
                                         {static_cast<std::int64_t>(codes.size())}, codes));
        }
        if (on_grid || !p.bias.empty()) {
          const Tensor& orig = graph.initializers.at(l.bias);
          const std::string bname = unique_name(graph, taken, l.bias + "::" + name + "::q");
          taken.insert(bname);
          out.initializers[bname] = Tensor::from_vector<float>(orig.shape(), b);
          n.inputs[2] = bname;
        }
      }
      changed = true;
    }
    if (changed) nodes_changed[name] = std::move(n);
  }

  // Rebuild the node list: each FakeQuant right before its first reader.
  std::vector<Node> nodes;
  std::set<std::string> emitted;
  for (const Node& original : graph.nodes) {
    auto c = nodes_changed.find(original.name);
    const Node& n = c == nodes_changed.end() ? original : c->second;
    for (const std::string& in : n.inputs) {
      if (in.empty() || emitted.count(in)) continue;
      for (const auto& [t, fq] : fq_name) {
        if (fq != in) continue;
        nodes.push_back(quant::make_fake_quant(fq, t, fq, act_grid(q.activations.at(t))));
        emitted.insert(in);
      }
    }
    nodes.push_back(n);
  }
  out.nodes = std::move(nodes);
  drop_unused_initializers(out);
  infer_graph_shapes(out);
  return out;
}

std::vector<float> dequantize_weights(const WeightQuantParams& w) {
  if (w.group_size < 1 || quant::groups_in_row(w.cols, w.group_size) != w.groups_per_row ||
      w.codes.size() != static_cast<std::size_t>(w.rows * w.cols) ||
      w.scales.size() != static_cast<std::size_t>(w.rows * w.groups_per_row) ||
      w.zero_points.size() != w.scales.size())
    throw Error("weights of '" + w.weight + "': " + std::to_string(w.groups_per_row) +
                " groups of " + std::to_string(w.group_size) + " per row do not fit " +
                std::to_string(w.rows) + " x " + std::to_string(w.cols) + " codes and " +
                std::to_string(w.scales.size()) + " scales");
  const std::int64_t group_cols = w.group_size;
  std::vector<float> deq(w.codes.size());
  for (std::int64_t r = 0; r < w.rows; ++r)
    for (std::int64_t c = 0; c < w.cols; ++c) {
      const std::size_t g = static_cast<std::size_t>(r * w.groups_per_row + c / group_cols);
      const std::size_t k = static_cast<std::size_t>(r * w.cols + c);
      deq[k] = static_cast<float>(w.codes[k] - w.zero_points[g]) * w.scales[g];
    }
  return deq;
}

std::int64_t model_size_bytes(const Graph& graph, const QuantizedModel* q) {
  std::map<std::string, std::int64_t> bytes;
  for (const auto& [name, t] : graph.initializers)
    bytes[name] = static_cast<std::int64_t>(t.size_bytes());
  if (q) {
    for (const auto& [node, w] : q->weights) {
      const std::int64_t params = (w.rows * w.cols * w.bits + 7) / 8;
      const std::int64_t grids = static_cast<std::int64_t>(w.scales.size());
      bytes[w.weight] = params + grids * (w.symmetric ? 4 : 8);
    }
  }
  std::int64_t total = 0;
  for (const auto& [name, b] : bytes) total += b;
  return total;
}

}  // namespace qs
