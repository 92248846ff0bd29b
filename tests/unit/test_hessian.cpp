// Hessian traces (analysis/hessian.cpp) and the held pieces they rest on
// (runtime/autograd/pieces.cpp).
//
// The traces are checked against the exact Hessian of a two-layer network, formed here in
// double from its closed form: for z = W2 h + b2, h = act(W1 x + b1), p = softmax(z),
//   tr(H_W2) = 1/N sum_n sum_c p_c (1 - p_c) |h_n|^2
//   tr(H_W1) = 1/N sum_n |x_n|^2 sum_i [act'(a_i)^2 (W2^T S W2)_ii + act''(a_i) (W2^T (p - y))_i]
// with S = diag(p) - p p^T; y is the one-hot label for cross-entropy, and p itself for the KL
// divergence from the float output (whose gradient vanishes at the float weights).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "model_builder.h"
#include "quant/layer_stats.h"
#include "quantscope/analysis.h"
#include "quantscope/autograd.h"
#include "quantscope/error.h"

using namespace qs;

namespace {

Tensor normal(const Shape& shape, std::mt19937& rng, float sd = 1.0f) {
  std::normal_distribution<float> d(0.0f, sd);
  Tensor t(DType::f32, shape);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

class MemoryDataset : public Dataset {
 public:
  MemoryDataset(Tensor x, std::vector<std::int64_t> labels)
      : x_(std::move(x)), labels_(std::move(labels)) {}
  std::int64_t size() const override { return x_.dim(0); }
  bool has_labels() const override { return !labels_.empty(); }
  Shape sample_shape() const override { return Shape(x_.shape().begin() + 1, x_.shape().end()); }
  std::string describe() const override { return "memory"; }
  Batch read(std::int64_t first, std::int64_t count) override {
    Shape s = x_.shape();
    s[0] = count;
    Tensor t(DType::f32, s);
    const std::int64_t per = x_.numel() / x_.dim(0);
    std::copy(x_.data<float>() + first * per, x_.data<float>() + (first + count) * per,
              t.data<float>());
    std::vector<std::int64_t> l;
    if (!labels_.empty()) l.assign(labels_.begin() + first, labels_.begin() + first + count);
    return {t, l};
  }

 private:
  Tensor x_;
  std::vector<std::int64_t> labels_;
};

Node& add_node(Graph& g, const std::string& op, std::vector<std::string> in,
               std::vector<std::string> out) {
  Node n;
  n.name = op + "_" + std::to_string(g.nodes.size());
  n.op_type = op;
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  g.nodes.push_back(std::move(n));
  return g.nodes.back();
}

void add_input(Graph& g, const std::string& name, const Shape& shape) {
  ValueInfo vi;
  vi.name = name;
  vi.dtype = DType::f32;
  vi.shape = shape;
  vi.has_shape = true;
  g.inputs.push_back(vi);
}

void add_output(Graph& g, const std::string& name) {
  ValueInfo vi;
  vi.name = name;
  vi.dtype = DType::f32;
  g.outputs.push_back(vi);
}

constexpr std::int64_t kIn = 6, kHidden = 5, kClasses = 4;

// x[N,6] -> Gemm(W1[5,6]^T, b1) -> act -> Gemm(W2[4,5]^T, b2) -> logits[N,4].
Graph two_layer(const std::string& act, std::mt19937& rng) {
  Graph g;
  g.opset = 13;
  add_input(g, "x", {-1, kIn});
  g.initializers["w1"] = normal({kHidden, kIn}, rng, 0.6f);
  g.initializers["b1"] = normal({kHidden}, rng, 0.3f);
  g.initializers["w2"] = normal({kClasses, kHidden}, rng, 0.8f);
  g.initializers["b2"] = normal({kClasses}, rng, 0.3f);
  add_node(g, "Gemm", {"x", "w1", "b1"}, {"a"}).attributes["transB"] = {std::int64_t{1}};
  add_node(g, act, {"a"}, {"h"});
  add_node(g, "Gemm", {"h", "w2", "b2"}, {"z"}).attributes["transB"] = {std::int64_t{1}};
  add_output(g, "z");
  return g;
}

struct Exact {
  double w1 = 0, w2 = 0, layerwise1 = 0, layerwise2 = 0;
};

Exact exact_traces(const Graph& g, const Tensor& x, const std::vector<std::int64_t>& labels,
                   const std::string& act) {
  const float* w1 = g.initializers.at("w1").data<float>();
  const float* b1 = g.initializers.at("b1").data<float>();
  const float* w2 = g.initializers.at("w2").data<float>();
  const float* b2 = g.initializers.at("b2").data<float>();
  const std::int64_t n = x.dim(0);
  Exact e;
  for (std::int64_t s = 0; s < n; ++s) {
    const float* xs = x.data<float>() + s * kIn;
    double a[kHidden], h[kHidden], d1[kHidden], d2[kHidden], z[kClasses], p[kClasses];
    double x2 = 0, h2 = 0;
    for (int k = 0; k < kIn; ++k) x2 += double(xs[k]) * xs[k];
    for (int i = 0; i < kHidden; ++i) {
      a[i] = b1[i];
      for (int k = 0; k < kIn; ++k) a[i] += double(w1[i * kIn + k]) * xs[k];
      if (act == "Tanh") {
        h[i] = std::tanh(a[i]);
        d1[i] = 1 - h[i] * h[i];
        d2[i] = -2 * h[i] * d1[i];
      } else {  // Relu: autograd's convention, no curvature at the kink
        h[i] = a[i] > 0 ? a[i] : 0;
        d1[i] = a[i] > 0 ? 1 : 0;
        d2[i] = 0;
      }
      h2 += h[i] * h[i];
    }
    double m = -1e300, sum = 0;
    for (int c = 0; c < kClasses; ++c) {
      z[c] = b2[c];
      for (int i = 0; i < kHidden; ++i) z[c] += double(w2[c * kHidden + i]) * h[i];
      m = std::max(m, z[c]);
    }
    for (int c = 0; c < kClasses; ++c) sum += std::exp(z[c] - m);
    for (int c = 0; c < kClasses; ++c) p[c] = std::exp(z[c] - m) / sum;
    for (int c = 0; c < kClasses; ++c) e.w2 += p[c] * (1 - p[c]) * h2;
    for (int i = 0; i < kHidden; ++i) {
      double sw = 0, r = 0;  // (W2^T S W2)_ii and (W2^T (p - y))_i
      for (int c = 0; c < kClasses; ++c) {
        for (int c2 = 0; c2 < kClasses; ++c2)
          sw += w2[c * kHidden + i] * ((c == c2 ? p[c] : 0) - p[c] * p[c2]) * w2[c2 * kHidden + i];
        const double y = labels.empty() ? p[c] : (labels[s] == c ? 1.0 : 0.0);
        r += w2[c * kHidden + i] * (p[c] - y);
      }
      e.w1 += x2 * (d1[i] * d1[i] * sw + d2[i] * r);
    }
    e.layerwise1 += 2 * x2;
    e.layerwise2 += 2 * h2;
  }
  e.w1 /= double(n);
  e.w2 /= double(n);
  e.layerwise1 *= double(kHidden) / double(n);  // per output row, summed over the rows
  e.layerwise2 *= double(kClasses) / double(n);
  return e;
}

struct Case {
  const char* act;
  bool labels;
};

class HessianExact : public testing::TestWithParam<Case> {};

TEST_P(HessianExact, EstimateLiesWithinItsStandardErrorOfTheExactTrace) {
  const Case c = GetParam();
  std::mt19937 rng(71);
  const Graph g = two_layer(c.act, rng);
  const std::int64_t n = 48;
  const Tensor x = normal({n, kIn}, rng);
  std::vector<std::int64_t> labels;
  if (c.labels)
    for (std::int64_t i = 0; i < n; ++i) labels.push_back(std::int64_t(rng() % kClasses));
  MemoryDataset data(x, labels);
  HessianOptions o;
  o.max_probes = o.min_probes = 400;
  o.batch = 20;  // three batches, the last one short
  const HessianResult r = hessian_traces(g, data, o);
  const Exact e = exact_traces(g, x, labels, c.act);

  EXPECT_EQ(r.loss, c.labels ? "cross-entropy" : "kl-to-float");
  EXPECT_EQ(r.probes, 400);
  EXPECT_FALSE(r.converged);
  EXPECT_EQ(r.samples, n);
  ASSERT_EQ(r.layers.size(), 2u);
  const double exact[2] = {e.w1, e.w2};
  const double layerwise[2] = {e.layerwise1, e.layerwise2};
  for (int l = 0; l < 2; ++l) {
    const LayerHessian& h = r.layers[static_cast<std::size_t>(l)];
    SCOPED_TRACE(h.name);
    EXPECT_EQ(h.weight, l == 0 ? "w1" : "w2");
    EXPECT_EQ(h.params, l == 0 ? kHidden * kIn : kClasses * kHidden);
    // Three standard errors (a 0.3% chance for a correct estimator; the seed is fixed), and the
    // band must be narrow enough to mean something.
    EXPECT_NEAR(h.trace, exact[l], 3 * h.std_error);
    EXPECT_LT(h.std_error, 0.15 * std::abs(exact[l]));
    EXPECT_NEAR(h.layerwise_trace, layerwise[l], 1e-4 * layerwise[l]);
  }
}

INSTANTIATE_TEST_SUITE_P(Hessian, HessianExact,
                         testing::Values(Case{"Tanh", true}, Case{"Tanh", false},
                                         Case{"Relu", true}, Case{"Relu", false}),
                         [](const testing::TestParamInfo<Case>& p) {
                           return std::string(p.param.act) + (p.param.labels ? "_CE" : "_KL");
                         });

TEST(Hessian, ThreadsDoNotChangeTheResultAndTheToleranceStopsEarly) {
  std::mt19937 rng(72);
  const Graph g = two_layer("Tanh", rng);
  MemoryDataset data(normal({24, kIn}, rng), {});
  HessianOptions o;
  o.max_probes = o.min_probes = 12;
  o.threads = 1;
  const HessianResult one = hessian_traces(g, data, o);
  o.threads = 3;
  const HessianResult three = hessian_traces(g, data, o);
  for (std::size_t l = 0; l < 2; ++l) {
    EXPECT_EQ(one.layers[l].trace, three.layers[l].trace);
    EXPECT_EQ(one.layers[l].std_error, three.layers[l].std_error);
  }
  o.seed = 2;
  EXPECT_NE(hessian_traces(g, data, o).layers[0].trace, one.layers[0].trace);

  o.max_probes = 500;
  o.min_probes = 10;
  o.tol = 0.02;
  const HessianResult early = hessian_traces(g, data, o);
  EXPECT_TRUE(early.converged);
  EXPECT_GE(early.probes, 10);
  EXPECT_LT(early.probes, 500);
}

TEST(Hessian, BadRequestsAreErrors) {
  std::mt19937 rng(73);
  const Graph g = two_layer("Tanh", rng);
  MemoryDataset data(normal({4, kIn}, rng), {});
  HessianOptions o;
  o.max_probes = 0;
  EXPECT_THROW(hessian_traces(g, data, o), Error);
  o = {};
  o.min_probes = 300;
  EXPECT_THROW(hessian_traces(g, data, o), Error);
  o = {};
  o.step = 0;
  EXPECT_THROW(hessian_traces(g, data, o), Error);
  MemoryDataset empty(Tensor(DType::f32, {0, kIn}), {});
  EXPECT_THROW(hessian_traces(g, empty, {}), Error);
  Graph no_weights;
  no_weights.opset = 13;
  add_input(no_weights, "x", {-1, kIn});
  add_node(no_weights, "Relu", {"x"}, {"y"});
  add_output(no_weights, "y");
  EXPECT_THROW(hessian_traces(no_weights, data, {}), Error);
}

// ---------------------------------------------------------------------------------------------
// Held pieces. x[4,2,6,6] -> Conv 3x3 (4) -> Relu -> MaxPool 2 -> Conv 1x1 -> LeakyRelu
// -> Conv 1x1 -> HardSwish -> Conv 1x1 -> Clip(-1, 1) -> HardSigmoid -> GlobalMaxPool -> Flatten
// -> Gemm -> logits[4,3]: every piecewise op, with kinks where random weights put them.
Graph piecewise_net(std::mt19937& rng) {
  Graph g;
  g.opset = 13;
  add_input(g, "x", {4, 2, 6, 6});
  g.initializers["w1"] = normal({4, 2, 3, 3}, rng, 0.5f);
  g.initializers["w2"] = normal({4, 4, 1, 1}, rng, 0.8f);
  g.initializers["w3"] = normal({4, 4, 1, 1}, rng, 1.5f);
  g.initializers["w4"] = normal({4, 4, 1, 1}, rng, 0.5f);
  g.initializers["w5"] = normal({3, 4}, rng, 1.0f);
  g.initializers["lo"] = Tensor::from_vector<float>({}, {-1.0f});
  g.initializers["hi"] = Tensor::from_vector<float>({}, {1.0f});
  Node& c1 = add_node(g, "Conv", {"x", "w1"}, {"c1"});
  c1.attributes["pads"] = {std::vector<std::int64_t>{1, 1, 1, 1}};
  add_node(g, "Relu", {"c1"}, {"r1"});
  Node& mp = add_node(g, "MaxPool", {"r1"}, {"p1"});
  mp.attributes["kernel_shape"] = {std::vector<std::int64_t>{2, 2}};
  mp.attributes["strides"] = {std::vector<std::int64_t>{2, 2}};
  add_node(g, "Conv", {"p1", "w2"}, {"c2"});
  add_node(g, "LeakyRelu", {"c2"}, {"l2"}).attributes["alpha"] = {0.1f};
  add_node(g, "Conv", {"l2", "w3"}, {"c3"});
  add_node(g, "HardSwish", {"c3"}, {"s3"});
  add_node(g, "Conv", {"s3", "w4"}, {"c4"});
  add_node(g, "Clip", {"c4", "lo", "hi"}, {"k4"});
  add_node(g, "HardSigmoid", {"k4"}, {"h4"});
  add_node(g, "GlobalMaxPool", {"h4"}, {"gm"});
  add_node(g, "Flatten", {"gm"}, {"f"});
  add_node(g, "Gemm", {"f", "w5"}, {"z"}).attributes["transB"] = {std::int64_t{1}};
  add_output(g, "z");
  return g;
}

TEST(HeldPieces, AtTheirPointTheyChangeNothing) {
  std::mt19937 rng(74);
  const Graph g = piecewise_net(rng);
  const GradientEngine engine(g);
  const TensorMap in{{"x", normal({4, 2, 6, 6}, rng)}};
  Loss loss;
  loss.labels = {0, 1, 2, 1};
  const std::vector<std::string> wrt{"w1", "w2", "w3", "w4", "w5"};
  GradientOptions record;
  record.record_pieces = true;
  const Gradients at = engine.run(in, loss, wrt, {}, record);
  EXPECT_EQ(at.pieces.nodes.size(), 7u);  // Relu MaxPool LeakyRelu HardSwish Clip HardSigmoid GMP
  GradientOptions hold;
  hold.hold = &at.pieces;
  const Gradients held = engine.run(in, loss, wrt, {}, hold);
  EXPECT_NEAR(held.loss, at.loss, 1e-6 * std::abs(at.loss));
  for (const std::string& w : wrt) {
    const std::vector<float> a = at.wrt.at(w).to_f32(), b = held.wrt.at(w).to_f32();
    for (std::size_t i = 0; i < a.size(); ++i)
      EXPECT_NEAR(b[i], a[i], 1e-5f) << w << "[" << i << "]";
  }
  // Another batch size does not fit the held pieces.
  const TensorMap other{{"x", normal({2, 2, 6, 6}, rng)}};
  Loss two;
  two.labels = {0, 1};
  EXPECT_THROW(engine.run(other, two, wrt, {}, hold), Error);
}

TEST(HeldPieces, GradientsAreTheDerivativeOfTheHeldLossAcrossKinks) {
  std::mt19937 rng(75);
  const Graph g = piecewise_net(rng);
  const GradientEngine engine(g);
  const TensorMap in{{"x", normal({4, 2, 6, 6}, rng)}};
  Loss loss;
  loss.labels = {2, 0, 1, 1};
  const std::vector<std::string> wrt{"w1", "w2", "w3", "w4", "w5"};
  GradientOptions record;
  record.record_pieces = true;
  const Gradients at = engine.run(in, loss, wrt, {}, record);

  // A point far enough away that pieces have changed.
  TensorMap moved;
  for (const std::string& w : wrt) {
    Tensor t = g.initializers.at(w).clone();
    const Tensor d = normal(t.shape(), rng, 0.15f);
    for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] += d.data<float>()[i];
    moved[w] = t;
  }
  const Gradients there = engine.run(in, loss, wrt, moved, record);
  int changed = 0;
  for (const auto& [node, h] : at.pieces.nodes) {
    const Pieces::Held& o = there.pieces.nodes.at(node);
    if (!h.sources.empty()) changed += h.sources != o.sources;
    if (h.slope.defined()) changed += h.slope.to_f32() != o.slope.to_f32();
    if (h.x0.defined())
      for (std::int64_t i = 0; i < h.x0.numel(); ++i)
        changed += (h.x0.data<float>()[i] < -3) != (o.x0.data<float>()[i] < -3) ||
                   (h.x0.data<float>()[i] > 3) != (o.x0.data<float>()[i] > 3);
  }
  ASSERT_GE(changed, 3) << "the test point must cross kinks";

  GradientOptions hold;
  hold.hold = &at.pieces;
  const Gradients held = engine.run(in, loss, wrt, moved, hold);
  // Unheld gradients differ there (the pieces moved), held ones are the derivative of the held
  // loss: central differences of it, coordinate by coordinate.
  double max_diff_unheld = 0;
  for (const std::string& w : wrt) {
    const std::vector<float> a = held.wrt.at(w).to_f32(), b = there.wrt.at(w).to_f32();
    for (std::size_t i = 0; i < a.size(); ++i)
      max_diff_unheld = std::max(max_diff_unheld, double(std::abs(a[i] - b[i])));
    for (std::int64_t i = 0; i < std::min<std::int64_t>(6, moved.at(w).numel()); ++i) {
      const std::int64_t k = (i * 7919) % moved.at(w).numel();
      const double step = 1e-3;
      TensorMap plus = moved, minus = moved;
      plus[w] = moved.at(w).clone();
      minus[w] = moved.at(w).clone();
      plus[w].data<float>()[k] += float(step);
      minus[w].data<float>()[k] -= float(step);
      const double fd = (engine.run(in, loss, {w}, plus, hold).loss -
                         engine.run(in, loss, {w}, minus, hold).loss) /
                        (2 * step);
      EXPECT_NEAR(a[static_cast<std::size_t>(k)], fd, 2e-3 + 2e-2 * std::abs(fd))
          << w << "[" << k << "]";
    }
  }
  EXPECT_GT(max_diff_unheld, 1e-3);
}

}  // namespace

// The layer-wise trace alone (one sum of squares) is the trace of the full 2 X X^T / n that GPTQ
// collects, for every group of a grouped convolution and for a Gemm.
TEST(LayerInputStats, TraceAloneIsTheFullHessiansTrace) {
  qs::test::ModelBuilder m(13);
  m.input("x", {-1, 4, 7, 7});
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  std::vector<float> w(6 * 2 * 3 * 3), fw(6 * 49 * 3);
  for (float& v : w) v = normal(rng);
  for (float& v : fw) v = normal(rng);
  m.initializer("w", {6, 2, 3, 3}, w).initializer("fw", {6 * 49, 3}, fw);
  auto& conv = m.node("Conv", {"x", "w"}, {"c"}, "conv");
  qs::test::set_attr(conv, "group", std::int64_t{2});
  qs::test::set_attr(conv, "pads", std::vector<std::int64_t>{1, 1, 1, 1});
  m.node("Flatten", {"c"}, {"f"}, "flatten");
  m.node("Gemm", {"f", "fw"}, {"y"}, "fc");
  m.output("y");
  const Graph g = m.load();
  const std::vector<quant::QuantLayer> layers = quant::find_quant_layers(g);
  ASSERT_EQ(layers.size(), 2u);
  std::vector<float> xs(3 * 4 * 49), fs(3 * 6 * 49);
  for (float& v : xs) v = normal(rng);
  for (float& v : fs) v = normal(rng);
  const std::map<std::string, Tensor> inputs{{"conv", Tensor::from_vector<float>({3, 4, 7, 7}, xs)},
                                             {"fc", Tensor::from_vector<float>({3, 6 * 49}, fs)}};
  for (const quant::QuantLayer& l : layers) {
    SCOPED_TRACE(l.node->name);
    quant::LayerInputStats full(g, l), trace(g, l, quant::LayerInputStats::Collect::trace);
    full.add(inputs.at(l.node->name));
    trace.add(inputs.at(l.node->name));
    ASSERT_EQ(full.groups(), l.node->name == "conv" ? 2 : 1);
    ASSERT_EQ(trace.groups(), full.groups());
    EXPECT_EQ(trace.samples(), full.samples());
    for (std::int64_t grp = 0; grp < full.groups(); ++grp) {
      const double want = full.hessian(grp).trace();
      EXPECT_GT(want, 0);
      // The full matrix sums its products in fp32 (GPTQ's collection), the trace in double.
      EXPECT_NEAR(trace.hessian_trace(grp), want, 1e-6 * want);
      EXPECT_NEAR(full.hessian_trace(grp), want, 1e-9 * want);
    }
    if (l.node->name == "fc") {
      // The whole matrix, both triangles (collected as the lower one): 2 X^T X / n.
      const Eigen::MatrixXd h = full.hessian(0);
      const Eigen::Map<const Eigen::Matrix<float, 3, 6 * 49, Eigen::RowMajor>> x(fs.data());
      const Eigen::MatrixXd want = 2.0 / 3.0 * (x.cast<double>().transpose() * x.cast<double>());
      EXPECT_LT((h - want).cwiseAbs().maxCoeff(), 1e-5 * want.cwiseAbs().maxCoeff());
      EXPECT_EQ((h - h.transpose()).cwiseAbs().maxCoeff(), 0.0);
    }
  }
}
