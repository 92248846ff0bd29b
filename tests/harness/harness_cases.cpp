#include "harness_cases.h"

#include <functional>

#include "model_builder.h"
#include "random_dataset.h"

namespace qs::harness {

namespace {

using test::ModelBuilder;
using test::random_values;
using test::set_attr;
using V = std::vector<std::int64_t>;

std::int64_t numel(const V& dims) {
  std::int64_t n = 1;
  for (std::int64_t d : dims) n *= d;
  return n;
}

// A graph x -> op(x, constants...) -> y; `attrs` sets the node's attributes.
Case unary(const std::string& name, const std::string& op, const V& x,
           const std::function<void(ModelBuilder&, std::vector<std::string>&)>& constants,
           const std::function<void(onnx::NodeProto&)>& attrs, double tol = 1e-5,
           std::int64_t opset = 13) {
  ModelBuilder b(opset);
  V dims = x;
  dims[0] = -1;
  b.input("x", dims);
  std::vector<std::string> inputs{"x"};
  if (constants) constants(b, inputs);
  auto& n = b.node(op, inputs, {"y"}, "op");
  if (attrs) attrs(n);
  b.output("y");
  return {name, op, b.load(), tol};
}

// Adds a constant input of seeded random values.
auto weight(const std::string& name, const V& dims, unsigned seed, float sd = 0.3f) {
  return [=](ModelBuilder& b, std::vector<std::string>& inputs) {
    b.initializer(name, dims, random_values(static_cast<std::size_t>(numel(dims)), seed, sd));
    inputs.push_back(name);
  };
}

auto weights(std::vector<std::function<void(ModelBuilder&, std::vector<std::string>&)>> all) {
  return [all](ModelBuilder& b, std::vector<std::string>& inputs) {
    for (const auto& w : all) w(b, inputs);
  };
}

auto ints(const std::string& name, const V& values) {
  return [=](ModelBuilder& b, std::vector<std::string>& inputs) {
    b.initializer_i64(name, {static_cast<std::int64_t>(values.size())}, values);
    inputs.push_back(name);
  };
}

auto floats(const std::string& name, const V& dims, std::vector<float> values) {
  return [=](ModelBuilder& b, std::vector<std::string>& inputs) {
    b.initializer(name, dims, values);
    inputs.push_back(name);
  };
}

auto attr(const std::string& key, V v) {
  return [=](onnx::NodeProto& n) { set_attr(n, key, v); };
}

auto attrs(std::vector<std::function<void(onnx::NodeProto&)>> all) {
  return [all](onnx::NodeProto& n) {
    for (const auto& a : all) a(n);
  };
}

auto attr_i(const std::string& key, std::int64_t v) {
  return [=](onnx::NodeProto& n) { set_attr(n, key, v); };
}

auto attr_f(const std::string& key, float v) {
  return [=](onnx::NodeProto& n) { set_attr(n, key, v); };
}

// Attention's product of two run-time inputs.
Case batched_matmul() {
  ModelBuilder b(13);
  b.input("a", {-1, 4, 6, 8});
  b.input("b", {-1, 4, 8, 5});
  b.node("MatMul", {"a", "b"}, {"y"}, "op");
  b.output("y");
  return {"MatMul of two inputs [N,4,6,8]x[N,4,8,5]", "MatMul", b.load(), 1e-5};
}

// A residual block's Conv -> Add(skip) -> Relu, fused on most devices.
Case residual() {
  ModelBuilder b(13);
  b.input("x", {-1, 8, 6, 6});
  b.initializer("w", {8, 8, 3, 3}, random_values(576, 11, 0.2f));
  b.initializer("bias", {8}, random_values(8, 12));
  auto& conv = b.node("Conv", {"x", "w", "bias"}, {"c"}, "op");
  set_attr(conv, "pads", V{1, 1, 1, 1});
  b.node("Add", {"c", "x"}, {"s"}, "add");
  b.node("Relu", {"s"}, {"y"}, "relu");
  b.output("y");
  return {"Conv + Add(skip) + Relu", "Conv", b.load(), 1e-5};
}

Case concat() {
  ModelBuilder b(13);
  b.input("x", {-1, 4, 5, 5});
  b.node("Relu", {"x"}, {"r"}, "relu");
  auto& n = b.node("Concat", {"x", "r"}, {"y"}, "op");
  set_attr(n, "axis", std::int64_t{1});
  b.output("y");
  return {"Concat of x and Relu(x), axis 1", "Concat", b.load(), 1e-6};
}

}  // namespace

std::vector<Case> cases() {
  const auto pads1 = attr("pads", {1, 1, 1, 1});
  std::vector<Case> c;
  c.push_back(unary("Conv 3x3 pad 1, bias", "Conv", {2, 8, 10, 10},
                    weights({weight("w", {16, 8, 3, 3}, 1), weight("b", {16}, 2)}), pads1));
  c.push_back(unary("Conv 3x3 stride 2", "Conv", {2, 4, 9, 9}, weight("w", {8, 4, 3, 3}, 3),
                    attr("strides", {2, 2})));
  c.push_back(unary("Conv depthwise 3x3", "Conv", {2, 8, 8, 8}, weight("w", {8, 1, 3, 3}, 4),
                    attrs({pads1, attr_i("group", 8)})));
  c.push_back(unary("Conv 1x1", "Conv", {2, 16, 7, 7},
                    weights({weight("w", {32, 16, 1, 1}, 5), weight("b", {32}, 6)}), {}));
  c.push_back(residual());
  c.push_back(unary("ConvTranspose 3x3 stride 2", "ConvTranspose", {2, 4, 5, 5},
                    weight("w", {4, 6, 3, 3}, 7), attr("strides", {2, 2})));
  c.push_back(unary("Gemm transB, bias", "Gemm", {2, 32},
                    weights({weight("w", {10, 32}, 8), weight("b", {10}, 9)}),
                    attr_i("transB", 1)));
  c.push_back(
      unary("MatMul [N,5,16]x[16,12]", "MatMul", {2, 5, 16}, weight("w", {16, 12}, 10), {}));
  c.push_back(batched_matmul());
  c.push_back(unary("Relu", "Relu", {2, 3, 4, 5}, {}, {}, 0));
  c.push_back(unary("LeakyRelu 0.1", "LeakyRelu", {2, 3, 4, 5}, {}, attr_f("alpha", 0.1f), 1e-6));
  c.push_back(unary("Sigmoid", "Sigmoid", {2, 3, 4, 5}, {}, {}, 1e-5));
  c.push_back(unary("Tanh", "Tanh", {2, 3, 4, 5}, {}, {}, 1e-5));
  c.push_back(unary("HardSwish", "HardSwish", {2, 3, 4, 5}, {}, {}, 1e-5, 14));
  c.push_back(unary("Clip [-0.5, 0.5]", "Clip", {2, 3, 4, 5},
                    weights({floats("lo", {}, {-0.5f}), floats("hi", {}, {0.5f})}), {}, 0));
  c.push_back(
      unary("Add [8,1,1] broadcast", "Add", {2, 8, 4, 4}, weight("c", {8, 1, 1}, 13), {}, 1e-6));
  c.push_back(
      unary("Mul [8,1,1] broadcast", "Mul", {2, 8, 4, 4}, weight("c", {8, 1, 1}, 14), {}, 1e-6));
  c.push_back(unary("Sub [4] broadcast", "Sub", {2, 3, 4}, weight("c", {4}, 15), {}, 1e-6));
  c.push_back(unary("Div by 2", "Div", {2, 3, 4}, floats("c", {}, {2.0f}), {}, 1e-6));
  c.push_back(unary("MaxPool 3x3 stride 2 pad 1", "MaxPool", {2, 4, 9, 9}, {},
                    attrs({attr("kernel_shape", {3, 3}), attr("strides", {2, 2}), pads1}), 0));
  c.push_back(unary("AveragePool 2x2 stride 2", "AveragePool", {2, 4, 8, 8}, {},
                    attrs({attr("kernel_shape", {2, 2}), attr("strides", {2, 2})}), 1e-6));
  c.push_back(unary("GlobalAveragePool", "GlobalAveragePool", {2, 8, 7, 7}, {}, {}, 1e-5));
  c.push_back(unary("Softmax axis -1", "Softmax", {2, 3, 10}, {}, attr_i("axis", -1), 1e-5));
  c.push_back(unary("LayerNormalization over 16", "LayerNormalization", {2, 5, 16},
                    weights({weight("g", {16}, 16), weight("b", {16}, 17)}), attr_i("axis", -1),
                    1e-4, 17));
  c.push_back(unary("BatchNormalization", "BatchNormalization", {2, 4, 5, 5},
                    weights({weight("s", {4}, 18), weight("b", {4}, 19), weight("m", {4}, 20),
                             floats("v", {4}, {0.5f, 1.0f, 1.5f, 2.0f})}),
                    {}, 1e-5));
  c.push_back(concat());
  c.push_back(
      unary("Reshape [N,8,4,4] -> [N,128]", "Reshape", {2, 8, 4, 4}, ints("s", {-1, 128}), {}, 0));
  c.push_back(
      unary("Transpose to NHWC", "Transpose", {2, 3, 4, 5}, {}, attr("perm", {0, 2, 3, 1}), 0));
  c.push_back(unary("Flatten", "Flatten", {2, 3, 4, 5}, {}, {}, 0));
  c.push_back(
      unary("ReduceMean over H, W", "ReduceMean", {2, 4, 5, 6}, {}, attr("axes", {2, 3}), 1e-5));
  c.push_back(unary(
      "Resize nearest x2", "Resize", {2, 3, 4, 4},
      weights({floats("roi", {0}, {}), floats("scales", {4}, {1, 1, 2, 2})}),
      [](onnx::NodeProto& n) { set_attr(n, "mode", std::string("nearest")); }, 0));
  c.push_back(
      unary("Gather axis 1", "Gather", {2, 10, 8}, ints("i", {0, 3, 3, 9}), attr_i("axis", 1), 0));
  c.push_back(unary("Slice 1:7 step 2 on axis 2", "Slice", {2, 3, 8},
                    weights({ints("st", {1}), ints("en", {7}), ints("ax", {2}), ints("sp", {2})}),
                    {}, 0));
  c.push_back(
      unary("Pad 1 on H, W", "Pad", {2, 3, 4, 4}, ints("p", {0, 0, 1, 1, 0, 0, 1, 1}), {}, 0));
  return c;
}

}  // namespace qs::harness
