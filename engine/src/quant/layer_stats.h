// Statistics of a layer's input over the calibration set, in the columns of its weight matrix
// (quant/layers.h): the layer-wise Hessian H = 2 X X^T / n that GPTQ uses, and the mean input
// that bias correction uses. Convolutions see their input as im2col patches, one per output
// position. Memory: cols^2 doubles per convolution group; with Collect::trace (the Hessian's
// trace alone: the sum of squared inputs) one double.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <string>
#include <vector>

#include "quant/layers.h"
#include "quantscope/graph.h"

namespace qs::quant {

class LayerInputStats {
 public:
  enum class Collect { hessian, trace };
  LayerInputStats(const Graph& graph, const QuantLayer& layer, Collect what = Collect::hessian);
  // Empty when the layer's inputs can be collected, else why not.
  const std::string& unsupported() const { return unsupported_; }
  // One batch of the layer's input X (input 0).
  void add(const Tensor& x);
  std::int64_t groups() const { return static_cast<std::int64_t>(squares_.size()); }
  std::int64_t samples() const { return samples_; }    // input vectors seen (patches, rows)
  Eigen::MatrixXd hessian(std::int64_t group) const;   // 2 X X^T / n (Collect::hessian)
  double hessian_trace(std::int64_t group) const;      // tr(2 X X^T / n), either way
  std::vector<double> mean(std::int64_t group) const;  // (Collect::hessian)

 private:
  void add_vectors(std::int64_t group, const Eigen::MatrixXf& columns);
  void add_conv(const Tensor& x);

  const Graph& graph_;
  const QuantLayer& layer_;
  std::string unsupported_;
  std::vector<Eigen::MatrixXd> xxt_;
  std::vector<Eigen::VectorXd> sum_;
  std::vector<double> squares_;  // per group: the sum of squared inputs
  Collect what_;
  std::int64_t samples_ = 0;
};

}  // namespace qs::quant
