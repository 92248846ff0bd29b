#include "model_builder.h"

#include "quantscope/executor.h"
#include "random_dataset.h"

namespace qs::test {

ModelBuilder::ModelBuilder(std::int64_t opset) {
  model_.set_ir_version(8);
  model_.set_producer_name("quantscope-tests");
  auto* op = model_.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  model_.mutable_graph()->set_name("test");
}

ModelBuilder& ModelBuilder::input(const std::string& name, const std::vector<std::int64_t>& dims,
                                  int elem_type) {
  auto* v = model_.mutable_graph()->add_input();
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem_type);
  auto* shape = tt->mutable_shape();
  for (std::int64_t d : dims) {
    auto* dim = shape->add_dim();
    if (d >= 0)
      dim->set_dim_value(d);
    else
      dim->set_dim_param("N");
  }
  return *this;
}

ModelBuilder& ModelBuilder::output(const std::string& name, int elem_type) {
  auto* v = model_.mutable_graph()->add_output();
  v->set_name(name);
  v->mutable_type()->mutable_tensor_type()->set_elem_type(elem_type);
  return *this;
}

ModelBuilder& ModelBuilder::initializer(const std::string& name,
                                        const std::vector<std::int64_t>& dims,
                                        const std::vector<float>& values) {
  auto* t = model_.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(1);
  for (std::int64_t d : dims) t->add_dims(d);
  for (float v : values) t->add_float_data(v);
  return *this;
}

ModelBuilder& ModelBuilder::initializer_i64(const std::string& name,
                                            const std::vector<std::int64_t>& dims,
                                            const std::vector<std::int64_t>& values) {
  auto* t = model_.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(7);
  for (std::int64_t d : dims) t->add_dims(d);
  for (std::int64_t v : values) t->add_int64_data(v);
  return *this;
}

onnx::NodeProto& ModelBuilder::node(const std::string& op, const std::vector<std::string>& inputs,
                                    const std::vector<std::string>& outputs,
                                    const std::string& name) {
  auto* n = model_.mutable_graph()->add_node();
  n->set_op_type(op);
  n->set_name(name.empty() ? op + std::to_string(model_.graph().node_size()) : name);
  for (const auto& i : inputs) n->add_input(i);
  for (const auto& o : outputs) n->add_output(o);
  return *n;
}

std::string ModelBuilder::bytes() const {
  return model_.SerializeAsString();
}

Graph ModelBuilder::load(const LoadOptions& options) const {
  return load_model_from_bytes(bytes(), "", "test.onnx", options);
}

void set_attr(onnx::NodeProto& n, const std::string& name, std::int64_t v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

void set_attr(onnx::NodeProto& n, const std::string& name, float v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}

void set_attr(onnx::NodeProto& n, const std::string& name, const std::string& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(v);
}

void set_attr(onnx::NodeProto& n, const std::string& name, const std::vector<std::int64_t>& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (auto x : v) a->add_ints(x);
}

Tensor run_single(const Graph& g, const Tensor& input) {
  ReferenceExecutor ex(g);
  TensorMap out = ex.run({{g.inputs.at(0).name, input}});
  return out.at(g.outputs.at(0).name);
}

Graph small_cnn() {
  ModelBuilder b(13);
  b.input("x", {-1, 2, 6, 6});
  b.initializer("w", {4, 2, 3, 3}, random_values(72, 1));
  b.initializer("b", {4}, random_values(4, 2));
  b.initializer("fw", {5, 144}, random_values(720, 3, 0.1f));
  b.initializer("fb", {5}, random_values(5, 4));
  auto& conv = b.node("Conv", {"x", "w", "b"}, {"c"}, "conv");
  set_attr(conv, "pads", std::vector<std::int64_t>{1, 1, 1, 1});
  b.node("Relu", {"c"}, {"r"}, "relu");
  b.node("Flatten", {"r"}, {"f"}, "flatten");
  auto& gemm = b.node("Gemm", {"f", "fw", "fb"}, {"y"}, "fc");
  set_attr(gemm, "transB", std::int64_t{1});
  b.output("y");
  return b.load();
}

}  // namespace qs::test
