// If and Loop with subgraphs that read the enclosing graph's values.
#include <gtest/gtest.h>

#include "graph/onnx_write.h"
#include "model_builder.h"
#include "quantscope/device.h"
#include "quantscope/executor.h"
#include "quantscope/model.h"
#include "quantscope/registry.h"

using namespace qs;
using test::ModelBuilder;

namespace {

onnx::GraphProto branch(const std::string& name, const std::string& op,
                        const std::vector<std::string>& inputs) {
  onnx::GraphProto g;
  g.set_name(name);
  auto* n = g.add_node();
  n->set_op_type(op);
  n->set_name(name + "/" + op);
  for (const std::string& in : inputs) n->add_input(in);
  n->add_output(name + "_out");
  auto* out = g.add_output();
  out->set_name(name + "_out");
  out->mutable_type()->mutable_tensor_type()->set_elem_type(1);
  return g;
}

void set_graph(onnx::NodeProto& n, const std::string& key, const onnx::GraphProto& g) {
  auto* a = n.add_attribute();
  a->set_name(key);
  a->set_type(onnx::AttributeProto::GRAPH);
  *a->mutable_g() = g;
}

// y = If(sum(x) > 0) then Relu(x) else Neg(x) * w: both branches read values of the outer
// graph (x, and the initializer w) by name.
ModelBuilder if_model() {
  ModelBuilder b(13);
  b.input("x", {-1, 3});
  b.initializer("w", {3}, {1.0f, 2.0f, 3.0f});
  b.initializer("zero", {}, {0.0f});
  auto& sum = b.node("ReduceSum", {"x"}, {"s"}, "sum");
  test::set_attr(sum, "keepdims", std::int64_t{0});
  b.node("Greater", {"s", "zero"}, {"positive"}, "test");
  auto& node = b.node("If", {"positive"}, {"picked"}, "choose");
  set_graph(node, "then_branch", branch("then", "Relu", {"x"}));
  onnx::GraphProto otherwise = branch("else", "Neg", {"x"});
  otherwise.mutable_node(0)->set_output(0, "negated");
  auto* mul = otherwise.add_node();
  mul->set_op_type("Mul");
  mul->set_name("else/Mul");
  mul->add_input("negated");
  mul->add_input("w");
  mul->add_output("else_out");
  set_graph(node, "else_branch", otherwise);
  b.node("Identity", {"picked"}, {"y"}, "out");
  b.output("y");
  return b;
}

Tensor run_on(const std::string& device, const Graph& g, const Tensor& x) {
  static Registry registry = make_default_registry();
  auto dev = registry.create_device(device);
  return dev->compile(g)->run({{"x", x}}).at("y");
}

}  // namespace

TEST(ControlFlow, IfRunsTheBranchItsConditionPicksWithOuterValues) {
  const Graph g = if_model().load();
  const Node* node = g.find_node("choose");
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(node->outer_inputs, 2);  // w and x, listed so ordering and lifetimes see them
  const Tensor pos = Tensor::from_vector<float>({1, 3}, {1, -2, 4});
  const Tensor neg = Tensor::from_vector<float>({1, 3}, {-1, -2, 1});
  for (const std::string device : {"cpu-ref", "cpu-onednn"}) {
    SCOPED_TRACE(device);
    EXPECT_EQ(run_on(device, g, pos).to_f32(), (std::vector<float>{1, 0, 4}));
    EXPECT_EQ(run_on(device, g, neg).to_f32(), (std::vector<float>{1, 4, -3}));
  }
}

TEST(ControlFlow, AModelWithIfIsWrittenBackAsOnnxWritesIt) {
  const Graph g = if_model().load();
  const std::string bytes = write_onnx(g, {});
  onnx::ModelProto proto;
  ASSERT_TRUE(proto.ParseFromString(bytes));
  for (const auto& n : proto.graph().node())
    if (n.op_type() == "If") {
      EXPECT_EQ(n.input_size(), 1);  // outer values stay implicit
    }
  const Graph again = load_model_from_bytes(bytes, "", "again.onnx");
  const Tensor neg = Tensor::from_vector<float>({1, 3}, {-1, -2, 1});
  EXPECT_EQ(run_on("cpu-ref", again, neg).to_f32(), (std::vector<float>{1, 4, -3}));
}

TEST(ControlFlow, AnUnsupportedOpInsideABranchIsNamedAtLoad) {
  ModelBuilder b = if_model();
  auto* node = b.proto().mutable_graph()->mutable_node(2);
  node->mutable_attribute(0)->mutable_g()->mutable_node(0)->set_op_type("Det");
  try {
    b.load();
    FAIL() << "a branch with an unsupported op loaded";
  } catch (const Unsupported& e) {
    EXPECT_NE(std::string(e.what()).find("Det"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("then/Relu"), std::string::npos) << e.what();
  }
}

// Scan over the columns of x [2, 3] from the last (scan_input_directions 1, axis 1), adding
// each to a running sum and scaling it by an outer value; the sums stacked as columns
// (scan_output_axes 1). Expected values computed here, column by column.
TEST(ControlFlow, ScanFollowsItsDirectionsAndAxes) {
  ModelBuilder b(16);
  b.input("x", {2, 3});
  b.initializer("s0", {2}, {0.5f, -1.0f});
  b.initializer("k", {}, {2.0f});
  auto& node = b.node("Scan", {"s0", "x"}, {"s", "y"}, "scan");
  test::set_attr(node, "num_scan_inputs", std::int64_t{1});
  test::set_attr(node, "scan_input_directions", std::vector<std::int64_t>{1});
  test::set_attr(node, "scan_input_axes", std::vector<std::int64_t>{1});
  test::set_attr(node, "scan_output_axes", std::vector<std::int64_t>{1});
  onnx::GraphProto body;
  body.set_name("body");
  for (const char* name : {"sum_in", "column"}) {
    auto* in = body.add_input();
    in->set_name(name);
    in->mutable_type()->mutable_tensor_type()->set_elem_type(1);
  }
  auto add = [&](const std::string& op, std::vector<std::string> in, const std::string& out) {
    auto* n = body.add_node();
    n->set_op_type(op);
    n->set_name("body/" + out);
    for (const std::string& i : in) n->add_input(i);
    n->add_output(out);
  };
  add("Add", {"sum_in", "column"}, "sum_out");
  add("Mul", {"sum_out", "k"}, "scaled");  // k from the enclosing graph
  for (const char* name : {"sum_out", "scaled"}) {
    auto* out = body.add_output();
    out->set_name(name);
    out->mutable_type()->mutable_tensor_type()->set_elem_type(1);
  }
  set_graph(node, "body", body);
  b.node("Identity", {"y"}, {"y_out"}, "out");
  b.output("s").output("y_out");
  const std::vector<float> x{1, 2, 3, 4, 5, 6};
  std::vector<float> want_y(6), sum{0.5f, -1.0f};
  for (int i = 0; i < 3; ++i)  // iteration i reads column 2 - i, writes column i
    for (int r = 0; r < 2; ++r) {
      sum[r] += x[r * 3 + (2 - i)];
      want_y[r * 3 + i] = 2.0f * sum[r];
    }
  const TensorMap out =
      ReferenceExecutor(b.load()).run({{"x", Tensor::from_vector<float>({2, 3}, x)}});
  EXPECT_EQ(out.at("s").to_f32(), sum);
  EXPECT_EQ(out.at("y_out").to_f32(), want_y);
}
