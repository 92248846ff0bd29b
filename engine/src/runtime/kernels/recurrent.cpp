// Recurrent layers on the reference kernels: RNN, GRU and LSTM as ONNX defines them (gate order,
// directions, sequence_lens, activations with their alpha/beta, clip, layout, GRU's
// linear_before_reset, LSTM's peepholes and input_forget). One time step is two products,
// X_t W^T and H R^T, over the whole batch.
#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <functional>
#include <variant>

#include "runtime/kernel_util.h"
#include "runtime/kernels/kernels.h"

namespace qs::kernels {

namespace {

using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const Matrix>;
using Activation = std::function<float(float)>;

enum class Cell { rnn, gru, lstm };

struct Spec {
  Cell cell;
  int gates;      // row blocks of W and R: 1, 3 (z r h), 4 (i o f c)
  int functions;  // activations per direction: f; f g; f g h
  const char* defaults[3];
};

const Spec kRnn{Cell::rnn, 1, 1, {"Tanh", "", ""}};
const Spec kGru{Cell::gru, 3, 2, {"Sigmoid", "Tanh", ""}};
const Spec kLstm{Cell::lstm, 4, 3, {"Sigmoid", "Tanh", "Tanh"}};

const std::vector<std::string>* strings_attr(const Node& n, const std::string& key) {
  auto it = n.attributes.find(key);
  return it == n.attributes.end() ? nullptr
                                  : std::get_if<std::vector<std::string>>(&it->second.value);
}

// The activation functions ONNX's recurrent ops name, with their alpha/beta defaults taken from
// the corresponding ops. `alphas` and `betas` are consumed in order by the functions that use
// them.
Activation activation(const KernelContext& c, const std::string& name,
                      const std::vector<float>& alphas, std::size_t& next_alpha,
                      const std::vector<float>& betas, std::size_t& next_beta) {
  auto alpha = [&](float fallback) {
    return next_alpha < alphas.size() ? alphas[next_alpha++] : fallback;
  };
  auto beta = [&](float fallback) {
    return next_beta < betas.size() ? betas[next_beta++] : fallback;
  };
  if (name == "Sigmoid") return [](float x) { return 1.0f / (1.0f + std::exp(-x)); };
  if (name == "Tanh") return [](float x) { return std::tanh(x); };
  if (name == "Relu") return [](float x) { return std::max(x, 0.0f); };
  if (name == "Softsign") return [](float x) { return x / (1.0f + std::abs(x)); };
  if (name == "Softplus") return [](float x) { return std::log1p(std::exp(x)); };
  if (name == "Affine") {
    const float a = alpha(1.0f), b = beta(0.0f);
    return [a, b](float x) { return a * x + b; };
  }
  if (name == "LeakyRelu") {
    const float a = alpha(0.01f);
    return [a](float x) { return x >= 0 ? x : a * x; };
  }
  if (name == "ThresholdedRelu") {
    const float a = alpha(1.0f);
    return [a](float x) { return x > a ? x : 0.0f; };
  }
  if (name == "ScaledTanh") {
    const float a = alpha(1.0f), b = beta(1.0f);
    return [a, b](float x) { return a * std::tanh(b * x); };
  }
  if (name == "HardSigmoid") {
    const float a = alpha(0.2f), b = beta(0.5f);
    return [a, b](float x) { return std::clamp(a * x + b, 0.0f, 1.0f); };
  }
  if (name == "Elu") {
    const float a = alpha(1.0f);
    return [a](float x) { return x >= 0 ? x : a * (std::exp(x) - 1.0f); };
  }
  c.unsupported("activation '" + name + "'");
}

// The node's functions for each direction: [direction][f, g, h].
std::vector<std::vector<Activation>> activations(const KernelContext& c, const Spec& spec,
                                                 int dirs) {
  std::vector<std::string> names;
  if (const auto* given = strings_attr(c.node, "activations")) names = *given;
  const std::size_t want = static_cast<std::size_t>(spec.functions * dirs);
  if (names.empty())
    for (int d = 0; d < dirs; ++d)
      for (int k = 0; k < spec.functions; ++k) names.push_back(spec.defaults[k]);
  if (names.size() != want)
    c.fail("'activations' has " + std::to_string(names.size()) + " functions, expected " +
           std::to_string(want));
  const std::vector<float> alphas = c.node.attr_floats("activation_alpha");
  const std::vector<float> betas = c.node.attr_floats("activation_beta");
  std::size_t next_alpha = 0, next_beta = 0;
  std::vector<std::vector<Activation>> out(static_cast<std::size_t>(dirs));
  for (std::size_t i = 0; i < names.size(); ++i)
    out[i / static_cast<std::size_t>(spec.functions)].push_back(
        activation(c, names[i], alphas, next_alpha, betas, next_beta));
  return out;
}

void recurrent(KernelContext& c, const Spec& spec) {
  for (int i : {0, 1, 2}) require_float(c, i);
  const bool batch_first = c.node.attr_int("layout", 0) != 0;
  const Tensor& x = c.in(0);
  const Tensor& w = c.in(1);
  const Tensor& r = c.in(2);
  if (x.rank() != 3) c.fail("X must be 3-D, got " + shape_to_string(x.shape()));
  const std::int64_t seq = x.dim(batch_first ? 1 : 0), batch = x.dim(batch_first ? 0 : 1);
  const std::int64_t input = x.dim(2);
  const std::string direction = c.node.attr_string("direction", "forward");
  if (direction != "forward" && direction != "reverse" && direction != "bidirectional")
    c.fail("direction '" + direction + "' is not forward, reverse or bidirectional");
  const int dirs = direction == "bidirectional" ? 2 : 1;
  if (r.rank() != 3) c.fail("R must be 3-D, got " + shape_to_string(r.shape()));
  const std::int64_t hidden = c.node.attr_int("hidden_size", r.dim(2));
  const std::int64_t gh = spec.gates * hidden;
  if (w.shape() != Shape{dirs, gh, input})
    c.fail("W must be " + shape_to_string({dirs, gh, input}) + ", got " +
           shape_to_string(w.shape()));
  if (r.shape() != Shape{dirs, gh, hidden})
    c.fail("R must be " + shape_to_string({dirs, gh, hidden}) + ", got " +
           shape_to_string(r.shape()));
  const Shape state_shape = batch_first ? Shape{batch, dirs, hidden} : Shape{dirs, batch, hidden};
  auto optional = [&](int i, const Shape& shape, const char* what) -> const float* {
    if (!c.has(i)) return nullptr;
    require_float(c, i);
    if (c.in(i).shape() != shape)
      c.fail(std::string(what) + " must be " + shape_to_string(shape) + ", got " +
             shape_to_string(c.in(i).shape()));
    return c.shape_only ? nullptr : c.in(i).data<float>();
  };
  const bool lstm = spec.cell == Cell::lstm;
  const float* bias = optional(3, {dirs, 2 * gh}, "B");
  const float* h0 = optional(5, state_shape, "initial_h");
  const float* c0 = lstm ? optional(6, state_shape, "initial_c") : nullptr;
  const float* peep = lstm ? optional(7, {dirs, 3 * hidden}, "P") : nullptr;
  std::vector<std::int64_t> lengths(static_cast<std::size_t>(batch), seq);
  if (c.has(4)) {
    if (c.in(4).numel() != batch)
      c.fail("sequence_lens must have " + std::to_string(batch) + " values");
    if (!c.shape_only) lengths = c.in_ints(4);
    for (std::int64_t l : lengths)
      if (l < 0 || l > seq)
        c.fail("a sequence length " + std::to_string(l) + " is outside [0, " + std::to_string(seq) +
               "]");
  }
  auto want = [&](int k) {
    return static_cast<int>(c.node.outputs.size()) > k && !c.node.outputs[k].empty();
  };
  const Shape y_shape =
      batch_first ? Shape{batch, seq, dirs, hidden} : Shape{seq, dirs, batch, hidden};
  Tensor* y = want(0) ? &c.output(0, DType::f32, y_shape) : nullptr;
  Tensor* y_h = want(1) ? &c.output(1, DType::f32, state_shape) : nullptr;
  Tensor* y_c = lstm && want(2) ? &c.output(2, DType::f32, state_shape) : nullptr;
  if (c.shape_only) return;

  const auto functions = activations(c, spec, dirs);
  const bool clipping = c.node.has_attr("clip");
  const float clip = c.node.attr_float("clip", 0.0f);
  auto pre = [&](float v) { return clipping ? std::clamp(v, -clip, clip) : v; };
  const bool linear_before_reset = c.node.attr_int("linear_before_reset", 0) != 0;
  const bool input_forget = c.node.attr_int("input_forget", 0) != 0;
  // Element offsets into X, Y and the [dirs, batch, hidden] states for either layout.
  auto x_at = [&](std::int64_t t, std::int64_t b) {
    return (batch_first ? b * seq + t : t * batch + b) * input;
  };
  auto y_at = [&](std::int64_t t, int d, std::int64_t b) {
    return batch_first ? ((b * seq + t) * dirs + d) * hidden
                       : ((t * dirs + d) * batch + b) * hidden;
  };
  auto state_at = [&](int d, std::int64_t b) {
    return batch_first ? (b * dirs + d) * hidden : (d * batch + b) * hidden;
  };
  const float* px = x.data<float>();
  Matrix xt(batch, input), xw(batch, gh), hr(batch, gh);
  for (int d = 0; d < dirs; ++d) {
    const bool reverse = direction == "reverse" || d == 1;
    const ConstMap wd(w.data<float>() + d * gh * input, gh, input);
    const ConstMap rd(r.data<float>() + d * gh * hidden, gh, hidden);
    const float* wb = bias ? bias + d * 2 * gh : nullptr;
    const float* rb = bias ? wb + gh : nullptr;
    const float* pd = peep ? peep + d * 3 * hidden : nullptr;
    const Activation& f = functions[d][0];
    Matrix h = Matrix::Zero(batch, hidden), cell = Matrix::Zero(batch, hidden);
    for (std::int64_t b = 0; b < batch; ++b)
      for (std::int64_t k = 0; k < hidden; ++k) {
        if (h0) h(b, k) = h0[state_at(d, b) + k];
        if (c0) cell(b, k) = c0[state_at(d, b) + k];
      }
    for (std::int64_t step = 0; step < seq; ++step) {
      for (std::int64_t b = 0; b < batch; ++b) {
        // Reverse runs each sequence from its own last element.
        const std::int64_t t = reverse ? lengths[b] - 1 - step : step;
        for (std::int64_t k = 0; k < input; ++k) xt(b, k) = t >= 0 ? px[x_at(t, b) + k] : 0.0f;
      }
      xw.noalias() = xt * wd.transpose();
      if (spec.cell == Cell::gru && !linear_before_reset)  // r applied to H before R_h
        hr.leftCols(2 * hidden).noalias() = h * rd.topRows(2 * hidden).transpose();
      else
        hr.noalias() = h * rd.transpose();
      for (std::int64_t b = 0; b < batch; ++b) {
        if (step >= lengths[b]) continue;  // past this sequence's end: its state stays
        auto gate = [&](int g, std::int64_t k) {
          float v = xw(b, g * hidden + k);
          if (wb) v += wb[g * hidden + k] + rb[g * hidden + k];
          return v;
        };
        if (spec.cell == Cell::rnn) {
          for (std::int64_t k = 0; k < hidden; ++k) h(b, k) = f(pre(gate(0, k) + hr(b, k)));
        } else if (spec.cell == Cell::gru) {
          const Activation& g = functions[d][1];
          Eigen::RowVectorXf z(hidden), reset(hidden), hb(hidden);
          for (std::int64_t k = 0; k < hidden; ++k) {
            z(k) = f(pre(gate(0, k) + hr(b, k)));
            reset(k) = f(pre(gate(1, k) + hr(b, hidden + k)));
          }
          if (linear_before_reset) {
            for (std::int64_t k = 0; k < hidden; ++k) {
              const float rh = hr(b, 2 * hidden + k) + (rb ? rb[2 * hidden + k] : 0.0f);
              const float xh = xw(b, 2 * hidden + k) + (wb ? wb[2 * hidden + k] : 0.0f);
              hb(k) = g(pre(xh + reset(k) * rh));
            }
          } else {
            const Eigen::RowVectorXf gated = reset.cwiseProduct(h.row(b));
            const Eigen::RowVectorXf rh = gated * rd.bottomRows(hidden).transpose();
            for (std::int64_t k = 0; k < hidden; ++k) hb(k) = g(pre(gate(2, k) + rh(k)));
          }
          for (std::int64_t k = 0; k < hidden; ++k)
            h(b, k) = (1.0f - z(k)) * hb(k) + z(k) * h(b, k);
        } else {
          const Activation& g = functions[d][1];
          const Activation& hf = functions[d][2];
          for (std::int64_t k = 0; k < hidden; ++k) {
            const float c_prev = cell(b, k);
            const float i = f(pre(gate(0, k) + hr(b, k) + (pd ? pd[k] * c_prev : 0.0f)));
            const float fg = input_forget ? 1.0f - i
                                          : f(pre(gate(2, k) + hr(b, 2 * hidden + k) +
                                                  (pd ? pd[2 * hidden + k] * c_prev : 0.0f)));
            const float candidate = g(pre(gate(3, k) + hr(b, 3 * hidden + k)));
            const float c_new = fg * c_prev + i * candidate;
            const float o =
                f(pre(gate(1, k) + hr(b, hidden + k) + (pd ? pd[hidden + k] * c_new : 0.0f)));
            cell(b, k) = c_new;
            h(b, k) = o * hf(c_new);
          }
        }
        if (y) {
          const std::int64_t t = reverse ? lengths[b] - 1 - step : step;
          float* out = y->data<float>() + y_at(t, d, b);
          for (std::int64_t k = 0; k < hidden; ++k) out[k] = h(b, k);
        }
      }
    }
    for (std::int64_t b = 0; b < batch; ++b)
      for (std::int64_t k = 0; k < hidden; ++k) {
        if (y_h) y_h->data<float>()[state_at(d, b) + k] = h(b, k);
        if (y_c) y_c->data<float>()[state_at(d, b) + k] = cell(b, k);
      }
  }
}

}  // namespace

void rnn(KernelContext& c) {
  recurrent(c, kRnn);
}
void gru(KernelContext& c) {
  recurrent(c, kGru);
}
void lstm(KernelContext& c) {
  recurrent(c, kLstm);
}

}  // namespace qs::kernels
