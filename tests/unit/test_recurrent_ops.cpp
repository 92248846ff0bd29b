// RNN, GRU and LSTM on the reference kernels beyond ONNX's node tests: one step computed here
// from ONNX's equations (GRU's linear_before_reset, LSTM's peepholes, clip and input_forget),
// and the relations that must hold between runs: a bidirectional layer is a forward and a
// reverse one, reverse is forward on the reversed sequence, a shorter sequence_lens entry is
// that entry run alone, layout 1 is layout 0 transposed, and Scan's directions and axes.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <utility>

#include "model_builder.h"
#include "quantscope/executor.h"
#include "quantscope/model_info.h"

using namespace qs;
using test::ModelBuilder;
using test::set_attr;

namespace {

std::vector<float> random_values(std::int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-0.8f, 0.8f);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

void set_strings(onnx::NodeProto& n, const std::string& key, const std::vector<std::string>& v) {
  auto* a = n.add_attribute();
  a->set_name(key);
  a->set_type(onnx::AttributeProto::STRINGS);
  for (const std::string& s : v) a->add_strings(s);
}

// A recurrent layer's weights for `dirs` directions.
struct Weights {
  std::int64_t gates, dirs, hidden, input;
  std::vector<float> w, r, b;
  Weights(std::int64_t g, std::int64_t d, std::int64_t h, std::int64_t i, unsigned seed)
      : gates(g), dirs(d), hidden(h), input(i) {
    w = random_values(d * g * h * i, seed);
    r = random_values(d * g * h * h, seed + 1);
    b = random_values(d * 2 * g * h, seed + 2);
  }
  // The weights of direction `d` alone.
  Weights one(std::int64_t d) const {
    Weights o = *this;
    o.dirs = 1;
    auto part = [&](const std::vector<float>& v) {
      const std::size_t n = v.size() / static_cast<std::size_t>(dirs);
      return std::vector<float>(v.begin() + static_cast<std::ptrdiff_t>(d * n),
                                v.begin() + static_cast<std::ptrdiff_t>((d + 1) * n));
    };
    o.w = part(w);
    o.r = part(r);
    o.b = part(b);
    return o;
  }
};

struct Options {
  Options(std::string d = "forward", std::int64_t l = 0) : direction(std::move(d)), layout(l) {}
  std::string direction;
  std::int64_t layout;
  std::vector<std::int64_t> lengths;  // sequence_lens, when given
};

// Runs op (RNN, GRU, LSTM) on x; returns Y and Y_h.
std::pair<Tensor, Tensor> run(const std::string& op, const Weights& wt, const Tensor& x,
                              const Options& o = {}) {
  ModelBuilder m(14);
  std::vector<std::int64_t> xs(x.shape().begin(), x.shape().end());
  m.input("x", xs);
  m.initializer("w", {wt.dirs, wt.gates * wt.hidden, wt.input}, wt.w);
  m.initializer("r", {wt.dirs, wt.gates * wt.hidden, wt.hidden}, wt.r);
  m.initializer("b", {wt.dirs, 2 * wt.gates * wt.hidden}, wt.b);
  std::vector<std::string> inputs{"x", "w", "r", "b"};
  if (!o.lengths.empty()) {
    m.initializer_i64("lens", {static_cast<std::int64_t>(o.lengths.size())}, o.lengths);
    inputs.push_back("lens");
  }
  auto& n = m.node(op, inputs, {"y", "y_h"});
  set_attr(n, "hidden_size", wt.hidden);
  set_attr(n, "direction", o.direction);
  set_attr(n, "layout", o.layout);
  m.output("y").output("y_h");
  const TensorMap out = ReferenceExecutor(m.load()).run({{"x", x}});
  return {out.at("y"), out.at("y_h")};
}

// x [seq, batch, input] reversed in time.
Tensor reversed(const Tensor& x) {
  const std::int64_t seq = x.dim(0), per = x.numel() / seq;
  std::vector<float> v = x.to_f32(), out(v.size());
  for (std::int64_t t = 0; t < seq; ++t)
    std::copy_n(v.begin() + t * per, per, out.begin() + (seq - 1 - t) * per);
  return Tensor::from_vector<float>(x.shape(), out);
}

// Y [seq, dirs, batch, hidden]: direction d as [seq, 1, batch, hidden].
std::vector<float> direction_of(const Tensor& y, std::int64_t d) {
  const std::int64_t seq = y.dim(0), dirs = y.dim(1), per = y.dim(2) * y.dim(3);
  const std::vector<float> v = y.to_f32();
  std::vector<float> out;
  for (std::int64_t t = 0; t < seq; ++t)
    out.insert(out.end(), v.begin() + (t * dirs + d) * per, v.begin() + (t * dirs + d + 1) * per);
  return out;
}

void expect_near(const std::vector<float>& got, const std::vector<float>& want,
                 const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], 1e-5f) << what << " at " << i;
  }
}

float sigmoid(float v) {
  return 1.0f / (1.0f + std::exp(-v));
}

}  // namespace

TEST(RecurrentOps, BidirectionalIsAForwardAndAReverseLayer) {
  const Tensor x = Tensor::from_vector<float>({5, 2, 3}, random_values(30, 7));
  for (const auto& [op, gates] :
       {std::pair<std::string, std::int64_t>{"RNN", 1}, {"GRU", 3}, {"LSTM", 4}}) {
    SCOPED_TRACE(op);
    const Weights wt(gates, 2, 4, 3, 11);
    const auto [y, y_h] = run(op, wt, x, {"bidirectional"});
    const auto [fy, fh] = run(op, wt.one(0), x);
    const auto [ry, rh] = run(op, wt.one(1), x, {"reverse"});
    expect_near(direction_of(y, 0), fy.to_f32(), "forward half");
    expect_near(direction_of(y, 1), ry.to_f32(), "reverse half");
    // Reverse is forward over the reversed sequence, its outputs put back in time order.
    const auto [fry, frh] = run(op, wt.one(1), reversed(x));
    expect_near(ry.to_f32(), reversed(fry).to_f32(), "reverse vs reversed input");
    expect_near(rh.to_f32(), frh.to_f32(), "reverse Y_h");
    std::vector<float> both = fh.to_f32(), back = rh.to_f32();
    both.insert(both.end(), back.begin(), back.end());
    expect_near(y_h.to_f32(), both, "Y_h");
  }
}

TEST(RecurrentOps, AShorterSequenceIsThatEntryRunAlone) {
  // Batch entry 1 has 2 of 4 steps: its outputs are its first two steps run alone, zeros after,
  // and Y_h is the state after its own last step, in either direction.
  const std::int64_t seq = 4, input = 3;
  const Tensor x = Tensor::from_vector<float>({seq, 2, input}, random_values(seq * 2 * input, 3));
  std::vector<float> alone;  // entry 1's first two steps, [2, 1, input]
  for (std::int64_t t = 0; t < 2; ++t) {
    const std::vector<float> v = x.to_f32();
    alone.insert(alone.end(), v.begin() + (t * 2 + 1) * input, v.begin() + (t * 2 + 2) * input);
  }
  const Tensor x1 = Tensor::from_vector<float>({2, 1, input}, alone);
  for (const std::string direction : {"forward", "reverse"}) {
    SCOPED_TRACE(direction);
    const Weights wt(3, 1, 2, input, 5);
    Options o{direction};
    o.lengths = {seq, 2};
    const auto [y, y_h] = run("GRU", wt, x, o);
    const auto [y1, h1] = run("GRU", wt, x1, {direction});
    const std::vector<float> v = y.to_f32(), w1 = y1.to_f32();
    for (std::int64_t t = 0; t < seq; ++t)
      for (std::int64_t k = 0; k < 2; ++k) {
        const float want = t < 2 ? w1[static_cast<std::size_t>(t * 2 + k)] : 0.0f;
        EXPECT_NEAR(v[static_cast<std::size_t>((t * 2 + 1) * 2 + k)], want, 1e-6f) << t;
      }
    const std::vector<float> h = y_h.to_f32(), hw = h1.to_f32();
    EXPECT_NEAR(h[2], hw[0], 1e-6f);
    EXPECT_NEAR(h[3], hw[1], 1e-6f);
  }
}

TEST(RecurrentOps, BatchFirstLayoutIsTheTransposedLayout) {
  const std::int64_t seq = 3, batch = 2, input = 2, hidden = 3;
  const std::vector<float> v = random_values(seq * batch * input, 9);
  std::vector<float> t(v.size());  // [batch, seq, input]
  for (std::int64_t s = 0; s < seq; ++s)
    for (std::int64_t b = 0; b < batch; ++b)
      for (std::int64_t k = 0; k < input; ++k)
        t[static_cast<std::size_t>((b * seq + s) * input + k)] =
            v[static_cast<std::size_t>((s * batch + b) * input + k)];
  const Weights wt(4, 2, hidden, input, 21);
  const auto [y, y_h] =
      run("LSTM", wt, Tensor::from_vector<float>({seq, batch, input}, v), {"bidirectional"});
  Options o{"bidirectional", 1};
  const auto [yb, hb] = run("LSTM", wt, Tensor::from_vector<float>({batch, seq, input}, t), o);
  ASSERT_EQ(yb.shape(), (Shape{batch, seq, 2, hidden}));
  ASSERT_EQ(hb.shape(), (Shape{batch, 2, hidden}));
  const std::vector<float> a = y.to_f32(), bt = yb.to_f32(), ha = y_h.to_f32(), hbt = hb.to_f32();
  for (std::int64_t s = 0; s < seq; ++s)
    for (std::int64_t d = 0; d < 2; ++d)
      for (std::int64_t b = 0; b < batch; ++b)
        for (std::int64_t k = 0; k < hidden; ++k) {
          EXPECT_EQ(a[static_cast<std::size_t>(((s * 2 + d) * batch + b) * hidden + k)],
                    bt[static_cast<std::size_t>(((b * seq + s) * 2 + d) * hidden + k)]);
        }
  for (std::int64_t d = 0; d < 2; ++d)
    for (std::int64_t b = 0; b < batch; ++b)
      for (std::int64_t k = 0; k < hidden; ++k) {
        EXPECT_EQ(ha[static_cast<std::size_t>((d * batch + b) * hidden + k)],
                  hbt[static_cast<std::size_t>((b * 2 + d) * hidden + k)]);
      }
}

TEST(RecurrentOps, OneStepFollowsOnnxEquations) {
  // Hidden and input size 1, one step from a given state: every gate by hand.
  const float x = 0.7f, h0 = -0.4f, c0 = 0.3f;
  {
    // GRU, linear_before_reset: h~ = tanh(x Wh + Wbh + r * (h0 Rh + Rbh)).
    const std::vector<float> w{0.5f, -0.3f, 0.8f}, r{0.2f, 0.6f, -0.7f},
        b{0.1f, 0.2f, 0.3f, -0.1f, 0.05f, 0.4f};
    ModelBuilder m(14);
    m.input("x", {1, 1, 1}).input("h0", {1, 1, 1});
    m.initializer("w", {1, 3, 1}, w).initializer("r", {1, 3, 1}, r).initializer("b", {1, 6}, b);
    auto& n = m.node("GRU", {"x", "w", "r", "b", "", "h0"}, {"", "y_h"});
    set_attr(n, "hidden_size", std::int64_t{1});
    set_attr(n, "linear_before_reset", std::int64_t{1});
    m.output("y_h");
    const TensorMap out =
        ReferenceExecutor(m.load()).run({{"x", Tensor::from_vector<float>({1, 1, 1}, {x})},
                                         {"h0", Tensor::from_vector<float>({1, 1, 1}, {h0})}});
    const float z = sigmoid(x * w[0] + h0 * r[0] + b[0] + b[3]);
    const float rg = sigmoid(x * w[1] + h0 * r[1] + b[1] + b[4]);
    const float hc = std::tanh(x * w[2] + b[2] + rg * (h0 * r[2] + b[5]));
    EXPECT_NEAR(out.at("y_h").to_f32()[0], (1 - z) * hc + z * h0, 1e-6f);
  }
  {
    // LSTM with peepholes, clip 0.5 on every gate's input, input_forget (f = 1 - i), and
    // Relu for h: gates in W's order i, o, f, c; peepholes i, o, f.
    const std::vector<float> w{0.9f, -0.6f, 0.4f, 0.7f}, r{0.3f, 0.2f, -0.5f, 0.1f},
        p{0.25f, -0.35f, 0.45f};
    ModelBuilder m(14);
    m.input("x", {1, 1, 1}).input("h0", {1, 1, 1}).input("c0", {1, 1, 1});
    m.initializer("w", {1, 4, 1}, w).initializer("r", {1, 4, 1}, r).initializer("p", {1, 3}, p);
    auto& n = m.node("LSTM", {"x", "w", "r", "", "", "h0", "c0", "p"}, {"", "y_h", "y_c"});
    set_attr(n, "hidden_size", std::int64_t{1});
    set_attr(n, "clip", 0.5f);
    set_attr(n, "input_forget", std::int64_t{1});
    set_strings(n, "activations", {"Sigmoid", "Tanh", "Relu"});
    m.output("y_h").output("y_c");
    const TensorMap out =
        ReferenceExecutor(m.load()).run({{"x", Tensor::from_vector<float>({1, 1, 1}, {x})},
                                         {"h0", Tensor::from_vector<float>({1, 1, 1}, {h0})},
                                         {"c0", Tensor::from_vector<float>({1, 1, 1}, {c0})}});
    auto clip = [](float v) { return std::clamp(v, -0.5f, 0.5f); };
    const float i = sigmoid(clip(x * w[0] + h0 * r[0] + p[0] * c0));
    const float c = std::tanh(clip(x * w[3] + h0 * r[3]));
    const float c1 = (1 - i) * c0 + i * c;
    const float o = sigmoid(clip(x * w[1] + h0 * r[1] + p[1] * c1));
    EXPECT_NEAR(out.at("y_c").to_f32()[0], c1, 1e-6f);
    EXPECT_NEAR(out.at("y_h").to_f32()[0], o * std::max(c1, 0.0f), 1e-6f);
  }
}

TEST(RecurrentOps, UnknownActivationIsNamed) {
  const Weights wt(1, 1, 2, 2, 1);
  ModelBuilder m(14);
  m.input("x", {3, 1, 2});
  m.initializer("w", {1, 2, 2}, wt.w).initializer("r", {1, 2, 2}, wt.r);
  auto& n = m.node("RNN", {"x", "w", "r"}, {"y"});
  set_strings(n, "activations", {"Swish"});
  m.output("y");
  try {
    ReferenceExecutor(m.load()).run(
        {{"x", Tensor::from_vector<float>({3, 1, 2}, {1, 2, 3, 4, 5, 6})}});
    FAIL() << "an unknown activation ran";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Swish"), std::string::npos) << e.what();
  }
}

TEST(RecurrentOps, ModelInfoCountsEveryStepsGates) {
  // A bidirectional GRU over 7 steps of 3 inputs, hidden 4: per step and direction,
  // 3 gates x 4 units x (3 inputs + 4 state values).
  const Weights wt(3, 2, 4, 3, 2);
  ModelBuilder m(14);
  m.input("x", {7, -1, 3});
  m.initializer("w", {2, 12, 3}, wt.w).initializer("r", {2, 12, 4}, wt.r);
  auto& n = m.node("GRU", {"x", "w", "r"}, {"y"}, "gru");
  set_attr(n, "hidden_size", std::int64_t{4});
  set_attr(n, "direction", std::string("bidirectional"));
  m.output("y");
  const ModelInfo info = describe_model(m.load());
  ASSERT_EQ(info.layers.size(), 1u);
  EXPECT_EQ(info.layers[0].macs, 7 * 2 * 3 * 4 * (3 + 4));
  EXPECT_EQ(dims_text(info.layers[0].output_dims), "[7,2,N,4]");
}
