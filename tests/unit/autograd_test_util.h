// Helpers for the GradientEngine tests (test_autograd_ops.cpp, test_autograd_engine.cpp): graphs
// built in the IR, inputs kept away from kinks, the loss computed independently of the engine
// from ReferenceExecutor forward passes, and central finite differences to compare with.
// Forward passes are float32, so the differences use steps of 1e-2..1e-3 and the comparisons a
// relative tolerance of about 1e-2 (plus a small absolute one, scaled to the gradient's size).
// Inputs are kept away from kinks (Relu at 0, Clip at its bounds, ties in MaxPool) by at least
// the step, where the derivative is not defined.
#pragma once

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

namespace autograd_test {

using namespace qs;

// ---- graphs built directly in the IR ----

template <typename T>
inline void set(Node& n, const std::string& key, T value) {
  n.attributes[key] = Attribute{value};
}
inline void set_ints(Node& n, const std::string& key, std::vector<std::int64_t> v) {
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

inline Tensor uniform(const Shape& shape, std::mt19937& rng, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(static_cast<std::size_t>(shape_numel(shape)));
  for (float& x : v) x = d(rng);
  return Tensor::from_vector<float>(shape, v);
}

// Uniform in [-hi, -lo] u [lo, hi]: away from 0.
inline Tensor away_from_zero(const Shape& shape, std::mt19937& rng, float lo = 0.1f,
                             float hi = 1.0f) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::bernoulli_distribution sign(0.5);
  std::vector<float> v(static_cast<std::size_t>(shape_numel(shape)));
  for (float& x : v) x = sign(rng) ? d(rng) : -d(rng);
  return Tensor::from_vector<float>(shape, v);
}

// Distinct values spaced `gap` apart, in random order (no ties for MaxPool).
inline Tensor distinct(const Shape& shape, std::mt19937& rng, float gap = 0.05f) {
  std::vector<float> v(static_cast<std::size_t>(shape_numel(shape)));
  for (std::size_t i = 0; i < v.size(); ++i)
    v[i] = gap * (static_cast<float>(i) - static_cast<float>(v.size()) / 2);
  std::shuffle(v.begin(), v.end(), rng);
  return Tensor::from_vector<float>(shape, v);
}

// Moves values within `margin` of any of `points` to `margin` away from it.
inline Tensor avoid(Tensor t, const std::vector<float>& points, float margin) {
  t = t.clone();
  float* p = t.data<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i)
    for (float k : points)
      if (std::abs(p[i] - k) < margin) p[i] = p[i] < k ? k - margin : k + margin;
  return t;
}

inline Tensor scalar(float v) {
  return Tensor::scalar_f32(v);
}

// ---- the loss, computed independently of the engine ----

inline double reference_loss(const Tensor& out, const Loss& loss) {
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

inline double forward_loss(const Graph& g, const TensorMap& inputs, const Loss& loss) {
  ReferenceExecutor ex(g);
  const TensorMap out = ex.run(inputs);
  return reference_loss(out.at(g.outputs.at(0).name), loss);
}

inline Tensor output_of(const Graph& g, const TensorMap& inputs) {
  ReferenceExecutor ex(g);
  return ex.run(inputs).at(g.outputs.at(0).name);
}

inline Loss kl_loss(const Graph& g, const TensorMap& inputs, std::mt19937& rng) {
  Loss loss;
  loss.kind = Loss::kl_to_target;
  loss.target_logits = uniform(output_of(g, inputs).shape(), rng, -2.0f, 2.0f);
  return loss;
}

inline Loss ce_loss(std::int64_t n, std::int64_t classes, std::mt19937& rng) {
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

inline Stencil loss_stencil(const Graph& g, const TensorMap& inputs, const Loss& loss,
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
inline void expect_gradients_match(const Graph& g, const TensorMap& inputs, const Loss& loss,
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
inline void check_op(Graph& g, const TensorMap& inputs, const std::vector<std::string>& wrt,
                     unsigned seed, const FdOptions& o = {}) {
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

}  // namespace autograd_test
