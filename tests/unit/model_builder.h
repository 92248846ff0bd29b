// Builds small ONNX models in memory for unit tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "graph/onnx_proto.h"
#include "quantscope/graph.h"
#include "quantscope/model.h"

namespace qs::test {

class ModelBuilder {
 public:
  explicit ModelBuilder(std::int64_t opset = 13);
  // Graph input of float32 (dims < 0 become a dynamic dimension named "N").
  ModelBuilder& input(const std::string& name, const std::vector<std::int64_t>& dims,
                      int elem_type = 1);
  ModelBuilder& output(const std::string& name, int elem_type = 1);
  ModelBuilder& initializer(const std::string& name, const std::vector<std::int64_t>& dims,
                            const std::vector<float>& values);
  ModelBuilder& initializer_i64(const std::string& name, const std::vector<std::int64_t>& dims,
                                const std::vector<std::int64_t>& values);
  // Adds a node and returns it for attributes.
  onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs, const std::string& name = "");
  onnx::ModelProto& proto() { return model_; }

  std::string bytes() const;
  Graph load(const LoadOptions& options = {}) const;

 private:
  onnx::ModelProto model_;
};

void set_attr(onnx::NodeProto& n, const std::string& name, std::int64_t v);
void set_attr(onnx::NodeProto& n, const std::string& name, float v);
void set_attr(onnx::NodeProto& n, const std::string& name, const std::string& v);
void set_attr(onnx::NodeProto& n, const std::string& name, const std::vector<std::int64_t>& v);

// x[N,2,6,6] -> Conv(4, 3x3, pad 1, "conv") -> Relu -> Flatten -> Gemm(144 -> 5, transB, "fc")
// -> y, with reproducible random weights.
Graph small_cnn();

// Runs a one-input graph.
Tensor run_single(const Graph& g, const Tensor& input);

}  // namespace qs::test
