#include "quant/layer_stats.h"

#include <array>

#include "quantscope/error.h"
#include "runtime/kernels/conv_geometry.h"

namespace qs::quant {

namespace {
constexpr std::int64_t kChunk = 2048;  // input vectors per rank update
}

LayerInputStats::LayerInputStats(const Graph& graph, const QuantLayer& layer, Collect what)
    : graph_(graph), layer_(layer), what_(what) {
  if (layer.kind == LayerKind::conv_transpose)
    unsupported_ = "ConvTranspose inputs are not collected (its outputs gather many inputs)";
  else if (layer.kind == LayerKind::matmul_acts)
    unsupported_ = "a MatMul of two activations has no weights";
  const std::int64_t groups = layer.kind == LayerKind::conv ? layer.groups : 1;
  squares_.assign(static_cast<std::size_t>(groups), 0.0);
  if (what_ == Collect::trace) return;
  xxt_.assign(static_cast<std::size_t>(groups), Eigen::MatrixXd::Zero(layer.cols, layer.cols));
  sum_.assign(static_cast<std::size_t>(groups), Eigen::VectorXd::Zero(layer.cols));
}

void LayerInputStats::add_vectors(std::int64_t group, const Eigen::MatrixXf& columns) {
  const std::size_t g = static_cast<std::size_t>(group);
  if (group == 0) samples_ += columns.cols();
  if (what_ == Collect::trace) {
    squares_[g] += columns.cast<double>().squaredNorm();
    return;
  }
  // The lower triangle only (a symmetric rank update: half the flops of columns * columns^T);
  // hessian() mirrors it.
  Eigen::MatrixXf xxt = Eigen::MatrixXf::Zero(columns.rows(), columns.rows());
  xxt.selfadjointView<Eigen::Lower>().rankUpdate(columns);
  xxt_[g].triangularView<Eigen::Lower>() += xxt.cast<double>();
  sum_[g] += columns.rowwise().sum().cast<double>();
  squares_[g] += xxt.cast<double>().trace();
}

void LayerInputStats::add(const Tensor& x) {
  if (!unsupported_.empty()) return;
  if (x.dtype() != DType::f32) throw Error("layer '" + layer_.node->name + "': input not float");
  if (layer_.kind == LayerKind::conv) return add_conv(x);
  // Gemm / MatMul: rows of A are the input vectors (Gemm's transA: columns).
  const bool trans_a = layer_.kind == LayerKind::gemm && layer_.node->attr_int("transA", 0) != 0;
  const std::int64_t k = layer_.cols;
  if (x.rank() < 1 || (trans_a ? x.dim(0) : x.dim(x.rank() - 1)) != k)
    throw Error("layer '" + layer_.node->name + "': input shape " + shape_to_string(x.shape()) +
                " does not fit " + std::to_string(k) + " inputs");
  const std::int64_t n = x.numel() / k;
  const float* p = x.data<float>();
  for (std::int64_t first = 0; first < n; first += kChunk) {
    const std::int64_t count = std::min(kChunk, n - first);
    Eigen::MatrixXf cols(k, count);
    for (std::int64_t j = 0; j < count; ++j)
      for (std::int64_t i = 0; i < k; ++i)
        cols(i, j) = trans_a ? p[i * n + first + j] : p[(first + j) * k + i];
    add_vectors(0, cols);
  }
}

void LayerInputStats::add_conv(const Tensor& x) {
  const Tensor& w = graph_.initializers.at(layer_.weight);
  kernels::KernelContext ctx{*layer_.node, graph_.opset, {}, {}, false, false};
  const kernels::ConvGeometry geo = kernels::conv_geometry(ctx, x.shape(), w.shape());
  if (geo.spatial_rank() > 3) {
    unsupported_ = "convolutions of more than 3 spatial dimensions";
    return;
  }
  // Pad the geometry to 3 spatial dims (d, h, w) so one loop serves 1-D, 2-D and 3-D.
  std::array<std::int64_t, 3> in{1, 1, 1}, kern{1, 1, 1}, out{1, 1, 1}, stride{1, 1, 1},
      dil{1, 1, 1}, pad{0, 0, 0};
  const int off = 3 - geo.spatial_rank();
  for (int d = 0; d < geo.spatial_rank(); ++d) {
    in[off + d] = geo.in[d];
    kern[off + d] = geo.kernel[d];
    out[off + d] = geo.out[d];
    stride[off + d] = geo.strides[d];
    dil[off + d] = geo.dilations[d];
    pad[off + d] = geo.pad_begin[d];
  }
  const std::int64_t batch = x.dim(0), channels = x.dim(1);
  const std::int64_t cpg = channels / layer_.groups;
  const std::int64_t taps = kern[0] * kern[1] * kern[2];
  if (cpg * taps != layer_.cols)
    throw Error("layer '" + layer_.node->name + "': input shape " + shape_to_string(x.shape()) +
                " does not fit its weights");
  const std::int64_t in_plane = in[0] * in[1] * in[2];
  const std::int64_t positions = out[0] * out[1] * out[2];
  const std::int64_t total = batch * positions;
  const float* p = x.data<float>();
  for (std::int64_t grp = 0; grp < layer_.groups; ++grp) {
    for (std::int64_t first = 0; first < total; first += kChunk) {
      const std::int64_t count = std::min(kChunk, total - first);
      Eigen::MatrixXf cols = Eigen::MatrixXf::Zero(layer_.cols, count);
      for (std::int64_t j = 0; j < count; ++j) {
        const std::int64_t n = (first + j) / positions, pos = (first + j) % positions;
        const std::int64_t od = pos / (out[1] * out[2]), oh = (pos / out[2]) % out[1],
                           ow = pos % out[2];
        for (std::int64_t ci = 0; ci < cpg; ++ci) {
          const float* plane = p + (n * channels + grp * cpg + ci) * in_plane;
          std::int64_t row = ci * taps;
          for (std::int64_t kd = 0; kd < kern[0]; ++kd) {
            const std::int64_t id = od * stride[0] - pad[0] + kd * dil[0];
            for (std::int64_t kh = 0; kh < kern[1]; ++kh) {
              const std::int64_t ih = oh * stride[1] - pad[1] + kh * dil[1];
              for (std::int64_t kw = 0; kw < kern[2]; ++kw, ++row) {
                const std::int64_t iw = ow * stride[2] - pad[2] + kw * dil[2];
                if (id < 0 || id >= in[0] || ih < 0 || ih >= in[1] || iw < 0 || iw >= in[2])
                  continue;
                cols(row, j) = plane[(id * in[1] + ih) * in[2] + iw];
              }
            }
          }
        }
      }
      add_vectors(grp, cols);
    }
  }
}

Eigen::MatrixXd LayerInputStats::hessian(std::int64_t group) const {
  const double n = samples_ > 0 ? static_cast<double>(samples_) : 1.0;
  const Eigen::MatrixXd lower = xxt_[static_cast<std::size_t>(group)] * (2.0 / n);
  return lower.selfadjointView<Eigen::Lower>();
}

double LayerInputStats::hessian_trace(std::int64_t group) const {
  const double n = samples_ > 0 ? static_cast<double>(samples_) : 1.0;
  return squares_[static_cast<std::size_t>(group)] * (2.0 / n);
}

std::vector<double> LayerInputStats::mean(std::int64_t group) const {
  const double n = samples_ > 0 ? static_cast<double>(samples_) : 1.0;
  const Eigen::VectorXd m = sum_[static_cast<std::size_t>(group)] / n;
  return std::vector<double>(m.data(), m.data() + m.size());
}

}  // namespace qs::quant
