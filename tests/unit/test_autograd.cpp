// GradientEngine: every backward rule against central finite differences of the loss, where
// the loss is computed here, independently, from outputs of ReferenceExecutor forward passes.
// Forward passes are float32, so the differences use steps of 1e-2..1e-3 and the comparisons a
// relative tolerance of about 1e-2 (plus a small absolute one, scaled to the gradient's size).
// Inputs are kept away from kinks (Relu at 0, Clip at its bounds, ties in MaxPool) by at least
// the step, where the derivative is not defined.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "quantscope/autograd.h"
#include "quantscope/error.h"
#include "quantscope/executor.h"
#include "quantscope/graph.h"
#include "quantscope/model.h"

using namespace qs;

namespace {

// ---- graphs built directly in the IR ----

template <typename T>
void set(Node& n, const std::string& key, T value) {
  n.attributes[key] = Attribute{value};
}
void set_ints(Node& n, const std::string& key, std::vector<std::int64_t> v) {
  n.attributes[key] = Attribute{std::move(v)};
}

class TestGraph {
 public:
  explicit TestGraph(std::int64_t opset = 13) {
    g_.opset = opset;
    g_.name = "autograd-test";
  }
  TestGraph& input(const std::string& name, const Shape& shape) {
    ValueInfo vi;
    vi.name = name;
    vi.dtype = DType::f32;
    vi.shape = shape;
    vi.has_shape = true;
    g_.inputs.push_back(vi);
    return *this;
  }
  TestGraph& weight(const std::string& name, Tensor t) {
    g_.initializers[name] = std::move(t);
    return *this;
  }
  TestGraph& ints(const std::string& name, const std::vector<std::int64_t>& v) {
    g_.initializers[name] =
        Tensor::from_vector<std::int64_t>({static_cast<std::int64_t>(v.size())}, v);
    return *this;
  }
  Node& node(const std::string& op, const std::vector<std::string>& inputs,
             const std::vector<std::string>& outputs) {
    Node n;
    n.name = op + "_" + std::to_string(g_.nodes.size());
    n.op_type = op;
    n.inputs = inputs;
    n.outputs = outputs;
    g_.nodes.push_back(std::move(n));
    return g_.nodes.back();
  }
  TestGraph& output(const std::string& name) {
    ValueInfo vi;
    vi.name = name;
    vi.dtype = DType::f32;
    g_.outputs.push_back(vi);
    return *this;
  }
  const Graph& graph() const { return g_; }
  Graph& graph() { return g_; }

 private:
  Graph g_;
};

Tensor uniform(const Shape& shape, std::mt19937& rng, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(static_cast<std::size_t>(shape_numel(shape)));
  for (float& x : v) x = d(rng);
  return Tensor::from_vector<float>(shape, v);
}

// Uniform in [-hi, -lo] u [lo, hi]: away from 0.
Tensor away_from_zero(const Shape& shape, std::mt19937& rng, float lo = 0.1f, float hi = 1.0f) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::bernoulli_distribution sign(0.5);
  std::vector<float> v(static_cast<std::size_t>(shape_numel(shape)));
  for (float& x : v) x = sign(rng) ? d(rng) : -d(rng);
  return Tensor::from_vector<float>(shape, v);
}

// Distinct values spaced `gap` apart, in random order (no ties for MaxPool).
Tensor distinct(const Shape& shape, std::mt19937& rng, float gap = 0.05f) {
  std::vector<float> v(static_cast<std::size_t>(shape_numel(shape)));
  for (std::size_t i = 0; i < v.size(); ++i)
    v[i] = gap * (static_cast<float>(i) - static_cast<float>(v.size()) / 2);
  std::shuffle(v.begin(), v.end(), rng);
  return Tensor::from_vector<float>(shape, v);
}

// Moves values within `margin` of any of `points` to `margin` away from it.
Tensor avoid(Tensor t, const std::vector<float>& points, float margin) {
  t = t.clone();
  float* p = t.data<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i)
    for (float k : points)
      if (std::abs(p[i] - k) < margin) p[i] = p[i] < k ? k - margin : k + margin;
  return t;
}

Tensor scalar(float v) {
  return Tensor::scalar_f32(v);
}

// ---- the loss, computed independently of the engine ----

double reference_loss(const Tensor& out, const Loss& loss) {
  const std::vector<float> z = out.to_f32();
  auto log_softmax = [](const float* row, std::int64_t c) {
    double m = -std::numeric_limits<double>::infinity();
    for (std::int64_t k = 0; k < c; ++k) m = std::max(m, double(row[k]));
    double s = 0;
    for (std::int64_t k = 0; k < c; ++k) s += std::exp(row[k] - m);
    std::vector<double> r(c);
    for (std::int64_t k = 0; k < c; ++k) r[k] = row[k] - m - std::log(s);
    return r;
  };
  const std::int64_t c = out.dim(out.rank() - 1);
  const std::int64_t rows = out.numel() / c;
  double total = 0;
  if (loss.kind == Loss::cross_entropy) {
    for (std::int64_t r = 0; r < rows; ++r) total -= log_softmax(&z[r * c], c)[loss.labels[r]];
  } else {
    const std::vector<float> t = loss.target_logits.to_f32();
    for (std::int64_t r = 0; r < rows; ++r) {
      const std::vector<double> lp = log_softmax(&t[r * c], c);
      const std::vector<double> lq = log_softmax(&z[r * c], c);
      for (std::int64_t k = 0; k < c; ++k) total += std::exp(lp[k]) * (lp[k] - lq[k]);
    }
  }
  return total / double(rows);
}

double forward_loss(const Graph& g, const TensorMap& inputs, const Loss& loss) {
  ReferenceExecutor ex(g);
  const TensorMap out = ex.run(inputs);
  return reference_loss(out.at(g.outputs.at(0).name), loss);
}

Tensor output_of(const Graph& g, const TensorMap& inputs) {
  ReferenceExecutor ex(g);
  return ex.run(inputs).at(g.outputs.at(0).name);
}

Loss kl_loss(const Graph& g, const TensorMap& inputs, std::mt19937& rng) {
  Loss loss;
  loss.kind = Loss::kl_to_target;
  loss.target_logits = uniform(output_of(g, inputs).shape(), rng, -2.0f, 2.0f);
  return loss;
}

Loss ce_loss(std::int64_t n, std::int64_t classes, std::mt19937& rng) {
  Loss loss;
  loss.kind = Loss::cross_entropy;
  std::uniform_int_distribution<std::int64_t> d(0, classes - 1);
  for (std::int64_t i = 0; i < n; ++i) loss.labels.push_back(d(rng));
  return loss;
}

struct FdOptions {
  int coords = 6;             // random coordinates per tensor (all of them when fewer)
  double eps = 1e-2;          // step
  double rtol = 1e-2;         // relative tolerance
  double atol_frac = 1e-3;    // absolute tolerance, as a fraction of the tensor's largest gradient
  bool prefer_large = false;  // draw coordinates among those with |grad| >= 10% of the largest
  int directions = 0;         // also check this many random directional derivatives per tensor
  double dir_eps = 0;         // step along directions (0: eps); the signal is larger there
  // Per tensor, the smallest step (down to eps / 10) at which the float32 noise stays below
  // 0.5% of the tensor's largest gradient: the fewer kinks a step spans, the better.
  bool adaptive_eps = false;
  // Skip (and replace) coordinates where the loss has a kink within the step (a Relu or a
  // MaxPool of a deep network switching): there the one-sided differences disagree, or the
  // central difference changes with the step, and it does not estimate the derivative. Whole
  // networks on random inputs have many; the per-op tests keep their inputs away from kinks.
  bool skip_kinks = false;
};

// The loss at x - eps, x and x + eps along `v` (one coordinate, or a direction) for a graph
// input or an initializer, with the steps as float32 represents them.
struct Stencil {
  double minus = 0, center = 0, plus = 0;
  double central() const { return (plus - minus) / 2; }
  double forward() const { return plus - center; }
  double backward() const { return center - minus; }
};

Stencil loss_stencil(const Graph& g, const TensorMap& inputs, const Loss& loss,
                     const std::string& name, const Tensor& v, double eps) {
  const bool is_input = inputs.count(name) != 0;
  const Tensor base = is_input ? inputs.at(name) : g.initializers.at(name);
  auto eval = [&](double t) {
    Tensor moved = base.clone();
    for (std::int64_t i = 0; i < moved.numel(); ++i)
      moved.data<float>()[i] += static_cast<float>(t * v.data<float>()[i]);
    if (is_input) {
      TensorMap in = inputs;
      in[name] = moved;
      return forward_loss(g, in, loss);
    }
    Graph g2 = g;
    g2.initializers[name] = moved;
    return forward_loss(g2, inputs, loss);
  };
  return {eval(-eps), eval(0), eval(eps)};
}

// The engine's gradients of `loss` with respect to `wrt` against finite differences on random
// coordinates (and, optionally, random directions).
void expect_gradients_match(const Graph& g, const TensorMap& inputs, const Loss& loss,
                            const std::vector<std::string>& wrt, unsigned seed,
                            const FdOptions& o = {}) {
  std::mt19937 rng(seed);
  GradientEngine engine(g);
  const Gradients grads = engine.run(inputs, loss, wrt);
  const double base_loss = forward_loss(g, inputs, loss);
  EXPECT_NEAR(grads.loss, base_loss, 1e-6 * (1 + std::abs(base_loss)));
  // Float32 forward passes resolve the loss to about 1e-7 of its size: differences carry that
  // noise.
  const double noise = 1e-7 * (1 + std::abs(base_loss));
  for (const std::string& name : wrt) {
    SCOPED_TRACE("gradient with respect to '" + name + "'");
    ASSERT_TRUE(grads.wrt.count(name));
    const Tensor& an = grads.wrt.at(name);
    const Tensor& base = inputs.count(name) ? inputs.at(name) : g.initializers.at(name);
    ASSERT_EQ(an.shape(), base.shape());
    ASSERT_EQ(an.dtype(), DType::f32);
    const float* pa = an.data<float>();
    double largest = 0;
    for (std::int64_t i = 0; i < an.numel(); ++i) {
      ASSERT_TRUE(std::isfinite(pa[i])) << "at " << i;
      largest = std::max(largest, double(std::abs(pa[i])));
    }
    EXPECT_GT(largest, 0.0) << "the gradient is zero everywhere";
    std::vector<std::int64_t> candidates;
    for (std::int64_t i = 0; i < an.numel(); ++i)
      if (!o.prefer_large || std::abs(pa[i]) >= 0.1 * largest) candidates.push_back(i);
    std::shuffle(candidates.begin(), candidates.end(), rng);
    const double eps =
        o.adaptive_eps ? std::clamp(noise / (0.005 * largest), o.eps / 10, o.eps) : o.eps;
    const double atol = o.atol_frac * largest + noise / eps;
    // A kink inside the step: the one-sided slopes differ. The central difference is then off by
    // half their difference, so anything beyond the tolerance is skipped (smooth curvature, which
    // the central difference cancels, may cause a few needless skips).
    auto kinked = [&](const Stencil& s) {
      return std::abs(s.forward() - s.backward()) >
             o.rtol * std::max(std::abs(s.forward()), std::abs(s.backward())) + 2 * noise;
    };
    int checked = 0, skipped = 0;
    for (std::int64_t idx : candidates) {
      if (checked == o.coords) break;
      Tensor unit(DType::f32, base.shape());
      unit.data<float>()[idx] = 1.0f;
      const float x = base.data<float>()[idx];
      const double step = double(static_cast<float>(x + eps)) - x;  // as float32 has it
      const Stencil s = loss_stencil(g, inputs, loss, name, unit, eps);
      const double fd = s.central() / step;
      if (o.skip_kinks) {
        // Kinks on both sides can hide from the one-sided slopes, not from a change of step.
        const Stencil wide = loss_stencil(g, inputs, loss, name, unit, 2 * eps);
        const double fd_wide = wide.central() / (2 * step);
        if (kinked(s) ||
            std::abs(fd - fd_wide) >
                0.5 * o.rtol * std::max(std::abs(fd), std::abs(fd_wide)) + noise / eps) {
          ++skipped;
          continue;
        }
      }
      const double a = pa[idx];
      EXPECT_NEAR(a, fd, atol + o.rtol * std::max(std::abs(a), std::abs(fd)))
          << "'" << name << "'[" << idx << "]";
      ++checked;
    }
    EXPECT_GE(checked, std::min<int>(o.coords, static_cast<int>(candidates.size()) - skipped));
    EXPECT_LE(skipped, 3 * o.coords) << "too many coordinates at kinks";
    for (int d = 0; d < o.directions; ++d) {
      // The loss along x + t v for a random v: d/dt = <grad, v>.
      const Tensor v = uniform(base.shape(), rng);
      double expected = 0;
      for (std::int64_t i = 0; i < an.numel(); ++i) expected += double(pa[i]) * v.data<float>()[i];
      const double dir_eps = o.dir_eps > 0 ? o.dir_eps : o.eps;
      const Stencil s = loss_stencil(g, inputs, loss, name, v, dir_eps);
      if (o.skip_kinks && kinked(s)) continue;
      const double fd = s.central() / dir_eps;
      EXPECT_NEAR(expected, fd,
                  noise / dir_eps + o.rtol * std::max(std::abs(expected), std::abs(fd)))
          << "direction " << d;
    }
  }
}

// A one-op graph: x (input) and the given weights feed `op`, whose output goes through a
// Flatten(axis 1) into the loss (so that the loss's last axis is never of size 1).
struct OneOp {
  TestGraph t;
  Node* node = nullptr;
  OneOp(const std::string& op, const std::vector<std::string>& inputs, std::int64_t opset = 13)
      : t(opset) {
    node = &t.node(op, inputs, {"y"});
    Node& f = t.node("Flatten", {"y"}, {"out"});
    set(f, "axis", std::int64_t{1});
    t.output("out");
    node = &t.graph().nodes[0];
  }
  Graph& graph() { return t.graph(); }
};

// Checks `op` with input x and the given initializers, KL loss, all float inputs as wrt.
// The output is first multiplied by fixed random factors, so that no gradient vanishes by the
// loss's invariance to adding a constant along its softmax axis (a broadcast scalar bias).
void check_op(Graph& g, const TensorMap& inputs, const std::vector<std::string>& wrt, unsigned seed,
              const FdOptions& o = {}) {
  std::mt19937 rng(seed);
  const std::string out = g.outputs.at(0).name;
  const Shape shape = output_of(g, inputs).shape();
  for (Node& n : g.nodes)
    for (std::string& name : n.outputs)
      if (name == out) name = out + "_unmixed";
  Node mix;
  mix.name = "mix";
  mix.op_type = "Mul";
  mix.inputs = {out + "_unmixed", "mix_factors"};
  mix.outputs = {out};
  g.nodes.push_back(mix);
  g.initializers["mix_factors"] = uniform(shape, rng, 0.5f, 2.0f);
  const Loss loss = kl_loss(g, inputs, rng);
  expect_gradients_match(g, inputs, loss, wrt, seed + 1, o);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Conv and ConvTranspose

TEST(AutogradConv, PadsStridesDilationsBias) {
  std::mt19937 rng(1);
  OneOp op("Conv", {"x", "w", "b"});
  set_ints(*op.node, "pads", {1, 0, 2, 1});
  set_ints(*op.node, "strides", {2, 1});
  set_ints(*op.node, "dilations", {1, 2});
  op.t.input("x", {2, 3, 7, 6})
      .weight("w", uniform({4, 3, 3, 2}, rng))
      .weight("b", uniform({4}, rng));
  check_op(op.graph(), {{"x", uniform({2, 3, 7, 6}, rng)}}, {"x", "w", "b"}, 10);
}

TEST(AutogradConv, Groups) {
  std::mt19937 rng(2);
  OneOp op("Conv", {"x", "w", "b"});
  set(*op.node, "group", std::int64_t{2});
  set_ints(*op.node, "pads", {1, 1, 1, 1});
  op.t.input("x", {2, 4, 5, 5})
      .weight("w", uniform({6, 2, 3, 3}, rng))
      .weight("b", uniform({6}, rng));
  check_op(op.graph(), {{"x", uniform({2, 4, 5, 5}, rng)}}, {"x", "w", "b"}, 20);
}

TEST(AutogradConv, DepthwiseSameUpperStride2) {
  std::mt19937 rng(3);
  OneOp op("Conv", {"x", "w"});
  set(*op.node, "group", std::int64_t{3});
  set_ints(*op.node, "strides", {2, 2});
  set(*op.node, "auto_pad", std::string("SAME_UPPER"));
  op.t.input("x", {2, 3, 6, 5}).weight("w", uniform({3, 1, 3, 3}, rng));
  check_op(op.graph(), {{"x", uniform({2, 3, 6, 5}, rng)}}, {"x", "w"}, 30);
}

TEST(AutogradConv, OneDimensionalDilated) {
  std::mt19937 rng(4);
  OneOp op("Conv", {"x", "w", "b"});
  set_ints(*op.node, "dilations", {2});
  set_ints(*op.node, "pads", {2, 1});
  op.t.input("x", {2, 2, 9}).weight("w", uniform({3, 2, 3}, rng)).weight("b", uniform({3}, rng));
  check_op(op.graph(), {{"x", uniform({2, 2, 9}, rng)}}, {"x", "w", "b"}, 40);
}

TEST(AutogradConv, ConvTransposeStridePadsOutputPadding) {
  std::mt19937 rng(5);
  OneOp op("ConvTranspose", {"x", "w", "b"});
  set_ints(*op.node, "strides", {2, 2});
  set_ints(*op.node, "pads", {1, 1, 1, 1});
  set_ints(*op.node, "output_padding", {1, 1});
  op.t.input("x", {2, 4, 3, 3})
      .weight("w", uniform({4, 3, 3, 3}, rng))
      .weight("b", uniform({3}, rng));
  check_op(op.graph(), {{"x", uniform({2, 4, 3, 3}, rng)}}, {"x", "w", "b"}, 50);
}

TEST(AutogradConv, ConvTransposeGroups) {
  std::mt19937 rng(6);
  OneOp op("ConvTranspose", {"x", "w"});
  set(*op.node, "group", std::int64_t{2});
  set_ints(*op.node, "strides", {1, 2});
  set_ints(*op.node, "dilations", {2, 1});
  op.t.input("x", {2, 4, 3, 4}).weight("w", uniform({4, 2, 2, 3}, rng));
  check_op(op.graph(), {{"x", uniform({2, 4, 3, 4}, rng)}}, {"x", "w"}, 60);
}

// ---------------------------------------------------------------------------------------------
// Gemm and MatMul

TEST(AutogradGemm, TransposesAlphaBetaAndBroadcastC) {
  const std::int64_t M = 3, K = 4, N = 5;
  const std::vector<Shape> c_shapes = {{N}, {M, N}, {1}, {M, 1}};
  int variant = 0;
  for (int ta = 0; ta < 2; ++ta) {
    for (int tb = 0; tb < 2; ++tb) {
      const Shape& c_shape = c_shapes[(ta * 2 + tb) % c_shapes.size()];
      SCOPED_TRACE("transA=" + std::to_string(ta) + " transB=" + std::to_string(tb) + " C " +
                   shape_to_string(c_shape));
      std::mt19937 rng(100 + variant);
      OneOp op("Gemm", {"a", "b", "c"});
      set(*op.node, "transA", std::int64_t{ta});
      set(*op.node, "transB", std::int64_t{tb});
      set(*op.node, "alpha", 0.7f);
      set(*op.node, "beta", 1.3f);
      const Shape a_shape = ta ? Shape{K, M} : Shape{M, K};
      const Shape b_shape = tb ? Shape{N, K} : Shape{K, N};
      op.t.input("a", a_shape)
          .weight("b", uniform(b_shape, rng))
          .weight("c", uniform(c_shape, rng));
      check_op(op.graph(), {{"a", uniform(a_shape, rng)}}, {"a", "b", "c"}, 110 + variant);
      ++variant;
    }
  }
}

TEST(AutogradGemm, DefaultsWithoutC) {
  std::mt19937 rng(7);
  OneOp op("Gemm", {"a", "b"});
  op.t.input("a", {3, 4}).weight("b", uniform({4, 6}, rng));
  check_op(op.graph(), {{"a", uniform({3, 4}, rng)}}, {"a", "b"}, 70);
}

TEST(AutogradMatMul, BatchedAndBroadcast) {
  struct Case {
    Shape a, b;
  };
  const std::vector<Case> cases = {
      {{2, 3, 4, 5}, {5, 6}},     // weight shared by all batches
      {{2, 1, 4, 5}, {3, 5, 6}},  // both broadcast
      {{5}, {2, 5, 3}},           // 1-D left operand
      {{2, 4, 5}, {5}},           // 1-D right operand
      {{3, 5}, {2, 5, 4}},        // 2-D against batched
  };
  int i = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(shape_to_string(c.a) + " x " + shape_to_string(c.b));
    std::mt19937 rng(200 + i);
    OneOp op("MatMul", {"a", "b"});
    op.t.input("a", c.a).weight("b", uniform(c.b, rng));
    check_op(op.graph(), {{"a", uniform(c.a, rng)}}, {"a", "b"}, 210 + i);
    ++i;
  }
}

// ---------------------------------------------------------------------------------------------
// Broadcasting elementwise ops

TEST(AutogradBinary, AddSubMulDivWithBroadcasting) {
  struct Case {
    Shape a, b;
  };
  const std::vector<Case> cases = {{{2, 3, 4}, {2, 3, 4}},
                                   {{2, 3, 4}, {3, 1}},
                                   {{2, 3, 4}, {}},
                                   {{3, 1}, {2, 3, 4}},
                                   {{2, 1, 4}, {1, 3, 1}}};
  int seed = 300;
  for (const char* op_name : {"Add", "Sub", "Mul", "Div"}) {
    for (const Case& c : cases) {
      SCOPED_TRACE(std::string(op_name) + " " + shape_to_string(c.a) + " " + shape_to_string(c.b));
      std::mt19937 rng(seed);
      OneOp op(op_name, {"a", "b"});
      // Divisors away from zero.
      Tensor b =
          std::string(op_name) == "Div" ? away_from_zero(c.b, rng, 0.5f, 1.5f) : uniform(c.b, rng);
      op.t.input("a", c.a).weight("b", b);
      check_op(op.graph(), {{"a", uniform(c.a, rng)}}, {"a", "b"}, seed + 1);
      seed += 2;
    }
  }
}

TEST(AutogradBinary, SameTensorOnBothSides) {
  std::mt19937 rng(8);
  OneOp op("Mul", {"x", "x"});
  op.t.input("x", {2, 5});
  check_op(op.graph(), {{"x", uniform({2, 5}, rng)}}, {"x"}, 80);
}

TEST(AutogradBinary, Pow) {
  {
    SCOPED_TRACE("float exponent tensor, both operands");
    std::mt19937 rng(9);
    OneOp op("Pow", {"x", "e"});
    op.t.input("x", {2, 5}).weight("e", uniform({5}, rng, 0.5f, 3.0f));
    check_op(op.graph(), {{"x", uniform({2, 5}, rng, 0.5f, 2.0f)}}, {"x", "e"}, 90);
  }
  {
    SCOPED_TRACE("square of any sign");
    std::mt19937 rng(10);
    OneOp op("Pow", {"x", "e"});
    op.t.input("x", {3, 4}).weight("e", scalar(2.0f));
    check_op(op.graph(), {{"x", uniform({3, 4}, rng)}}, {"x"}, 91);
  }
  {
    SCOPED_TRACE("integer exponent");
    std::mt19937 rng(11);
    OneOp op("Pow", {"x", "e"});
    op.t.input("x", {3, 4});
    op.graph().initializers["e"] = Tensor::from_vector<std::int64_t>({}, {3});
    check_op(op.graph(), {{"x", uniform({3, 4}, rng)}}, {"x"}, 92);
  }
}

TEST(AutogradBinary, WhereAndPRelu) {
  {
    std::mt19937 rng(12);
    OneOp op("Where", {"cond", "a", "b"});
    op.t.input("a", {2, 3, 4}).weight("b", uniform({3, 1}, rng));
    op.graph().initializers["cond"] =
        Tensor::from_vector<bool>({4}, std::vector<bool>{true, false, false, true});
    check_op(op.graph(), {{"a", uniform({2, 3, 4}, rng)}}, {"a", "b"}, 120);
  }
  {
    std::mt19937 rng(13);
    OneOp op("PRelu", {"x", "slope"});
    op.t.input("x", {2, 3, 4}).weight("slope", uniform({3, 1}, rng, 0.1f, 0.5f));
    check_op(op.graph(), {{"x", away_from_zero({2, 3, 4}, rng)}}, {"x", "slope"}, 130);
  }
}

// ---------------------------------------------------------------------------------------------
// Unary math and activations

namespace {

struct UnaryCase {
  std::string op;
  std::int64_t opset = 13;
  std::function<void(Node&)> attrs;
  std::function<Tensor(std::mt19937&)> input;
};

}  // namespace

TEST(AutogradUnary, EveryOp) {
  const Shape shape{3, 6};
  auto any = [&](std::mt19937& r) { return uniform(shape, r, -2.0f, 2.0f); };
  auto positive = [&](std::mt19937& r) { return uniform(shape, r, 0.3f, 3.0f); };
  auto nonzero = [&](std::mt19937& r) { return away_from_zero(shape, r, 0.3f, 2.0f); };
  auto none = [](Node&) {};
  const std::vector<UnaryCase> cases = {
      {"Erf", 13, none, any},
      {"Sqrt", 13, none, positive},
      {"Exp", 13, none, any},
      {"Log", 13, none, positive},
      {"Neg", 13, none, any},
      {"Abs", 13, none, nonzero},
      {"Reciprocal", 13, none, nonzero},
      {"Relu", 13, none, nonzero},
      {"LeakyRelu", 13, [](Node& n) { set(n, "alpha", 0.2f); }, nonzero},
      {"LeakyRelu", 13, none, nonzero},  // default alpha 0.01
      {"Sigmoid", 13, none, any},
      {"Tanh", 13, none, any},
      // Default alpha 0.2, beta 0.5: kinks at -2.5 and 2.5.
      {"HardSigmoid", 13, none,
       [&](std::mt19937& r) {
         return avoid(uniform(shape, r, -4, 4), {-2.5f, 2.5f}, 0.1f);
       }},
      {"HardSigmoid", 13,
       [](Node& n) {
         set(n, "alpha", 0.3f);
         set(n, "beta", 0.4f);
       },
       [&](std::mt19937& r) {
         return avoid(uniform(shape, r, -4, 4), {-4.f / 3, 2.0f}, 0.1f);
       }},
      {"HardSwish", 14, none,
       [&](std::mt19937& r) {
         return avoid(uniform(shape, r, -5, 5), {-3.0f, 3.0f}, 0.1f);
       }},
      {"Gelu", 20, none, any},
      {"Gelu", 20, [](Node& n) { set(n, "approximate", std::string("tanh")); }, any},
      // Attributes before opset 11.
      {"Clip", 6,
       [](Node& n) {
         set(n, "min", -0.5f);
         set(n, "max", 0.7f);
       },
       [&](std::mt19937& r) {
         return avoid(any(r), {-0.5f, 0.7f}, 0.05f);
       }},
  };
  int seed = 400;
  for (const UnaryCase& c : cases) {
    SCOPED_TRACE(c.op + " (opset " + std::to_string(c.opset) + ")");
    std::mt19937 rng(seed);
    OneOp op(c.op, {"x"}, c.opset);
    c.attrs(*op.node);
    op.t.input("x", shape);
    check_op(op.graph(), {{"x", c.input(rng)}}, {"x"}, seed + 1, {.coords = 8});
    seed += 2;
  }
}

TEST(AutogradUnary, ClipWithBoundInputs) {
  const Shape shape{4, 8};
  {
    SCOPED_TRACE("min and max, all differentiated");
    std::mt19937 rng(14);
    OneOp op("Clip", {"x", "lo", "hi"});
    op.t.input("x", shape).weight("lo", scalar(-0.5f)).weight("hi", scalar(0.6f));
    check_op(op.graph(), {{"x", avoid(uniform(shape, rng, -2, 2), {-0.5f, 0.6f}, 0.05f)}},
             {"x", "lo", "hi"}, 140, {.coords = 10});
  }
  {
    SCOPED_TRACE("max only (ReLU6-like with min omitted)");
    std::mt19937 rng(15);
    OneOp op("Clip", {"x", "", "hi"});
    op.t.input("x", shape).weight("hi", scalar(0.6f));
    check_op(op.graph(), {{"x", avoid(uniform(shape, rng, -2, 2), {0.6f}, 0.05f)}}, {"x", "hi"},
             150, {.coords = 10});
  }
}

// ---------------------------------------------------------------------------------------------
// Pools

TEST(AutogradPool, MaxPool) {
  {
    SCOPED_TRACE("pads, strides, ceil_mode");
    std::mt19937 rng(16);
    OneOp op("MaxPool", {"x"});
    set_ints(*op.node, "kernel_shape", {3, 3});
    set_ints(*op.node, "strides", {2, 2});
    set_ints(*op.node, "pads", {1, 1, 1, 1});
    set(*op.node, "ceil_mode", std::int64_t{1});
    op.t.input("x", {2, 2, 6, 7});
    check_op(op.graph(), {{"x", distinct({2, 2, 6, 7}, rng)}}, {"x"}, 160, {.coords = 12});
  }
  {
    SCOPED_TRACE("dilations, 1-D");
    std::mt19937 rng(17);
    OneOp op("MaxPool", {"x"});
    set_ints(*op.node, "kernel_shape", {2});
    set_ints(*op.node, "dilations", {2});
    op.t.input("x", {2, 3, 8});
    check_op(op.graph(), {{"x", distinct({2, 3, 8}, rng)}}, {"x"}, 170, {.coords = 12});
  }
}

TEST(AutogradPool, AveragePool) {
  for (int include_pad = 0; include_pad < 2; ++include_pad) {
    for (int ceil_mode = 0; ceil_mode < 2; ++ceil_mode) {
      SCOPED_TRACE("count_include_pad=" + std::to_string(include_pad) +
                   " ceil_mode=" + std::to_string(ceil_mode));
      std::mt19937 rng(18 + include_pad * 2 + ceil_mode);
      OneOp op("AveragePool", {"x"});
      set_ints(*op.node, "kernel_shape", {3, 2});
      set_ints(*op.node, "strides", {2, 2});
      set_ints(*op.node, "pads", {1, 0, 1, 1});
      set(*op.node, "count_include_pad", std::int64_t{include_pad});
      set(*op.node, "ceil_mode", std::int64_t{ceil_mode});
      op.t.input("x", {2, 2, 6, 7});
      check_op(op.graph(), {{"x", uniform({2, 2, 6, 7}, rng)}}, {"x"},
               180 + include_pad * 2 + ceil_mode, {.coords = 12});
    }
  }
  {
    SCOPED_TRACE("auto_pad SAME_LOWER");
    std::mt19937 rng(25);
    OneOp op("AveragePool", {"x"});
    set_ints(*op.node, "kernel_shape", {2, 2});
    set_ints(*op.node, "strides", {2, 2});
    set(*op.node, "auto_pad", std::string("SAME_LOWER"));
    op.t.input("x", {1, 2, 5, 5});
    check_op(op.graph(), {{"x", uniform({1, 2, 5, 5}, rng)}}, {"x"}, 190, {.coords = 12});
  }
}

TEST(AutogradPool, GlobalPools) {
  {
    std::mt19937 rng(26);
    OneOp op("GlobalAveragePool", {"x"});
    op.t.input("x", {2, 3, 4, 5});
    check_op(op.graph(), {{"x", uniform({2, 3, 4, 5}, rng)}}, {"x"}, 260);
  }
  {
    std::mt19937 rng(27);
    OneOp op("GlobalMaxPool", {"x"});
    op.t.input("x", {2, 3, 4, 5});
    check_op(op.graph(), {{"x", distinct({2, 3, 4, 5}, rng)}}, {"x"}, 270,
             {.coords = 20, .prefer_large = true});
  }
}

// ---------------------------------------------------------------------------------------------
// Softmax, normalizations, reductions

TEST(AutogradNormalization, Softmax) {
  struct Case {
    std::string op;
    std::int64_t opset;
    std::int64_t axis;  // 99: default
  };
  const std::vector<Case> cases = {{"Softmax", 13, 99},   {"Softmax", 13, 1},
                                   {"Softmax", 11, 99},   {"Softmax", 11, 2},
                                   {"LogSoftmax", 13, 1}, {"LogSoftmax", 11, 99}};
  int seed = 500;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.op + " opset " + std::to_string(c.opset) + " axis " + std::to_string(c.axis));
    std::mt19937 rng(seed);
    // Softmax -> Mul by a weight, so the loss's own softmax does not absorb shifts.
    TestGraph t(c.opset);
    Node& n = t.node(c.op, {"x"}, {"s"});
    if (c.axis != 99) set(n, "axis", c.axis);
    t.node("Mul", {"s", "w"}, {"y"});
    set(t.node("Flatten", {"y"}, {"out"}), "axis", std::int64_t{1});
    t.input("x", {2, 3, 4}).weight("w", uniform({2, 3, 4}, rng, -3, 3)).output("out");
    check_op(t.graph(), {{"x", uniform({2, 3, 4}, rng, -2, 2)}}, {"x", "w"}, seed + 1);
    seed += 2;
  }
}

TEST(AutogradNormalization, LayerNormalization) {
  {
    SCOPED_TRACE("last axis, scale and bias");
    std::mt19937 rng(28);
    OneOp op("LayerNormalization", {"x", "scale", "bias"}, 17);
    set(*op.node, "epsilon", 1e-3f);
    op.t.input("x", {2, 3, 8}).weight("scale", uniform({8}, rng)).weight("bias", uniform({8}, rng));
    check_op(op.graph(), {{"x", uniform({2, 3, 8}, rng)}}, {"x", "scale", "bias"}, 280);
  }
  {
    SCOPED_TRACE("axis -2, scale broadcast over the normalized block, no bias");
    std::mt19937 rng(29);
    OneOp op("LayerNormalization", {"x", "scale"}, 17);
    set(*op.node, "axis", std::int64_t{-2});
    op.t.input("x", {2, 3, 4}).weight("scale", uniform({1, 4}, rng));
    check_op(op.graph(), {{"x", uniform({2, 3, 4}, rng)}}, {"x", "scale"}, 290);
  }
}

// LayerNormalization as opset-13 exporters write it, against the fused op's gradients.
TEST(AutogradNormalization, LayerNormDecompositionMatchesFusedOp) {
  std::mt19937 rng(30);
  const Shape shape{2, 3, 8};
  const Tensor scale = uniform({8}, rng), bias = uniform({8}, rng);
  TestGraph d(13);
  set_ints(d.node("ReduceMean", {"x"}, {"mean"}), "axes", {-1});
  d.node("Sub", {"x", "mean"}, {"centered"});
  d.node("Pow", {"centered", "two"}, {"sq"});
  set_ints(d.node("ReduceMean", {"sq"}, {"var"}), "axes", {-1});
  d.node("Add", {"var", "eps"}, {"var_eps"});
  d.node("Sqrt", {"var_eps"}, {"std"});
  d.node("Div", {"centered", "std"}, {"norm"});
  d.node("Mul", {"norm", "scale"}, {"scaled"});
  d.node("Add", {"scaled", "bias"}, {"y"});
  set(d.node("Flatten", {"y"}, {"out"}), "axis", std::int64_t{1});
  d.input("x", shape).weight("two", scalar(2.0f)).weight("eps", scalar(1e-5f));
  d.weight("scale", scale).weight("bias", bias).output("out");
  const TensorMap inputs{{"x", uniform(shape, rng)}};
  const Loss loss = kl_loss(d.graph(), inputs, rng);
  expect_gradients_match(d.graph(), inputs, loss, {"x", "scale", "bias"}, 300);

  OneOp fused("LayerNormalization", {"x", "scale", "bias"}, 17);
  fused.t.input("x", shape).weight("scale", scale).weight("bias", bias);
  const Gradients a = GradientEngine(d.graph()).run(inputs, loss, {"x", "scale", "bias"});
  const Gradients b = GradientEngine(fused.graph()).run(inputs, loss, {"x", "scale", "bias"});
  EXPECT_NEAR(a.loss, b.loss, 1e-5);
  for (const char* name : {"x", "scale", "bias"}) {
    const std::vector<float> ga = a.wrt.at(name).to_f32(), gb = b.wrt.at(name).to_f32();
    for (std::size_t i = 0; i < ga.size(); ++i) EXPECT_NEAR(ga[i], gb[i], 1e-4) << name << i;
  }
}

TEST(AutogradNormalization, BatchNormalizationInference) {
  std::mt19937 rng(31);
  OneOp op("BatchNormalization", {"x", "scale", "bias", "mean", "var"}, 15);
  op.t.input("x", {2, 3, 4, 4})
      .weight("scale", uniform({3}, rng))
      .weight("bias", uniform({3}, rng))
      .weight("mean", uniform({3}, rng))
      .weight("var", uniform({3}, rng, 0.5f, 2.0f));
  check_op(op.graph(), {{"x", uniform({2, 3, 4, 4}, rng)}}, {"x", "scale", "bias", "mean", "var"},
           310);
}

TEST(AutogradNormalization, Reductions) {
  {
    SCOPED_TRACE("ReduceMean, axes attribute, keepdims 0");
    std::mt19937 rng(32);
    OneOp op("ReduceMean", {"x"}, 13);
    set_ints(*op.node, "axes", {1});
    set(*op.node, "keepdims", std::int64_t{0});
    op.t.input("x", {2, 3, 4});
    check_op(op.graph(), {{"x", uniform({2, 3, 4}, rng)}}, {"x"}, 320);
  }
  {
    SCOPED_TRACE("ReduceMean, axes input (opset 18), two axes");
    std::mt19937 rng(33);
    OneOp op("ReduceMean", {"x", "axes"}, 18);
    op.t.input("x", {2, 3, 4, 5}).ints("axes", {-1, 1});
    check_op(op.graph(), {{"x", uniform({2, 3, 4, 5}, rng)}}, {"x"}, 330);
  }
  {
    SCOPED_TRACE("ReduceSum, axes input (opset 13), keepdims 1");
    std::mt19937 rng(34);
    OneOp op("ReduceSum", {"x", "axes"}, 13);
    op.t.input("x", {2, 3, 4}).ints("axes", {2});
    check_op(op.graph(), {{"x", uniform({2, 3, 4}, rng)}}, {"x"}, 340);
  }
}

// ---------------------------------------------------------------------------------------------
// Ops that move elements

TEST(AutogradMovement, ReshapeFlattenSqueezeUnsqueezeIdentity) {
  std::mt19937 rng(35);
  TestGraph t(13);
  t.node("Mul", {"x", "w"}, {"a"});
  t.node("Reshape", {"a", "shape"}, {"b"});                       // [2,3,4] -> [6,4]
  t.node("Unsqueeze", {"b", "axes"}, {"c"});                      // [6,1,4]
  t.node("Squeeze", {"c", "axes"}, {"d"});                        // [6,4]
  set(t.node("Flatten", {"d"}, {"e"}), "axis", std::int64_t{0});  // [1,24]
  t.node("Identity", {"e"}, {"f"});
  t.node("Dropout", {"f"}, {"out"});
  t.input("x", {2, 3, 4})
      .weight("w", uniform({3, 4}, rng))
      .ints("shape", {-1, 4})
      .ints("axes", {1});
  t.output("out");
  check_op(t.graph(), {{"x", uniform({2, 3, 4}, rng)}}, {"x", "w"}, 350);
}

TEST(AutogradMovement, Transpose) {
  {
    std::mt19937 rng(36);
    OneOp op("Transpose", {"x"});
    set_ints(*op.node, "perm", {2, 0, 1});
    op.t.input("x", {2, 3, 4});
    check_op(op.graph(), {{"x", uniform({2, 3, 4}, rng)}}, {"x"}, 360);
  }
  {
    SCOPED_TRACE("default perm (reverse)");
    std::mt19937 rng(37);
    OneOp op("Transpose", {"x"});
    op.t.input("x", {2, 3, 4});
    check_op(op.graph(), {{"x", uniform({2, 3, 4}, rng)}}, {"x"}, 370);
  }
}

TEST(AutogradMovement, ConcatAndSplit) {
  {
    std::mt19937 rng(38);
    OneOp op("Concat", {"a", "w", "a"});
    set(*op.node, "axis", std::int64_t{-2});
    op.t.input("a", {2, 1, 3}).weight("w", uniform({2, 2, 3}, rng));
    check_op(op.graph(), {{"a", uniform({2, 1, 3}, rng)}}, {"a", "w"}, 380);
  }
  {
    SCOPED_TRACE("Split with one output unused, the other reordered");
    std::mt19937 rng(39);
    TestGraph t(13);
    Node& s = t.node("Split", {"x", "sizes"}, {"p", "q", "r"});
    set(s, "axis", std::int64_t{1});
    t.node("Concat", {"r", "p"}, {"y"});
    set(t.graph().nodes.back(), "axis", std::int64_t{1});
    set(t.node("Flatten", {"y"}, {"out"}), "axis", std::int64_t{1});
    t.input("x", {2, 6, 2}).ints("sizes", {1, 2, 3}).output("out");
    const TensorMap inputs{{"x", uniform({2, 6, 2}, rng)}};
    check_op(t.graph(), inputs, {"x"}, 390, {.coords = 24});
    // The columns that went to the unused output get no gradient.
    const Loss loss = kl_loss(t.graph(), inputs, rng);
    const Tensor g = GradientEngine(t.graph()).run(inputs, loss, {"x"}).wrt.at("x");
    for (std::int64_t n = 0; n < 2; ++n)
      for (std::int64_t k = 1; k < 3; ++k)
        for (std::int64_t j = 0; j < 2; ++j) EXPECT_EQ(g.data<float>()[(n * 6 + k) * 2 + j], 0.0f);
  }
}

TEST(AutogradMovement, SliceWithNegativeStepsAndClampedBounds) {
  std::mt19937 rng(40);
  OneOp op("Slice", {"x", "starts", "ends", "axes", "steps"});
  op.t.input("x", {2, 5, 6})
      .ints("starts", {1, -1})
      .ints("ends", {4, std::numeric_limits<std::int64_t>::min()})
      .ints("axes", {1, 2})
      .ints("steps", {2, -2});
  check_op(op.graph(), {{"x", uniform({2, 5, 6}, rng)}}, {"x"}, 400, {.coords = 20});
}

TEST(AutogradMovement, GatherWithRepeatedAndNegativeIndices) {
  {
    SCOPED_TRACE("embedding lookup of a weight");
    std::mt19937 rng(41);
    TestGraph t(13);
    t.node("Gather", {"table", "ids"}, {"emb"});
    t.node("Mul", {"emb", "x"}, {"y"});
    set(t.node("Flatten", {"y"}, {"out"}), "axis", std::int64_t{1});
    t.input("x", {2, 2, 3}).weight("table", uniform({4, 3}, rng)).output("out");
    t.graph().initializers["ids"] = Tensor::from_vector<std::int64_t>({2, 2}, {0, 2, 2, -1});
    check_op(t.graph(), {{"x", uniform({2, 2, 3}, rng)}}, {"x", "table"}, 410, {.coords = 12});
  }
  {
    SCOPED_TRACE("axis 1 of an input");
    std::mt19937 rng(42);
    OneOp op("Gather", {"x", "ids"});
    set(*op.node, "axis", std::int64_t{1});
    op.t.input("x", {2, 4, 3});
    op.graph().initializers["ids"] = Tensor::from_vector<std::int64_t>({3}, {3, 0, 3});
    check_op(op.graph(), {{"x", uniform({2, 4, 3}, rng)}}, {"x"}, 420, {.coords = 24});
  }
}

TEST(AutogradMovement, ExpandAndPad) {
  {
    std::mt19937 rng(43);
    OneOp op("Expand", {"x", "shape"});
    op.t.input("x", {3, 1}).ints("shape", {2, 3, 4});
    check_op(op.graph(), {{"x", uniform({3, 1}, rng)}}, {"x"}, 430);
  }
  for (const char* mode : {"constant", "reflect", "edge"}) {
    SCOPED_TRACE(std::string("Pad mode ") + mode);
    std::mt19937 rng(44);
    OneOp op("Pad", {"x", "pads", "value"});
    set(*op.node, "mode", std::string(mode));
    op.t.input("x", {2, 3, 4}).ints("pads", {0, 1, 2, 0, 2, -1}).weight("value", scalar(0.5f));
    check_op(op.graph(), {{"x", uniform({2, 3, 4}, rng)}}, {"x"}, 440, {.coords = 24});
  }
}

// ---------------------------------------------------------------------------------------------
// FakeQuant: the straight-through estimator (finite differences see a staircase, so the
// gradient is checked against the gradient without the FakeQuant, masked to the grid's range).

TEST(AutogradFakeQuant, StraightThroughInsideTheGridRange) {
  std::mt19937 rng(45);
  const Shape shape{3, 8};
  auto build = [&](bool with_fq) {
    TestGraph t(13);
    Node& n = t.node(with_fq ? "FakeQuant" : "Identity", {"x"}, {"q"});
    if (with_fq) {
      n.domain = kQuantscopeDomain;
      set(n, "scale", 0.05f);
      set(n, "zero_point", std::int64_t{3});
      set(n, "qmin", std::int64_t{-8});
      set(n, "qmax", std::int64_t{7});
    }
    t.node("Mul", {"q", "w"}, {"out"});
    t.input("x", shape).output("out");
    return t;
  };
  const Tensor w = uniform(shape, rng);
  TestGraph fq = build(true), plain = build(false);
  fq.weight("w", w);
  plain.weight("w", w);
  // Range [(-8 - 3) * 0.05, (7 - 3) * 0.05] = [-0.55, 0.2]; inputs on both sides of it.
  const Tensor x = avoid(uniform(shape, rng, -1.0f, 1.0f), {-0.55f, 0.2f}, 0.02f);
  const TensorMap inputs{{"x", x}};
  Loss loss;
  loss.kind = Loss::kl_to_target;
  loss.target_logits = uniform(shape, rng);
  const Gradients a = GradientEngine(fq.graph()).run(inputs, loss, {"x", "w"});
  // The plain graph evaluated at the quantized values has the same output, hence the same
  // gradient at q.
  ReferenceExecutor ex(fq.graph());
  ex.keep({"q"});
  const Tensor xq = ex.run(inputs).at("q");
  const Gradients b = GradientEngine(plain.graph()).run({{"x", xq}}, loss, {"x", "w"});
  int inside = 0, outside = 0;
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    const float v = x.data<float>()[i];
    const bool in_range = v >= -0.55f && v <= 0.2f;
    (in_range ? inside : outside)++;
    EXPECT_NEAR(a.wrt.at("x").data<float>()[i], in_range ? b.wrt.at("x").data<float>()[i] : 0.0f,
                1e-4)
        << i;
  }
  EXPECT_GT(inside, 0);
  EXPECT_GT(outside, 0);
  // The weight's gradient is the ordinary one at the quantized activations.
  const Tensor gw = GradientEngine(fq.graph()).run(inputs, loss, {"w"}).wrt.at("w");
  for (std::int64_t i = 0; i < gw.numel(); ++i)
    EXPECT_NEAR(gw.data<float>()[i], b.wrt.at("w").data<float>()[i], 1e-4);
  expect_gradients_match(fq.graph(), inputs, loss, {"w"}, 450);
}

// ---------------------------------------------------------------------------------------------
// The losses

TEST(AutogradLoss, CrossEntropyValueAndGradient) {
  std::mt19937 rng(46);
  TestGraph t(13);
  t.node("Identity", {"x"}, {"out"});
  t.input("x", {4, 5}).output("out");
  const Tensor z = uniform({4, 5}, rng, -3, 3);
  const Loss loss = ce_loss(4, 5, rng);
  const Gradients g = GradientEngine(t.graph()).run({{"x", z}}, loss, {"x"});
  EXPECT_NEAR(g.loss, reference_loss(z, loss), 1e-9);
  // d/dz = (softmax(z) - onehot(label)) / N.
  for (std::int64_t r = 0; r < 4; ++r) {
    double s = 0;
    for (std::int64_t k = 0; k < 5; ++k) s += std::exp(double(z.data<float>()[r * 5 + k]));
    for (std::int64_t k = 0; k < 5; ++k) {
      const double p = std::exp(double(z.data<float>()[r * 5 + k])) / s;
      EXPECT_NEAR(g.wrt.at("x").data<float>()[r * 5 + k],
                  (p - (k == loss.labels[r] ? 1.0 : 0.0)) / 4, 1e-6);
    }
  }
  expect_gradients_match(t.graph(), {{"x", z}}, loss, {"x"}, 460, {.coords = 20});
}

TEST(AutogradLoss, KlToTarget) {
  std::mt19937 rng(47);
  TestGraph t(13);
  t.node("Identity", {"x"}, {"out"});
  t.input("x", {2, 3, 5}).output("out");
  const Tensor z = uniform({2, 3, 5}, rng, -3, 3);
  Loss loss;
  loss.kind = Loss::kl_to_target;
  loss.target_logits = z;
  // Zero at the target, with a zero gradient.
  const Gradients same = GradientEngine(t.graph()).run({{"x", z}}, loss, {"x"});
  EXPECT_NEAR(same.loss, 0.0, 1e-9);
  for (float v : same.wrt.at("x").to_f32()) EXPECT_NEAR(v, 0.0f, 1e-7);
  // Any shape: softmax along the last axis, mean over the other positions.
  loss.target_logits = uniform({2, 3, 5}, rng, -3, 3);
  const Gradients g = GradientEngine(t.graph()).run({{"x", z}}, loss, {"x"});
  EXPECT_GT(g.loss, 0.0);
  EXPECT_NEAR(g.loss, reference_loss(z, loss), 1e-9);
  expect_gradients_match(t.graph(), {{"x", z}}, loss, {"x"}, 470, {.coords = 30});
}

TEST(AutogradLoss, RejectsMismatches) {
  TestGraph t(13);
  t.node("Identity", {"x"}, {"out"});
  t.input("x", {2, 3}).output("out");
  GradientEngine engine(t.graph());
  const TensorMap inputs{{"x", Tensor(DType::f32, {2, 3})}};
  Loss ce;
  ce.labels = {0};
  EXPECT_THROW(engine.run(inputs, ce, {"x"}), Error);  // one label for two samples
  ce.labels = {0, 3};
  EXPECT_THROW(engine.run(inputs, ce, {"x"}), Error);  // label out of range
  Loss kl;
  kl.kind = Loss::kl_to_target;
  kl.target_logits = Tensor(DType::f32, {3, 2});
  EXPECT_THROW(engine.run(inputs, kl, {"x"}), Error);  // target shape
}

// ---------------------------------------------------------------------------------------------
// The engine: unsupported ops, paths, names, overrides

TEST(AutogradEngine, UnsupportedOpOnThePathNamesNodeAndOp) {
  TestGraph t(13);
  t.node("Relu", {"x"}, {"a"});
  t.graph().nodes.back().name = "act";
  Node& r = t.node("ReduceMax", {"a"}, {"m"});
  r.name = "the_max";
  set_ints(r, "axes", {1});
  t.node("Mul", {"m", "w"}, {"out"});
  t.input("x", {2, 3}).weight("w", Tensor(DType::f32, {2, 1})).output("out");
  try {
    GradientEngine engine(t.graph());
    FAIL() << "expected Unsupported";
  } catch (const Unsupported& e) {
    EXPECT_NE(std::string(e.what()).find("the_max"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("ReduceMax"), std::string::npos) << e.what();
  }
}

TEST(AutogradEngine, NodesOffThePathNeedNoRule) {
  // The second output goes through ReduceMax (no rule); the loss is on the first output only.
  std::mt19937 rng(48);
  TestGraph t(13);
  t.node("Mul", {"x", "w"}, {"out"});
  Node& r = t.node("ReduceMax", {"x"}, {"side"});
  set_ints(r, "axes", {1});
  t.input("x", {2, 3}).weight("w", uniform({3}, rng)).output("out").output("side");
  const TensorMap inputs{{"x", uniform({2, 3}, rng)}};
  GradientEngine engine(t.graph());
  const Gradients g = engine.run(inputs, ce_loss(2, 3, rng), {"x", "w"});
  EXPECT_EQ(g.wrt.at("w").shape(), (Shape{3}));
  check_op(t.graph(), inputs, {"x", "w"}, 480);
}

TEST(AutogradEngine, ConstantParameterInputsAreRefusedAsTargets) {
  // Pad's constant value is not differentiated: asking for it is Unsupported, asking for x is
  // fine.
  std::mt19937 rng(49);
  OneOp op("Pad", {"x", "pads", "value"});
  op.t.input("x", {2, 3}).ints("pads", {0, 1, 0, 1}).weight("value", scalar(0.5f));
  const TensorMap inputs{{"x", uniform({2, 3}, rng)}};
  GradientEngine engine(op.graph());
  const Loss loss = ce_loss(2, 5, rng);
  EXPECT_NO_THROW(engine.run(inputs, loss, {"x"}));
  EXPECT_THROW(engine.run(inputs, loss, {"value"}), Unsupported);
}

TEST(AutogradEngine, NamesZerosIntermediatesAndOverrides) {
  std::mt19937 rng(50);
  TestGraph t(13);
  t.node("MatMul", {"x", "w1"}, {"h"});
  t.node("Tanh", {"h"}, {"a"});
  t.node("MatMul", {"a", "w2"}, {"out"});
  t.input("x", {3, 4})
      .weight("w1", uniform({4, 5}, rng))
      .weight("w2", uniform({5, 6}, rng))
      .weight("unused", uniform({7}, rng))
      .output("out");
  const TensorMap inputs{{"x", uniform({3, 4}, rng)}};
  const Loss loss = ce_loss(3, 6, rng);
  GradientEngine engine(t.graph());

  EXPECT_THROW(engine.run(inputs, loss, {"nope"}), Error);
  EXPECT_THROW(engine.run(inputs, loss, {"w1"}, {{"nope", scalar(1)}}), Error);
  EXPECT_THROW(engine.run(inputs, loss, {"w1"}, {{"w1", Tensor(DType::f32, {5, 4})}}), Error);
  EXPECT_THROW(engine.run({}, loss, {"w1"}), Error);

  // An initializer the output does not depend on: zeros of its shape.
  const Gradients z = engine.run(inputs, loss, {"unused"});
  ASSERT_EQ(z.wrt.at("unused").shape(), (Shape{7}));
  for (float v : z.wrt.at("unused").to_f32()) EXPECT_EQ(v, 0.0f);

  // An intermediate tensor: d loss / d h, and the chain rule through it to w1.
  const Gradients g = engine.run(inputs, loss, {"h", "a", "w1"});
  EXPECT_EQ(g.wrt.at("h").shape(), (Shape{3, 5}));
  const Tensor x = inputs.at("x");
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 5; ++j) {
      double expected = 0;  // dW1 = x^T dH
      for (int r = 0; r < 3; ++r)
        expected += double(x.data<float>()[r * 4 + i]) * g.wrt.at("h").data<float>()[r * 5 + j];
      EXPECT_NEAR(g.wrt.at("w1").data<float>()[i * 5 + j], expected, 1e-5);
    }

  // Overrides: the same as a graph holding the other value.
  const Tensor w1b = uniform({4, 5}, rng);
  const Gradients o = engine.run(inputs, loss, {"w1", "w2", "x"}, {{"w1", w1b}});
  Graph g2 = t.graph();
  g2.initializers["w1"] = w1b;
  const Gradients e = GradientEngine(g2).run(inputs, loss, {"w1", "w2", "x"});
  EXPECT_EQ(o.loss, e.loss);
  for (const char* name : {"w1", "w2", "x"})
    EXPECT_EQ(o.wrt.at(name).to_f32(), e.wrt.at(name).to_f32()) << name;
  // And the graph itself is untouched.
  const Gradients back = engine.run(inputs, loss, {"w1"});
  EXPECT_NE(back.loss, o.loss);
}

// ---------------------------------------------------------------------------------------------
// Networks

TEST(AutogradNetwork, ConvNetEndToEnd) {
  // x[4,2,8,8] -> Conv 3x3 pad 1 (4) -> Relu -> MaxPool 2 -> depthwise Conv 3x3 -> HardSwish
  // -> Conv 1x1 (6) -> Clip(0, 6) -> GlobalAveragePool -> Flatten -> Gemm(transB) -> logits[4,5].
  // Its kinks (Relu, MaxPool, Clip, HardSwish) are left where random weights put them: the
  // comparison replaces coordinates with a kink inside the step, as for the bundled models.
  std::mt19937 rng(51);
  TestGraph t(13);
  Node& c1 = t.node("Conv", {"x", "w1", "b1"}, {"c1"});
  set_ints(c1, "pads", {1, 1, 1, 1});
  t.node("Relu", {"c1"}, {"r1"});
  Node& mp = t.node("MaxPool", {"r1"}, {"p1"});
  set_ints(mp, "kernel_shape", {2, 2});
  set_ints(mp, "strides", {2, 2});
  Node& dw = t.node("Conv", {"p1", "w2"}, {"c2"});
  set(dw, "group", std::int64_t{4});
  set_ints(dw, "pads", {1, 1, 1, 1});
  t.node("HardSwish", {"c2"}, {"h2"});
  t.node("Conv", {"h2", "w3", "b3"}, {"c3"});
  t.node("Clip", {"c3", "zero", "six"}, {"r3"});
  t.node("GlobalAveragePool", {"r3"}, {"g"});
  t.node("Flatten", {"g"}, {"f"});
  Node& fc = t.node("Gemm", {"f", "w4", "b4"}, {"logits"});
  set(fc, "transB", std::int64_t{1});
  t.input("x", {4, 2, 8, 8})
      .weight("w1", uniform({4, 2, 3, 3}, rng, -0.5f, 0.5f))
      .weight("b1", uniform({4}, rng, -0.1f, 0.1f))
      .weight("w2", uniform({4, 1, 3, 3}, rng, -0.8f, 0.8f))
      .weight("w3", uniform({6, 4, 1, 1}, rng))
      .weight("b3", uniform({6}, rng, 0.0f, 0.5f))
      .weight("zero", scalar(0.0f))
      .weight("six", scalar(6.0f))
      .weight("w4", uniform({5, 6}, rng, -2, 2))
      .weight("b4", uniform({5}, rng))
      .output("logits");
  const TensorMap inputs{{"x", uniform({4, 2, 8, 8}, rng)}};
  const Loss loss = ce_loss(4, 5, rng);
  expect_gradients_match(t.graph(), inputs, loss, {"x", "w1", "b1", "w2", "w3", "b3", "w4", "b4"},
                         510,
                         {.coords = 6,
                          .eps = 1e-3,
                          .rtol = 2e-2,
                          .prefer_large = true,
                          .adaptive_eps = true,
                          .skip_kinks = true});
}

TEST(AutogradNetwork, AttentionBlockEndToEnd) {
  // tokens x[2,4,8] -> LayerNorm -> q, k, v = x Wq, x Wk, x Wv -> softmax(q k^T / sqrt(8)) v
  // -> + x -> GELU (erf form) -> mean over tokens -> Gemm -> logits[2,3]
  std::mt19937 rng(52);
  TestGraph t(17);
  t.node("LayerNormalization", {"x", "ln_s", "ln_b"}, {"n"});
  t.node("MatMul", {"n", "wq"}, {"q"});
  t.node("MatMul", {"n", "wk"}, {"k"});
  t.node("MatMul", {"n", "wv"}, {"v"});
  set_ints(t.node("Transpose", {"k"}, {"kt"}), "perm", {0, 2, 1});
  t.node("MatMul", {"q", "kt"}, {"s"});
  t.node("Div", {"s", "scale"}, {"ss"});
  t.node("Softmax", {"ss"}, {"p"});
  t.node("MatMul", {"p", "v"}, {"att"});
  t.node("Add", {"att", "x"}, {"res"});
  t.node("Div", {"res", "sqrt2"}, {"r2"});
  t.node("Erf", {"r2"}, {"e"});
  t.node("Add", {"e", "one"}, {"e1"});
  t.node("Mul", {"res", "e1"}, {"m"});
  t.node("Mul", {"m", "half"}, {"gelu"});
  t.node("ReduceMean", {"gelu", "axes"}, {"pooled"});
  set(t.graph().nodes.back(), "keepdims", std::int64_t{0});
  set(t.node("Gemm", {"pooled", "wo", "bo"}, {"logits"}), "transB", std::int64_t{1});
  t.input("x", {2, 4, 8})
      .weight("ln_s", uniform({8}, rng, 0.5f, 1.5f))
      .weight("ln_b", uniform({8}, rng, -0.2f, 0.2f))
      .weight("wq", uniform({8, 8}, rng))
      .weight("wk", uniform({8, 8}, rng))
      .weight("wv", uniform({8, 8}, rng))
      .weight("scale", scalar(std::sqrt(8.0f)))
      .weight("sqrt2", scalar(std::sqrt(2.0f)))
      .weight("one", scalar(1.0f))
      .weight("half", scalar(0.5f))
      .ints("axes", {1})
      .weight("wo", uniform({3, 8}, rng, -2, 2))
      .weight("bo", uniform({3}, rng))
      .output("logits");
  t.graph().opset = 18;  // ReduceMean takes its axes as an input
  const TensorMap inputs{{"x", uniform({2, 4, 8}, rng, -2, 2)}};
  const Loss loss = ce_loss(2, 3, rng);
  expect_gradients_match(t.graph(), inputs, loss,
                         {"x", "ln_s", "ln_b", "wq", "wk", "wv", "wo", "bo"}, 520,
                         {.coords = 6,
                          .eps = 1e-2,
                          .rtol = 2e-2,
                          .prefer_large = true,
                          .directions = 2,
                          .dir_eps = 1e-3});
}

// ---------------------------------------------------------------------------------------------
// The bundled models: a batch of 4 random images, gradients with respect to the weights of
// several layers and the input, on random coordinates among those with sizeable gradients
// (where float32 differences resolve them). On random inputs these networks are full of kinks
// (ReLU6, HardSwish, MaxPool switching within a step of 1e-3), so coordinates whose one-sided
// differences disagree are replaced, and no directional derivatives are taken (a direction
// through all of a layer's weights crosses many kinks at once).
class AutogradBundledModel : public testing::TestWithParam<const char*> {};

TEST_P(AutogradBundledModel, WeightGradientsMatchFiniteDifferences) {
  const std::string name = GetParam();
  const Graph g = load_model(std::string(QS_RESOURCES_MODELS_DIR) + "/" + name + ".onnx");
  std::mt19937 rng(53);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Tensor x(DType::f32, {4, 1, 28, 28});
  for (std::int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = normal(rng);
  const TensorMap inputs{{g.inputs.at(0).name, x}};
  const Tensor out = output_of(g, inputs);
  Loss loss;
  if (out.rank() == 2) {
    loss = ce_loss(4, out.dim(1), rng);
  } else {
    loss.kind = Loss::kl_to_target;
    loss.target_logits = uniform(out.shape(), rng, -1, 1);
  }
  // The first, a middle and the last float weight tensor of rank >= 2, and the input.
  std::vector<std::string> weights;
  for (const Node& n : g.nodes)
    for (const std::string& in : n.inputs) {
      auto it = g.initializers.find(in);
      if (it != g.initializers.end() && it->second.dtype() == DType::f32 &&
          it->second.rank() >= 2 && std::find(weights.begin(), weights.end(), in) == weights.end())
        weights.push_back(in);
    }
  ASSERT_GE(weights.size(), 3u);
  std::vector<std::string> wrt = {weights.front(), weights[weights.size() / 2], weights.back(),
                                  g.inputs.at(0).name};
  SCOPED_TRACE(name);
  expect_gradients_match(g, inputs, loss, wrt, 530,
                         {.coords = 6,
                          .eps = 1e-3,
                          .rtol = 5e-2,
                          .atol_frac = 2e-3,
                          .prefer_large = true,
                          .adaptive_eps = true,
                          .skip_kinks = true});
}

INSTANTIATE_TEST_SUITE_P(Autograd, AutogradBundledModel,
                         testing::Values("lenet", "mobilenet", "vit", "autoencoder"),
                         [](const testing::TestParamInfo<const char*>& p) {
                           return std::string(p.param);
                         });
