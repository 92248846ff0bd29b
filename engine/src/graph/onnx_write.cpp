// IR -> ONNX protobuf. Tensors are written as little-endian raw_data; names, attributes and the
// declared inputs and outputs come through unchanged, so a model written and read back is the
// same graph.
#include "graph/onnx_write.h"

#include <cstring>
#include <set>

#include "graph/onnx_proto.h"
#include "quantscope/error.h"

namespace qs {

namespace {

std::string raw_bytes(const std::string& name, const Tensor& t, int onnx_type) {
  const std::int64_t n = t.numel();
  if (onnx_type == onnx_type::kInt4 || onnx_type == onnx_type::kUint4) {
    if (t.dtype() != DType::i8)
      throw Error("initializer '" + name + "': 4-bit values must be held as int8");
    const bool is_signed = onnx_type == onnx_type::kInt4;
    const int lo = is_signed ? -8 : 0, hi = is_signed ? 7 : 15;
    std::string out(static_cast<std::size_t>((n + 1) / 2), '\0');
    const std::int8_t* v = t.data<std::int8_t>();
    for (std::int64_t i = 0; i < n; ++i) {
      if (v[i] < lo || v[i] > hi)
        throw Error("initializer '" + name + "': value " + std::to_string(v[i]) + " at " +
                    std::to_string(i) + " does not fit " + (is_signed ? "int4" : "uint4"));
      const auto nibble = static_cast<unsigned char>(v[i] & 0x0F);
      out[static_cast<std::size_t>(i / 2)] |= static_cast<char>(i % 2 ? nibble << 4 : nibble);
    }
    return out;
  }
  if (onnx_type == onnx_type::kInt16 || onnx_type == onnx_type::kUint16) {
    if (t.dtype() != DType::i32)
      throw Error("initializer '" + name + "': 16-bit values must be held as int32");
    const bool is_signed = onnx_type == onnx_type::kInt16;
    std::string out(static_cast<std::size_t>(n * 2), '\0');
    const std::int32_t* v = t.data<std::int32_t>();
    for (std::int64_t i = 0; i < n; ++i) {
      if (is_signed ? (v[i] < -32768 || v[i] > 32767) : (v[i] < 0 || v[i] > 65535))
        throw Error("initializer '" + name + "': value " + std::to_string(v[i]) + " does not fit " +
                    (is_signed ? "int16" : "uint16"));
      const auto u = static_cast<std::uint16_t>(v[i]);
      out[static_cast<std::size_t>(2 * i)] = static_cast<char>(u & 0xFF);
      out[static_cast<std::size_t>(2 * i + 1)] = static_cast<char>(u >> 8);
    }
    return out;
  }
  // The engine's dtypes have ONNX's numbering and little-endian layout on every host it builds
  // for, so the container's bytes are the raw data.
  return std::string(static_cast<const char*>(t.raw()), t.size_bytes());
}

void write_tensor(const std::string& name, const Tensor& t, int onnx_type, onnx::TensorProto& out) {
  if (!t.has_data()) throw Error("initializer '" + name + "' has no data to write");
  out.set_name(name);
  out.set_data_type(onnx_type);
  for (std::int64_t d : t.shape()) out.add_dims(d);
  out.set_raw_data(raw_bytes(name, t, onnx_type));
}

void write_graph(const Graph& graph, onnx::GraphProto& g,
                 const std::map<std::string, int>& stored_as);

void write_attribute(const std::string& key, const Attribute& a, onnx::AttributeProto& out) {
  using A = onnx::AttributeProto;
  out.set_name(key);
  std::visit(
      [&](const auto& v) {
        using V = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<V, std::int64_t>) {
          out.set_type(A::INT);
          out.set_i(v);
        } else if constexpr (std::is_same_v<V, float>) {
          out.set_type(A::FLOAT);
          out.set_f(v);
        } else if constexpr (std::is_same_v<V, std::string>) {
          out.set_type(A::STRING);
          out.set_s(v);
        } else if constexpr (std::is_same_v<V, std::vector<std::int64_t>>) {
          out.set_type(A::INTS);
          for (std::int64_t x : v) out.add_ints(x);
        } else if constexpr (std::is_same_v<V, std::vector<float>>) {
          out.set_type(A::FLOATS);
          for (float x : v) out.add_floats(x);
        } else if constexpr (std::is_same_v<V, std::vector<std::string>>) {
          out.set_type(A::STRINGS);
          for (const std::string& x : v) out.add_strings(x);
        } else if constexpr (std::is_same_v<V, Tensor>) {
          out.set_type(A::TENSOR);
          write_tensor(key, v, static_cast<int>(v.dtype()), *out.mutable_t());
        } else {
          out.set_type(A::GRAPH);
          write_graph(*v, *out.mutable_g(), {});
        }
      },
      a.value);
}

void write_value_info(const ValueInfo& v, onnx::ValueInfoProto& out) {
  out.set_name(v.name);
  auto* tt = out.mutable_type()->mutable_tensor_type();
  tt->set_elem_type(static_cast<int>(v.dtype));
  if (!v.has_shape) return;
  auto* shape = tt->mutable_shape();
  for (std::size_t i = 0; i < v.shape.size(); ++i) {
    auto* d = shape->add_dim();
    const std::string sym = i < v.dim_names.size() ? v.dim_names[i] : std::string();
    if (v.shape[i] >= 0)
      d->set_dim_value(v.shape[i]);
    else if (!sym.empty())
      d->set_dim_param(sym);
  }
}

void write_graph(const Graph& graph, onnx::GraphProto& g,
                 const std::map<std::string, int>& stored_as) {
  g.set_name(graph.name.empty() ? "quantscope" : graph.name);
  for (const auto& [name, t] : graph.initializers) {
    auto it = stored_as.find(name);
    write_tensor(name, t, it == stored_as.end() ? static_cast<int>(t.dtype()) : it->second,
                 *g.add_initializer());
  }
  for (const ValueInfo& v : graph.inputs) write_value_info(v, *g.add_input());
  for (const ValueInfo& v : graph.outputs) write_value_info(v, *g.add_output());
  for (const Node& n : graph.nodes) {
    onnx::NodeProto* p = g.add_node();
    p->set_name(n.name);
    p->set_op_type(n.op_type);
    if (!n.domain.empty()) p->set_domain(n.domain);
    // The outer values a subgraph reads are implicit in ONNX.
    const std::size_t own = n.inputs.size() - static_cast<std::size_t>(n.outer_inputs);
    for (std::size_t i = 0; i < own; ++i) p->add_input(n.inputs[i]);
    for (const std::string& out : n.outputs) p->add_output(out);
    for (const auto& [key, a] : n.attributes) write_attribute(key, a, *p->add_attribute());
  }
}

Node make_node(const std::string& name, const char* op, std::vector<std::string> inputs,
               std::string output) {
  Node n;
  n.name = name;
  n.op_type = op;
  n.inputs = std::move(inputs);
  n.outputs = {std::move(output)};
  return n;
}

// RMSNormalization exists from opset 23: below it, the graph's fused node is written as the
// ops it came from (x * 1/sqrt(mean(x^2) + eps) * scale), which every runtime loads.
Graph spell_rms_norm(const Graph& graph, std::int64_t opset) {
  Graph out = graph;
  out.nodes.clear();
  for (const Node& n : graph.nodes) {
    if (n.op_type != "RMSNormalization" || !n.domain.empty()) {
      out.nodes.push_back(n);
      continue;
    }
    // The axes from `axis` to the last: counted from the end when axis is (the usual -1), which
    // needs no rank; else up to the rank, which shape inference must have given.
    const std::int64_t axis = n.attr_int("axis", -1);
    std::vector<std::int64_t> axes;
    if (axis < 0) {
      for (std::int64_t d = axis; d < 0; ++d) axes.push_back(d);
    } else {
      auto x = graph.value_info.find(n.inputs[0]);
      if (x == graph.value_info.end())
        throw Error("node '" + n.name + "' (RMSNormalization): its input's rank is not known");
      for (std::int64_t d = axis; d < x->second.rank(); ++d) axes.push_back(d);
    }
    const std::string p = n.name + "/";
    out.initializers[p + "two"] = Tensor::from_vector<float>({}, {2.0f});
    out.initializers[p + "epsilon"] =
        Tensor::from_vector<float>({}, {n.attr_float("epsilon", 1e-5f)});
    out.nodes.push_back(make_node(p + "Pow", "Pow", {n.inputs[0], p + "two"}, p + "square"));
    Node mean = make_node(n.name, "ReduceMean", {p + "square"}, p + "mean_square");
    if (opset >= 18) {
      out.initializers[p + "axes"] =
          Tensor::from_vector<std::int64_t>({static_cast<std::int64_t>(axes.size())}, axes);
      mean.inputs.push_back(p + "axes");
    } else {
      mean.attributes["axes"].value = axes;
    }
    out.nodes.push_back(std::move(mean));
    out.nodes.push_back(make_node(p + "Add", "Add", {p + "mean_square", p + "epsilon"}, p + "var"));
    out.nodes.push_back(make_node(p + "Sqrt", "Sqrt", {p + "var"}, p + "rms"));
    out.nodes.push_back(make_node(p + "Div", "Div", {n.inputs[0], p + "rms"}, p + "normalized"));
    out.nodes.push_back(make_node(p + "Mul", "Mul", {p + "normalized", n.inputs[1]}, n.outputs[0]));
  }
  return out;
}

bool has_rms_norm(const Graph& graph) {
  for (const Node& n : graph.nodes)
    if (n.op_type == "RMSNormalization" && n.domain.empty()) return true;
  return false;
}

}  // namespace

std::int64_t ir_version_for_opset(std::int64_t opset) {
  if (opset >= 21) return 10;
  if (opset >= 19) return 9;
  if (opset >= 15) return 8;
  if (opset >= 12) return 7;
  if (opset >= 11) return 6;
  if (opset >= 10) return 5;
  if (opset >= 9) return 4;
  return 3;
}

std::string write_onnx(const Graph& graph, const OnnxWriteOptions& options) {
  const std::int64_t opset = options.opset > 0 ? options.opset : graph.opset;
  onnx::ModelProto model;
  model.set_ir_version(ir_version_for_opset(opset));
  model.set_producer_name("quantscope");
  model.set_producer_version(options.producer_version);
  auto* op = model.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  std::set<std::string> domains;
  for (const Node& n : graph.nodes)
    if (!n.domain.empty()) domains.insert(n.domain);
  for (const std::string& d : domains) {
    auto* o = model.add_opset_import();
    o->set_domain(d);
    o->set_version(1);
  }
  for (const auto& [key, value] : graph.metadata) {
    auto* p = model.add_metadata_props();
    p->set_key(key);
    p->set_value(value);
  }
  if (opset < 23 && has_rms_norm(graph))
    write_graph(spell_rms_norm(graph, opset), *model.mutable_graph(), options.stored_as);
  else
    write_graph(graph, *model.mutable_graph(), options.stored_as);
  std::string bytes;
  if (!model.SerializeToString(&bytes))
    throw Error("the model could not be serialized (it may be larger than protobuf's 2 GiB)");
  return bytes;
}

}  // namespace qs
