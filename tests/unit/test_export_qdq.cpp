// Export: the QDQ model against the simulation it stands for (reloaded and run), its storage
// of 4-bit, per-group and 16-bit parameters, and the upgrade of older opsets.
#include <gtest/gtest.h>

#include "export_test_util.h"

using namespace qs;
using namespace export_test;

// ---------------------------------------------------------------------------------------------
// QDQ export at W8A8

TEST(ExportQdq, FoldsReluAndMatchesSimulation) {
  const Graph g = small_cnn();
  const QuantizedModel q = quantize(g, w8a8());
  ASSERT_EQ(q.activations.count("x"), 1u);
  ASSERT_EQ(q.activations.count("f"), 1u);
  const QdqModel m = export_qdq(g, q);
  EXPECT_EQ(m.opset, 13);
  EXPECT_EQ(m.folded_activations, 1);
  expect_qdq_equals_simulation(g, q, m, "W8A8 folded");
  for (std::int64_t bad : {12, 22}) {
    QdqExportOptions o;
    o.opset = bad;
    EXPECT_THROW(export_qdq(g, q, o), Error) << "opset " << bad;
  }

  const Proto p(m.onnx);
  EXPECT_EQ(p.opset(), 13);
  EXPECT_EQ(p.count("Relu"), 0);
  EXPECT_EQ(p.count("QuantizeLinear"), m.quantize_nodes);
  EXPECT_EQ(p.count("DequantizeLinear"), m.dequantize_nodes);
  // x, f, and the same grid as f before Flatten and before MaxPool.
  EXPECT_EQ(m.quantize_nodes, 4);
  // Those four, and the weights and biases of conv and fc.
  EXPECT_EQ(m.dequantize_nodes, 8);
  for (const auto& n : p.graph().node()) {
    EXPECT_TRUE(n.domain().empty() || n.domain() == "ai.onnx") << n.name() << " " << n.domain();
    for (const auto& a : n.attribute())
      EXPECT_NE(a.name().rfind("qs.", 0), 0u) << n.name() << " keeps " << a.name();
  }

  // MaxPool and Flatten read a Q -> DQ pair on f's grid; MaxPool's comes straight from Conv.
  const float f_scale = q.activations.at("f").scale;
  for (const std::string name : {"pool", "flatten"}) {
    const onnx::NodeProto* n = p.node(name);
    ASSERT_NE(n, nullptr) << name;
    const onnx::NodeProto* dq = p.made_by(n->input(0));
    ASSERT_NE(dq, nullptr) << name;
    ASSERT_EQ(dq->op_type(), "DequantizeLinear") << name;
    const onnx::NodeProto* ql = p.made_by(dq->input(0));
    ASSERT_NE(ql, nullptr) << name;
    ASSERT_EQ(ql->op_type(), "QuantizeLinear") << name;
    const onnx::TensorProto* s = p.initializer(ql->input(1));
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(raw_values<float>(*s).at(0), f_scale) << name;
    const onnx::TensorProto* zp = p.initializer(ql->input(2));
    ASSERT_NE(zp, nullptr);
    EXPECT_EQ(zp->data_type(), onnx::TensorProto::UINT8);
    EXPECT_EQ(int(raw_values<std::uint8_t>(*zp).at(0)), q.activations.at("f").zero_point);
    if (name == "pool") {
      const onnx::NodeProto* conv = p.made_by(ql->input(0));
      ASSERT_NE(conv, nullptr);
      EXPECT_EQ(conv->op_type(), "Conv") << "the Relu between Conv and MaxPool is not folded";
    }
  }

  // Weights: int8 codes as initializers, per-channel DequantizeLinear with axis.
  struct WeightCase {
    std::string node;
    std::int64_t axis;
    std::vector<std::int64_t> dims;
  };
  for (const WeightCase& c : {WeightCase{"conv", 0, {4, 2, 3, 3}}, WeightCase{"fc", 0, {5, 36}}}) {
    const onnx::NodeProto* n = p.node(c.node);
    ASSERT_NE(n, nullptr);
    const WeightQuantParams& wq = q.weights.at(c.node);
    const onnx::NodeProto* dq = p.made_by(n->input(1));
    ASSERT_NE(dq, nullptr) << c.node;
    ASSERT_EQ(dq->op_type(), "DequantizeLinear") << c.node;
    const onnx::AttributeProto* axis = attribute(*dq, "axis");
    ASSERT_NE(axis, nullptr) << c.node;
    EXPECT_EQ(axis->i(), c.axis) << c.node;
    const onnx::TensorProto* codes = p.initializer(dq->input(0));
    ASSERT_NE(codes, nullptr) << c.node;
    EXPECT_EQ(codes->data_type(), onnx::TensorProto::INT8) << c.node;
    EXPECT_EQ(dims_of(*codes), c.dims) << c.node;
    const std::vector<std::int8_t> stored = raw_values<std::int8_t>(*codes);
    EXPECT_EQ(std::vector<int>(stored.begin(), stored.end()), codes_in_weight_order(wq, false))
        << c.node;
    const onnx::TensorProto* scales = p.initializer(dq->input(1));
    ASSERT_NE(scales, nullptr);
    EXPECT_EQ(raw_values<float>(*scales), wq.scales) << c.node;

    // Bias: int32 codes on scale = x scale x weight scale, read by a DequantizeLinear.
    const onnx::NodeProto* bdq = p.made_by(n->input(2));
    ASSERT_NE(bdq, nullptr) << c.node;
    ASSERT_EQ(bdq->op_type(), "DequantizeLinear") << c.node;
    const onnx::TensorProto* bcodes = p.initializer(bdq->input(0));
    ASSERT_NE(bcodes, nullptr);
    EXPECT_EQ(bcodes->data_type(), onnx::TensorProto::INT32);
    const std::string x_name = c.node == "conv" ? "x" : "f";
    const std::string b_name = c.node == "conv" ? "b" : "fb";
    const float x_scale = q.activations.at(x_name).scale;
    const std::vector<float> bias = g.initializers.at(b_name).to_f32();
    const std::vector<std::int32_t> got = raw_values<std::int32_t>(*bcodes);
    ASSERT_EQ(got.size(), bias.size());
    for (std::size_t r = 0; r < bias.size(); ++r)
      EXPECT_EQ(got[r], static_cast<std::int32_t>(
                            std::nearbyint(double(bias[r]) / double(x_scale * wq.scales[r]))))
          << c.node << " bias " << r;
  }
  // No float copy of the weights stays in the file.
  EXPECT_EQ(p.initializer("w"), nullptr);
  EXPECT_EQ(p.initializer("fw"), nullptr);
  for (const auto& t : p.graph().initializer()) {
    if (t.data_type() == onnx::TensorProto::FLOAT) {
      EXPECT_LE(t.raw_data().size(), 5 * sizeof(float)) << t.name() << " looks like a weight";
    }
  }
}

TEST(ExportQdq, ReluWithAnotherReaderIsKept) {
  for (ReluReaders readers : {ReluReaders::also_graph_output, ReluReaders::also_add}) {
    const std::string what =
        readers == ReluReaders::also_add ? "relu read by Add" : "relu is a graph output";
    const Graph g = small_cnn(readers);
    const QuantizedModel q = quantize(g, w8a8());
    const QdqModel m = export_qdq(g, q);
    EXPECT_EQ(m.folded_activations, 0) << what;
    const Proto p(m.onnx);
    EXPECT_EQ(p.count("Relu"), 1) << what;
    const onnx::NodeProto* pool = p.node("pool");
    ASSERT_NE(pool, nullptr);
    EXPECT_EQ(pool->input(0), "r") << what;
    const onnx::NodeProto* relu = p.made_by("r");
    ASSERT_NE(relu, nullptr) << what;
    EXPECT_EQ(relu->op_type(), "Relu") << what;
    expect_qdq_equals_simulation(g, q, m, what);
  }
}

TEST(ExportQdq, GemmWithoutTransposeUsesAxisOne) {
  const Graph g = small_cnn(ReluReaders::only_maxpool, /*trans_b=*/false);
  const QuantizedModel q = quantize(g, w8a8());
  const QdqModel m = export_qdq(g, q);
  const Proto p(m.onnx);
  const onnx::NodeProto* fc = p.node("fc");
  ASSERT_NE(fc, nullptr);
  const onnx::NodeProto* dq = p.made_by(fc->input(1));
  ASSERT_NE(dq, nullptr);
  ASSERT_NE(attribute(*dq, "axis"), nullptr);
  EXPECT_EQ(attribute(*dq, "axis")->i(), 1);
  const onnx::TensorProto* codes = p.initializer(dq->input(0));
  ASSERT_NE(codes, nullptr);
  EXPECT_EQ(dims_of(*codes), (std::vector<std::int64_t>{36, 5}));
  const std::vector<std::int8_t> stored = raw_values<std::int8_t>(*codes);
  EXPECT_EQ(std::vector<int>(stored.begin(), stored.end()),
            codes_in_weight_order(q.weights.at("fc"), true));
  expect_qdq_equals_simulation(g, q, m, "W8A8 Gemm transB=0");
}

// ---------------------------------------------------------------------------------------------
// Opsets

TEST(ExportQdq, FourBitWeightsNeedOpset21OrInt8Storage) {
  const Graph g = small_cnn();
  QuantConfig c = w8a8();
  c.defaults.weight_bits = 4;
  const QuantizedModel q = quantize(g, c);

  const QdqModel m21 = export_qdq(g, q);
  EXPECT_EQ(m21.opset, 21);
  const Proto p21(m21.onnx);
  EXPECT_EQ(p21.opset(), 21);
  EXPECT_EQ(p21.model.ir_version(), 10);
  for (const std::string node : {"conv", "fc"}) {
    const onnx::NodeProto* n = p21.node(node);
    ASSERT_NE(n, nullptr);
    const onnx::NodeProto* dq = p21.made_by(n->input(1));
    ASSERT_NE(dq, nullptr);
    const onnx::TensorProto* codes = p21.initializer(dq->input(0));
    ASSERT_NE(codes, nullptr);
    EXPECT_EQ(codes->data_type(), 22) << node;  // INT4
    const WeightQuantParams& wq = q.weights.at(node);
    const std::size_t n_codes = wq.codes.size();
    EXPECT_EQ(codes->raw_data().size(), (n_codes + 1) / 2) << node;
    EXPECT_EQ(unpack_int4(*codes, n_codes), codes_in_weight_order(wq, false)) << node;
    const onnx::TensorProto* zp = p21.initializer(dq->input(2));
    ASSERT_NE(zp, nullptr);
    EXPECT_EQ(zp->data_type(), 22) << node << " zero point";
  }
  for (const std::string& note : m21.notes)
    EXPECT_EQ(note.find("stored as int8"), std::string::npos) << note;

  QdqExportOptions o17;
  o17.opset = 17;
  const QdqModel m17 = export_qdq(g, q, o17);
  EXPECT_EQ(m17.opset, 17);
  const Proto p17(m17.onnx);
  EXPECT_EQ(p17.opset(), 17);
  for (const auto& t : p17.graph().initializer()) EXPECT_NE(t.data_type(), 22) << t.name();
  bool int8_note = false;
  for (const std::string& note : m17.notes)
    int8_note = int8_note || note.find("int8") != std::string::npos;
  EXPECT_TRUE(int8_note) << "no note says the 4-bit weights are stored as int8";
  // Stored in int8, the engine reads it back: it computes the simulation.
  expect_qdq_equals_simulation(g, q, m17, "W4A8 at opset 17");
}

TEST(ExportQdq, PerGroupWeightsNeedOpset21) {
  // conv: 18 inputs per output, fc: 36. Groups of 8 leave a short last group (2 and 4).
  for (const auto& [trans_b, group] : {std::pair{true, 6}, {false, 6}, {true, 8}, {false, 8}}) {
    const Graph g = small_cnn(ReluReaders::only_maxpool, trans_b);
    QuantConfig c = w8a8();
    c.defaults.granularity = QuantGranularity::per_group;
    c.defaults.group_size = group;
    const QuantizedModel q = quantize(g, c);
    ASSERT_EQ(q.weights.at("fc").groups_per_row, (36 + group - 1) / group);
    ASSERT_EQ(q.weights.at("conv").groups_per_row, (18 + group - 1) / group);

    QdqExportOptions o17;
    o17.opset = 17;
    try {
      export_qdq(g, q, o17);
      ADD_FAILURE() << "per-group weights exported at opset 17";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("opset 21"), std::string::npos) << e.what();
    }

    // At opset 21 (the default for them) 8-bit blocked weights read back, and compute the
    // simulation.
    const QdqModel m = export_qdq(g, q);
    EXPECT_EQ(m.opset, 21);
    const Proto p(m.onnx);
    const onnx::NodeProto* fc = p.node("fc");
    ASSERT_NE(fc, nullptr);
    const onnx::NodeProto* dq = p.made_by(fc->input(1));
    ASSERT_NE(dq, nullptr);
    ASSERT_NE(attribute(*dq, "block_size"), nullptr);
    EXPECT_EQ(attribute(*dq, "block_size")->i(), group);
    EXPECT_EQ(attribute(*dq, "axis")->i(), trans_b ? 1 : 0);
    expect_qdq_equals_simulation(
        g, q, m,
        "per-group W8A8, groups of " + std::to_string(group) + ", transB=" + (trans_b ? "1" : "0"));
  }
}

TEST(ExportQdq, SixteenBitActivationsUseUint16AtOpset21) {
  const Graph g = small_cnn();
  QuantConfig c = w8a8();
  c.defaults.act_bits = 16;
  const QuantizedModel q = quantize(g, c);
  const QdqModel m = export_qdq(g, q);
  EXPECT_EQ(m.opset, 21);
  const Proto p(m.onnx);
  int checked = 0;
  for (const auto& n : p.graph().node()) {
    if (n.op_type() != "QuantizeLinear" || n.input(0) != "x") continue;
    const onnx::TensorProto* zp = p.initializer(n.input(2));
    ASSERT_NE(zp, nullptr);
    EXPECT_EQ(zp->data_type(), onnx::TensorProto::UINT16);
    EXPECT_EQ(int(raw_values<std::uint16_t>(*zp).at(0)), q.activations.at("x").zero_point);
    ++checked;
  }
  EXPECT_EQ(checked, 1);
  QdqExportOptions o17;
  o17.opset = 17;
  EXPECT_THROW(export_qdq(g, q, o17), Error);
}

// Other weight and activation schemes: the reloaded file computes the simulation.
TEST(ExportQdq, OtherSchemesMatchSimulation) {
  const Graph g = small_cnn();
  struct Case {
    std::string name;
    QuantConfig config;
    std::int64_t opset;
  };
  std::vector<Case> cases;
  {
    QuantConfig c = w8a8();
    c.defaults.granularity = QuantGranularity::per_tensor;
    cases.push_back({"per-tensor W8A8", c, 0});
  }
  {
    QuantConfig c = w8a8();
    c.defaults.weight_symmetric = false;
    cases.push_back({"asymmetric weights W8A8", c, 0});
  }
  {
    QuantConfig c = w8a8();
    c.defaults.act_bits = 0;
    cases.push_back({"weight-only W8", c, 0});
  }
  {
    QuantConfig c = w8a8();
    c.defaults.act_bits = 0;
    c.defaults.weight_bits = 4;
    c.defaults.weight_symmetric = false;
    cases.push_back({"weight-only asymmetric W4 at opset 17", c, 17});
  }
  {
    QuantConfig c = w8a8();
    c.defaults.weight_bits = 2;
    cases.push_back({"W2A8 at opset 13", c, 13});
  }
  {
    QuantConfig c = w8a8();
    c.overrides["conv"] = parse_override("float");
    cases.push_back({"conv left in float", c, 0});
  }
  for (const Case& c : cases) {
    const QuantizedModel q = quantize(g, c.config);
    QdqExportOptions o;
    o.opset = c.opset;
    const QdqModel m = export_qdq(g, q, o);
    if (c.opset) {
      EXPECT_EQ(m.opset, c.opset) << c.name;
    }
    const Proto p(m.onnx);
    EXPECT_EQ(p.count("QuantizeLinear"), m.quantize_nodes) << c.name;
    EXPECT_EQ(p.count("DequantizeLinear"), m.dequantize_nodes) << c.name;
    expect_qdq_equals_simulation(g, q, m, c.name);
  }
}

// Symmetric activations use signed codes -127..127; ONNX's int8 QuantizeLinear also has -128, so
// the export says so, and inside the calibrated range the two agree.
TEST(ExportQdq, SymmetricActivationsAgreeInsideTheCalibratedRange) {
  const Graph g = small_cnn();
  QuantConfig c = w8a8();
  c.defaults.act_symmetric = true;
  const QuantizedModel q = quantize(g, c);
  ASSERT_TRUE(q.activations.at("x").is_signed);
  const QdqModel m = export_qdq(g, q);
  EXPECT_EQ(m.folded_activations, 0);  // the signed grid reaches below 0: Relu stays
  bool note = false;
  for (const std::string& n : m.notes) note = note || n.find("symmetric grid") != std::string::npos;
  EXPECT_TRUE(note);
  // The calibration samples themselves lie inside the (min-max) calibrated ranges.
  qs::test::RandomDataset data(32, {2, 6, 6}, 7);
  const TensorMap in = {{"x", data.read(0, 32).inputs}};
  const TensorMap expected = run_cpu_ref(apply_quantization(g, q), in);
  LoadOptions lo;
  lo.fold_constants = false;
  expect_outputs_match(expected, run_cpu_ref(load_model_from_bytes(m.onnx, "", "s.onnx", lo), in),
                       1e-5, "symmetric activations");
}

// x -> ConvTranspose(2 -> 3, 3x3) -> Clip(0, 6) -> Reshape([-1, 192]) -> MatMul(W[192, 5]) -> y
Graph transpose_matmul() {
  ModelBuilder b(13);
  b.input("x", {-1, 2, 6, 6});
  b.initializer("tw", {2, 3, 3, 3}, random_values(54, 12, 0.2f));
  b.initializer("tb", {3}, random_values(3, 13, 0.1f));
  b.initializer("lo", {}, {0.0f});
  b.initializer("hi", {}, {6.0f});
  b.initializer_i64("shape", {2}, {-1, 192});
  b.initializer("mw", {192, 5}, random_values(960, 14, 0.1f));
  b.node("ConvTranspose", {"x", "tw", "tb"}, {"t"}, "deconv");
  b.node("Clip", {"t", "lo", "hi"}, {"c"}, "clip");
  b.node("Reshape", {"c", "shape"}, {"f"}, "reshape");
  b.node("MatMul", {"f", "mw"}, {"y"}, "mm");
  b.output("y");
  return b.load();
}

TEST(ExportQdq, ConvTransposeClipReshapeMatMul) {
  const Graph g = transpose_matmul();
  const QuantizedModel q = quantize(g, w8a8());
  ASSERT_LT(q.activations.at("f").hi, 6.0f) << "the Clip's upper bound is reached; a weak test";
  const QdqModel m = export_qdq(g, q);
  EXPECT_EQ(m.folded_activations, 1);
  const Proto p(m.onnx);
  EXPECT_EQ(p.count("Clip"), 0);
  const onnx::NodeProto* reshape = p.node("reshape");
  ASSERT_NE(reshape, nullptr);
  const onnx::NodeProto* dq = p.made_by(reshape->input(0));
  ASSERT_NE(dq, nullptr);
  EXPECT_EQ(dq->op_type(), "DequantizeLinear");
  // ConvTranspose weights [C, M, k, k] are per output channel along axis 1; MatMul's [K, N] too.
  for (const std::string node : {"deconv", "mm"}) {
    const onnx::NodeProto* n = p.node(node);
    ASSERT_NE(n, nullptr);
    const onnx::NodeProto* w = p.made_by(n->input(1));
    ASSERT_NE(w, nullptr) << node;
    ASSERT_EQ(w->op_type(), "DequantizeLinear") << node;
    ASSERT_NE(attribute(*w, "axis"), nullptr) << node;
    EXPECT_EQ(attribute(*w, "axis")->i(), 1) << node;
  }
  expect_qdq_equals_simulation(g, q, m, "ConvTranspose/Clip/Reshape/MatMul");

  // MatMul per group (blocked along K, axis 0 of B) next to a per-channel ConvTranspose.
  QuantConfig c = w8a8();
  c.overrides["mm"].granularity = QuantGranularity::per_group;
  c.overrides["mm"].group_size = 16;
  const QuantizedModel qg = quantize(g, c);
  const QdqModel mg = export_qdq(g, qg);
  EXPECT_EQ(mg.opset, 21);
  const Proto pg(mg.onnx);
  const onnx::NodeProto* w = pg.made_by(pg.node("mm")->input(1));
  ASSERT_NE(w, nullptr);
  ASSERT_NE(attribute(*w, "block_size"), nullptr);
  EXPECT_EQ(attribute(*w, "block_size")->i(), 16);
  EXPECT_EQ(attribute(*w, "axis")->i(), 0);
  expect_qdq_equals_simulation(g, qg, mg, "per-group MatMul");
}

TEST(ExportOpsetUpgrade, ReduceMeanAxesMoveToAnInput) {
  ModelBuilder b(13);
  b.input("x", {2, 3, 4});
  auto& n = b.node("ReduceMean", {"x"}, {"y"}, "mean");
  qs::test::set_attr(n, "axes", std::vector<std::int64_t>{1, -1});
  qs::test::set_attr(n, "keepdims", std::int64_t{0});
  b.output("y");
  const Graph g13 = b.load();
  ASSERT_EQ(g13.opset, 13);
  Tensor x(DType::f32, {2, 3, 4});
  const std::vector<float> xv = random_values(24, 9, 1.0f);
  std::copy(xv.begin(), xv.end(), x.data<float>());
  const TensorMap before = run_cpu_ref(g13, {{"x", x}});

  Graph g18 = g13;
  exporter::upgrade_opset(g18, 18);
  EXPECT_EQ(g18.opset, 18);
  const Node* mean = g18.find_node("mean");
  ASSERT_NE(mean, nullptr);
  EXPECT_FALSE(mean->has_attr("axes"));
  ASSERT_TRUE(mean->has_input(1));
  auto it = g18.initializers.find(mean->inputs[1]);
  ASSERT_NE(it, g18.initializers.end());
  EXPECT_EQ(it->second.dtype(), DType::i64);
  EXPECT_EQ(it->second.to_i64(), (std::vector<std::int64_t>{1, -1}));
  const TensorMap after = run_cpu_ref(g18, {{"x", x}});
  ASSERT_EQ(after.at("y").shape(), (Shape{2}));
  EXPECT_EQ(after.at("y").to_f32(), before.at("y").to_f32());
  // Expected values computed here: the mean over axes 1 and 2.
  for (int i = 0; i < 2; ++i) {
    double sum = 0;
    for (int k = 0; k < 12; ++k) sum += xv[static_cast<std::size_t>(i * 12 + k)];
    EXPECT_NEAR(after.at("y").to_f32()[static_cast<std::size_t>(i)], sum / 12, 1e-5);
  }
  // Written at opset 18, the file loads and computes the same.
  OnnxWriteOptions w;
  w.opset = 18;
  const Graph reloaded = load_model_from_bytes(write_onnx(g18, w), "", "up.onnx");
  EXPECT_EQ(reloaded.opset, 18);
  EXPECT_EQ(run_cpu_ref(reloaded, {{"x", x}}).at("y").to_f32(), before.at("y").to_f32());

  // Downgrading is refused; upgrading to the same opset changes nothing.
  Graph down = g13;
  EXPECT_THROW(exporter::upgrade_opset(down, 12), Error);
  Graph same = g13;
  exporter::upgrade_opset(same, 13);
  ASSERT_NE(same.find_node("mean"), nullptr);
  EXPECT_TRUE(same.find_node("mean")->has_attr("axes"));
}

TEST(ExportOpsetUpgrade, ClipBoundsMoveToInputsAndChangedOpsAreRefused) {
  ModelBuilder b(10);
  b.input("x", {8});
  auto& n = b.node("Clip", {"x"}, {"y"}, "clip");
  qs::test::set_attr(n, "min", -0.25f);
  qs::test::set_attr(n, "max", 0.5f);
  b.output("y");
  const Graph g10 = b.load();
  Tensor x(DType::f32, {8});
  const std::vector<float> xv = random_values(8, 4, 1.0f);
  std::copy(xv.begin(), xv.end(), x.data<float>());
  Graph g13 = g10;
  exporter::upgrade_opset(g13, 13);
  const Node* clip = g13.find_node("clip");
  ASSERT_NE(clip, nullptr);
  EXPECT_FALSE(clip->has_attr("min"));
  EXPECT_FALSE(clip->has_attr("max"));
  ASSERT_EQ(clip->inputs.size(), 3u);
  const std::vector<float> y = run_cpu_ref(g13, {{"x", x}}).at("y").to_f32();
  for (std::size_t i = 0; i < xv.size(); ++i) EXPECT_EQ(y[i], std::clamp(xv[i], -0.25f, 0.5f)) << i;

  ModelBuilder d(10);
  d.input("x", {8});
  d.node("Dropout", {"x"}, {"y"}, "drop");
  d.output("y");
  Graph dropout = d.load();
  try {
    exporter::upgrade_opset(dropout, 13);
    ADD_FAILURE() << "Dropout carried across opset 12 without conversion";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("drop"), std::string::npos) << e.what();
  }
}

// Split's sizes and Squeeze/Unsqueeze's axes became inputs at 13, and Split needs num_outputs
// from 18 when it has no sizes: carried from 11 to 18, the graph computes the same.
TEST(ExportOpsetUpgrade, SplitSqueezeUnsqueezeFrom11To18) {
  ModelBuilder b(11);
  b.input("x", {2, 6, 1});
  auto& split = b.node("Split", {"x"}, {"a", "b"}, "split_sizes");
  qs::test::set_attr(split, "axis", std::int64_t{1});
  qs::test::set_attr(split, "split", std::vector<std::int64_t>{2, 4});
  b.node("Split", {"b"}, {"c", "d"}, "split_even");  // axis 0: two halves
  auto& sq = b.node("Squeeze", {"a"}, {"e"}, "squeeze");
  qs::test::set_attr(sq, "axes", std::vector<std::int64_t>{2});
  auto& usq = b.node("Unsqueeze", {"e"}, {"f"}, "unsqueeze");
  qs::test::set_attr(usq, "axes", std::vector<std::int64_t>{0});
  b.output("f");
  b.output("c");
  b.output("d");
  const Graph g11 = b.load();
  Tensor x(DType::f32, {2, 6, 1});
  for (int i = 0; i < 12; ++i) x.data<float>()[i] = float(i);
  const TensorMap before = run_cpu_ref(g11, {{"x", x}});
  ASSERT_EQ(before.at("f").shape(), (Shape{1, 2, 2}));
  EXPECT_EQ(before.at("f").to_f32(), (std::vector<float>{0, 1, 6, 7}));

  Graph g18 = g11;
  exporter::upgrade_opset(g18, 18);
  for (const std::string name : {"split_sizes", "squeeze", "unsqueeze"}) {
    const Node* n = g18.find_node(name);
    ASSERT_NE(n, nullptr);
    EXPECT_FALSE(n->has_attr("split") || n->has_attr("axes")) << name;
    ASSERT_TRUE(n->has_input(1)) << name;
    EXPECT_EQ(g18.initializers.at(n->inputs[1]).dtype(), DType::i64) << name;
  }
  const Node* even = g18.find_node("split_even");
  ASSERT_NE(even, nullptr);
  EXPECT_EQ(even->attr_int("num_outputs", 0), 2);
  OnnxWriteOptions w;
  w.opset = 18;
  const Graph reloaded = load_model_from_bytes(write_onnx(g18, w), "", "split.onnx");
  for (const Graph* g : {static_cast<const Graph*>(&g18), &reloaded}) {
    const TensorMap after = run_cpu_ref(*g, {{"x", x}});
    for (const std::string out : {"f", "c", "d"}) {
      EXPECT_EQ(after.at(out).shape(), before.at(out).shape()) << out;
      EXPECT_EQ(after.at(out).to_f32(), before.at(out).to_f32()) << out;
    }
  }
}

// Before opset 13, Softmax coerces its input to 2-D at `axis` (default 1); from 13 it normalizes
// along that one axis (default -1). Carried across 13 unchanged, a Softmax over a rank-3 tensor
// computes something else: the upgrade must convert it or refuse it by name.
TEST(ExportOpsetUpgrade, SoftmaxBeforeOpset13KeepsItsMeaningOrIsRefused) {
  ModelBuilder b(11);
  b.input("x", {2, 3, 4});
  auto& n = b.node("Softmax", {"x"}, {"y"}, "softmax");
  qs::test::set_attr(n, "axis", std::int64_t{1});
  b.output("y");
  const Graph g11 = b.load();
  Tensor x(DType::f32, {2, 3, 4});
  const std::vector<float> xv = random_values(24, 17, 1.0f);
  std::copy(xv.begin(), xv.end(), x.data<float>());
  const TensorMap before = run_cpu_ref(g11, {{"x", x}});
  // Opset 11 semantics, computed here: per sample, one softmax over all 12 values.
  for (int i = 0; i < 2; ++i) {
    double sum = 0;
    for (int k = 0; k < 12; ++k) sum += std::exp(double(xv[static_cast<std::size_t>(i * 12 + k)]));
    for (int k = 0; k < 12; ++k) {
      const auto at = static_cast<std::size_t>(i * 12 + k);
      ASSERT_NEAR(before.at("y").to_f32()[at], std::exp(double(xv[at])) / sum, 1e-6);
    }
  }
  // What users meet: an opset-11 model with such a Softmax, exported (always at opset >= 13).
  {
    ModelBuilder mb(11);
    mb.input("x", {-1, 2, 6, 6});
    mb.initializer("w", {4, 2, 3, 3}, random_values(72, 1));
    mb.initializer("b", {4}, random_values(4, 2));
    mb.node("Conv", {"x", "w", "b"}, {"c"}, "conv");
    auto& sm = mb.node("Softmax", {"c"}, {"y"}, "softmax");
    qs::test::set_attr(sm, "axis", std::int64_t{1});
    mb.output("y");
    const Graph model = mb.load();
    const QuantizedModel q = quantize(model, w8a8());
    bool refused = false;
    QdqModel m;
    try {
      m = export_qdq(model, q);
    } catch (const Error& e) {
      refused = true;
      EXPECT_NE(std::string(e.what()).find("softmax"), std::string::npos) << e.what();
    }
    if (!refused) {
      EXPECT_EQ(m.opset, 13);
      const TensorMap in = sample_inputs();
      LoadOptions lo;
      lo.fold_constants = false;
      expect_outputs_match(run_cpu_ref(apply_quantization(model, q), in),
                           run_cpu_ref(load_model_from_bytes(m.onnx, "", "sm.onnx", lo), in), 1e-5,
                           "opset-11 Conv -> Softmax(axis=1) exported at opset 13");
    }
  }
  Graph g13 = g11;
  try {
    exporter::upgrade_opset(g13, 13);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("softmax"), std::string::npos) << e.what();
    return;
  }
  EXPECT_EQ(run_cpu_ref(g13, {{"x", x}}).at("y").to_f32(), before.at("y").to_f32())
      << "Softmax(axis=1) of an opset-11 model changed meaning when carried to opset 13";
}
