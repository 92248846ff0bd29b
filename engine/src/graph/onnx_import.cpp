// ONNX protobuf -> IR, then the import passes (see passes.h).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "graph/onnx_proto.h"
#include "graph/passes.h"
#include "graph/tensor_proto.h"
#include "quantscope/model.h"

namespace qs {

namespace {

constexpr std::int64_t kMinOpset = 7;
// Below kMinOpset many ops had other semantics (consumed_inputs, BatchNormalization's spatial).
// These kept the semantics the kernels implement since the opset given.
std::int64_t semantics_unchanged_since(const std::string& op) {
  static const std::pair<const char*, std::int64_t> ops[] = {{"GlobalAveragePool", 1},
                                                             {"GlobalMaxPool", 1},
                                                             {"Identity", 1},
                                                             {"Flatten", 1},
                                                             {"Transpose", 1},
                                                             {"Constant", 1},
                                                             {"Shape", 1},
                                                             {"Softmax", 1},
                                                             {"LogSoftmax", 1},
                                                             {"ReduceMean", 1},
                                                             {"ReduceSum", 1},
                                                             {"ReduceMax", 1},
                                                             {"ReduceMin", 1},
                                                             {"Squeeze", 1},
                                                             {"Slice", 1},
                                                             {"Gather", 1},
                                                             {"HardSigmoid", 6},
                                                             {"Relu", 6},
                                                             {"Sigmoid", 6},
                                                             {"Tanh", 6},
                                                             {"Abs", 6},
                                                             {"Neg", 6},
                                                             {"Sqrt", 6},
                                                             {"Exp", 6},
                                                             {"Log", 6},
                                                             {"LeakyRelu", 6},
                                                             {"Clip", 6},
                                                             {"Floor", 6},
                                                             {"Ceil", 6},
                                                             {"Reciprocal", 6},
                                                             {"Cast", 6},
                                                             {"Not", 1},
                                                             {"Elu", 6},
                                                             {"Selu", 6},
                                                             {"InstanceNormalization", 6}};
  for (const auto& [name, since] : ops)
    if (op == name) return since;
  return kMinOpset;
}

constexpr std::int64_t kMaxOpset = 21;

Graph convert_subgraph(const onnx::GraphProto& graph, const ExternalDataContext& ctx,
                       std::int64_t opset, const std::string& where);

Attribute convert_attribute(const onnx::AttributeProto& a, const ExternalDataContext& ctx,
                            std::int64_t opset, const std::string& where) {
  using A = onnx::AttributeProto;
  A::AttributeType type = a.type();
  if (type == A::UNDEFINED) {
    // Very old exporters leave the type unset; infer it from the field that is filled.
    if (a.has_f())
      type = A::FLOAT;
    else if (a.has_i())
      type = A::INT;
    else if (a.has_s())
      type = A::STRING;
    else if (a.has_t())
      type = A::TENSOR;
    else if (a.floats_size())
      type = A::FLOATS;
    else if (a.ints_size())
      type = A::INTS;
    else if (a.strings_size())
      type = A::STRINGS;
    else if (!a.has_g() && !a.graphs_size() && !a.has_sparse_tensor() && !a.sparse_tensors_size() &&
             !a.has_tp() && !a.type_protos_size() && !a.tensors_size())
      throw Error(where + ": attribute '" + a.name() + "' has no value");
  }
  Attribute out;
  switch (type) {
    case A::FLOAT:
      out.value = a.f();
      break;
    case A::INT:
      out.value = static_cast<std::int64_t>(a.i());
      break;
    case A::STRING:
      out.value = a.s();
      break;
    case A::TENSOR:
      out.value = tensor_from_proto(a.t(), ctx);
      break;
    case A::FLOATS:
      out.value = std::vector<float>(a.floats().begin(), a.floats().end());
      break;
    case A::INTS:
      out.value = std::vector<std::int64_t>(a.ints().begin(), a.ints().end());
      break;
    case A::STRINGS:
      out.value = std::vector<std::string>(a.strings().begin(), a.strings().end());
      break;
    case A::GRAPH:
      out.value = std::make_shared<const Graph>(
          convert_subgraph(a.g(), ctx, opset, where + ", subgraph '" + a.name() + "'"));
      break;
    default:
      throw Unsupported(where + ": attribute '" + a.name() + "' of type " +
                        std::to_string(static_cast<int>(type)) +
                        " (lists of graphs, sparse tensors, types) is not supported");
  }
  return out;
}

// `lenient`: a subgraph's inputs and outputs may leave their type or shape out.
ValueInfo convert_value_info(const onnx::ValueInfoProto& v, bool lenient = false) {
  ValueInfo info;
  info.name = v.name();
  if (lenient && (!v.type().has_tensor_type() || v.type().tensor_type().elem_type() == 0))
    return info;
  if (!v.type().has_tensor_type())
    throw Unsupported("graph value '" + v.name() +
                      "' is not a tensor (sequences and maps are not supported)");
  const auto& tt = v.type().tensor_type();
  try {
    info.dtype = dtype_from_onnx(tt.elem_type());
  } catch (const Unsupported& e) {
    throw Unsupported("graph value '" + v.name() + "': " + e.what());
  }
  info.has_shape = tt.has_shape();
  Shape fixed;  // dynamic dimensions taken as 1, as shape inference does
  for (const auto& d : tt.shape().dim()) {
    if (d.has_dim_value()) {
      if (d.dim_value() < 0) throw Error("graph value '" + v.name() + "' has a negative dimension");
      info.shape.push_back(d.dim_value());
      info.dim_names.emplace_back();
    } else {
      info.shape.push_back(-1);
      info.dim_names.push_back(d.dim_param());
    }
    fixed.push_back(std::max<std::int64_t>(info.shape.back(), 1));
  }
  try {
    shape_numel(fixed);
  } catch (const Error& e) {
    throw Error("graph value '" + v.name() + "': " + e.what());
  }
  return info;
}

void convert_nodes(const onnx::GraphProto& graph, const ExternalDataContext& ctx, Graph& g) {
  int index = 0;
  for (const auto& n : graph.node()) {
    Node node;
    node.name = n.name().empty() ? n.op_type() + "_" + std::to_string(index) : n.name();
    node.op_type = n.op_type();
    node.domain = n.domain() == "ai.onnx" ? "" : n.domain();
    node.inputs.assign(n.input().begin(), n.input().end());
    node.outputs.assign(n.output().begin(), n.output().end());
    if (node.op_type.empty()) throw Error("node '" + node.name + "' has no op_type");
    const std::string where = "node '" + node.name + "' (" + node.op_type + ")";
    std::set<std::string> outer;
    for (const auto& a : n.attribute()) {
      if (node.attributes.count(a.name()))
        throw Error(where + ": attribute '" + a.name() + "' is given twice");
      node.attributes[a.name()] = convert_attribute(a, ctx, g.opset, where);
      if (const auto* sub =
              std::get_if<std::shared_ptr<const Graph>>(&node.attributes[a.name()].value))
        for (const std::string& name : free_names(**sub)) outer.insert(name);
    }
    // The values its subgraphs read become inputs too, after the op's own.
    node.inputs.insert(node.inputs.end(), outer.begin(), outer.end());
    node.outer_inputs = static_cast<int>(outer.size());
    g.nodes.push_back(std::move(node));
    ++index;
  }
}

// The initializers' bytes leave the protobuf as they become tensors, so that a model's weights
// are held once, not twice, while it loads.
Graph convert_model(onnx::ModelProto& model, const ExternalDataContext& ctx) {
  Graph g;
  if (!model.has_graph()) throw Error("not an ONNX model: it has no graph");
  if (model.opset_import_size() == 0)
    throw Unsupported(
        "the model declares no opset (opset_import is empty; models before ONNX IR version 3 "
        "are not supported)");
  bool has_default_domain = false;
  for (const auto& op : model.opset_import()) {
    if (op.domain().empty() || op.domain() == "ai.onnx") {
      g.opset = op.version();
      has_default_domain = true;
    }
  }
  if (!has_default_domain) {
    std::string domains;
    for (const auto& op : model.opset_import())
      domains += (domains.empty() ? "" : ", ") + op.domain();
    throw Unsupported("the model imports no default ONNX opset, only: " + domains);
  }
  if (g.opset < kMinOpset) {
    for (const auto& n : model.graph().node())
      if (semantics_unchanged_since(n.op_type()) > g.opset)
        throw Unsupported("opset " + std::to_string(g.opset) + ": op " + n.op_type() +
                          " had other semantics before opset " + std::to_string(kMinOpset));
  } else if (g.opset > kMaxOpset)
    throw Unsupported("opset " + std::to_string(g.opset) + " is not supported (supported: " +
                      std::to_string(kMinOpset) + " to " + std::to_string(kMaxOpset) + ")");
  g.producer = model.producer_name();
  for (const auto& p : model.metadata_props()) g.metadata[p.key()] = p.value();
  const onnx::GraphProto& graph = model.graph();
  g.name = graph.name();
  if (graph.sparse_initializer_size() > 0)
    throw Unsupported("sparse initializers are not supported");
  for (onnx::TensorProto& init : *model.mutable_graph()->mutable_initializer()) {
    if (init.name().empty()) throw Error("an initializer has no name");
    if (g.initializers.count(init.name()))
      throw Error("initializer '" + init.name() + "' is defined twice");
    g.initializers[init.name()] = tensor_from_proto(init, ctx);
    std::string().swap(*init.mutable_raw_data());
  }
  std::set<std::string> input_names;
  for (const auto& in : graph.input()) {
    if (!input_names.insert(in.name()).second)
      throw Error("graph input '" + in.name() + "' is declared twice");
    // Before IR version 4, initializers were also listed as inputs; they are not runtime inputs.
    if (!g.initializers.count(in.name())) g.inputs.push_back(convert_value_info(in));
  }
  for (const auto& out : graph.output()) g.outputs.push_back(convert_value_info(out));
  if (g.outputs.empty()) throw Error("the graph has no outputs");
  convert_nodes(graph, ctx, g);
  return g;
}

// Subgraphs (If's branches, Loop's body): their nodes may read any value of the enclosing
// graphs, by name; those names are the subgraph's free names.
Graph convert_subgraph(const onnx::GraphProto& graph, const ExternalDataContext& ctx,
                       std::int64_t opset, const std::string& where) {
  Graph g;
  g.opset = opset;
  g.name = graph.name();
  try {
    for (const auto& init : graph.initializer())
      g.initializers[init.name()] = tensor_from_proto(init, ctx);
    for (const auto& in : graph.input()) g.inputs.push_back(convert_value_info(in, true));
    for (const auto& out : graph.output()) g.outputs.push_back(convert_value_info(out, true));
    convert_nodes(graph, ctx, g);
    sort_and_validate(g, free_names(g));
  } catch (const Unsupported& e) {
    throw Unsupported(where + ": " + e.what());
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
  return g;
}

Error malformed(const std::string& display_name) {
  // Protobuf refuses messages nested more than 100 deep (its default recursion limit).
  return Error(display_name +
               ": not a valid ONNX model (the protobuf data is malformed, truncated, or nested "
               "more than 100 levels deep)");
}

Graph load_parsed(onnx::ModelProto& model, const std::string& base_dir,
                  const std::string& display_name, const LoadOptions& options) {
  ExternalDataContext ctx{base_dir, options.max_bytes};
  std::map<std::string, int> widened;
  ctx.widen_narrow_types = options.widen_narrow_types;
  ctx.widened = &widened;
  try {
    Graph g = convert_model(model, ctx);
    g.widened_types = std::move(widened);
    g.source_path = display_name;
    sort_and_validate(g);
    if (!options.require_supported) {
      // Describe what can be described; nothing is folded in a graph that cannot run.
      check_ops_supported(g, &g.problems);
      infer_graph_shapes(g, &g.problems);
      return g;
    }
    check_ops_supported(g);
    if (options.fold_constants) {
      fold_constants(g);
      fold_shape_computations(g);
      // Values the shapes fixed make more nodes constant (Swin's shifted-window attention mask,
      // built by ScatterND/Equal/Where from the feature map's size).
      fold_constants(g);
    }
    if (options.fold_batch_norm) fold_batch_norm(g);
    drop_unused_initializers(g);
    infer_graph_shapes(g);
    if (options.fuse_patterns) {
      // In this order: the casts sit inside the RMSNorm chains.
      int changed = drop_identity_casts(g);
      changed += fuse_layer_norm(g);
      changed += fuse_rms_norm(g);
      if (changed > 0) {
        drop_unused_initializers(g);
        infer_graph_shapes(g);
      }
    }
    return g;
  } catch (const Unsupported& e) {
    throw Unsupported(display_name + ": " + e.what());
  } catch (const Error& e) {
    throw Error(display_name + ": " + e.what());
  } catch (const std::bad_alloc&) {
    throw Error(display_name + ": out of memory while loading the model");
  }
}

}  // namespace

Graph load_model_from_bytes(const std::string& bytes, const std::string& base_dir,
                            const std::string& display_name, const LoadOptions& options) {
  if (bytes.empty()) throw Error(display_name + ": the file is empty, not an ONNX model");
  onnx::ModelProto model;
  if (!model.ParseFromString(bytes)) throw malformed(display_name);
  return load_parsed(model, base_dir, display_name, options);
}

Graph load_model(const std::string& path, const LoadOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(path + ": no such file");
  if (fs::is_directory(path, ec)) throw Error(path + ": is a folder, not an ONNX file");
  const auto size = fs::file_size(path, ec);
  if (ec) throw Error(path + ": cannot read the file size");
  if (static_cast<std::int64_t>(size) > options.max_bytes || size >= (std::uintmax_t{1} << 31))
    throw Error(path + ": " + std::to_string(size) +
                " bytes is larger than an ONNX protobuf can be (2 GiB)");
  if (size == 0) throw Error(path + ": the file is empty, not an ONNX model");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the file");
  // Parsed from the stream: the file's bytes are never held whole beside the parsed model.
  onnx::ModelProto model;
  if (!model.ParseFromIstream(&in)) {
    if (in.bad()) throw Error(path + ": read failed");
    throw malformed(path);
  }
  std::string base = fs::absolute(path).parent_path().string();
  return load_parsed(model, base, path, options);
}

}  // namespace qs
