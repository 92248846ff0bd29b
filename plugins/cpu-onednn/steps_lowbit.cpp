// Weight-only quantized MatMul and Gemm on a few rows: lowbit_matmul on the packed codes
// instead of a float product over dequantized weights. A decode step reads each weight once,
// so reading 4 bits instead of 32 is what makes it faster; a prompt's many rows stay on
// oneDNN's GEMM, which reuses each weight across rows.
#include <memory>
#include <optional>

#include "lowbit_matmul.h"
#include "plan.h"
#include "quantscope/quant_format.h"

namespace qs::onednn {

namespace {

// More rows than this go to oneDNN (the packed kernel widens each block once per 4 rows).
constexpr std::int64_t kMaxRows = 8;
// Fewer inputs than this stay on oneDNN: widening the codes costs more than reading fp32
// weights that short rows keep in cache (GPT-2-tiny's 64-input head, 50,257 outputs: 0.7 ms
// packed, 0.3 ms fp32; the bundled decoder's 320 and 864 inputs: 1.7-2x fp32).
constexpr std::int64_t kMinInputs = 128;

}  // namespace

bool Plan::build_lowbit(int i) {
  const Node& node = graph.nodes[static_cast<std::size_t>(i)];
  const bool matmul = node.op_type == "MatMul";
  if (!(node.domain.empty() || node.domain == "ai.onnx") || (!matmul && node.op_type != "Gemm") ||
      node.inputs.size() < 2 || node.outputs.size() != 1 || !quant::has_quantized_weights(node) ||
      quant::read_input_grid(node))
    return false;
  if (!matmul && (node.attr_int("transA", 0) != 0 || node.attr_float("alpha", 1.0f) != 1.0f ||
                  node.attr_float("beta", 1.0f) != 1.0f))
    return false;
  std::string why;
  const std::optional<quant::LayerWeights> w = quant::read_weights(node, why);
  if (!w || w->codes->rank() != 2) return false;
  const bool kn = matmul || node.attr_int("transB", 0) == 0;
  const Shape& ws = w->codes->shape();
  const std::int64_t k = kn ? ws[0] : ws[1], n = kn ? ws[1] : ws[0];
  const Shape x = shape(node.inputs[0]);
  if (w->rows != n || w->cols != k || x.size() < 2 || (!matmul && x.size() != 2) || x.back() != k ||
      k < kMinInputs || !lowbit_fits(k, w->group_size))
    return false;
  const std::int64_t m = shape_numel(x) / k;
  if (m > kMaxRows || m < 1) return false;
  // The codes must describe this node's constant weight and fit their width (the packing keeps
  // `bits` of each); zero points must be exact as floats.
  auto weight = graph.initializers.find(node.inputs[1]);
  if (weight == graph.initializers.end() || weight->second.shape() != ws) return false;
  const std::int8_t* codes = w->codes->data<std::int8_t>();
  const int qmin = -(1 << (w->bits - 1)), qmax = (1 << (w->bits - 1)) - 1;
  for (std::int64_t e = 0; e < w->codes->numel(); ++e)
    if (codes[e] < qmin || codes[e] > qmax) return false;
  const std::int32_t* zeros = w->zero_points->data<std::int32_t>();
  for (std::int64_t e = 0; e < w->zero_points->numel(); ++e)
    if (zeros[e] < -(1 << 24) || zeros[e] > (1 << 24)) return false;
  std::shared_ptr<const std::vector<float>> bias;
  if (!matmul && node.inputs.size() > 2 && !node.inputs[2].empty()) {
    auto c = graph.initializers.find(node.inputs[2]);
    if (c == graph.initializers.end() || c->second.numel() != n ||
        (c->second.rank() == 2 && c->second.dim(0) != 1) || c->second.rank() > 2)
      return false;
    bias = std::make_shared<const std::vector<float>>(c->second.to_f32());
  }
  auto packed = std::make_shared<const LowBitWeights>(
      pack_lowbit(codes, kn, n, k, w->bits, w->group_size, w->scales->data<float>(), zeros));

  Step step{node.name, node.op_type + " (w" + std::to_string(w->bits) + ", packed)",
            {},        nullptr,
            {},        {},
            {},        {},
            {}};
  const int sx = plain(slot(node.inputs[0]), step);
  Shape y = x;
  y.back() = n;
  output(node.outputs[0], plain_md(y));
  const int sy = slot(node.outputs[0]);
  step.host_slots = {sx, sy};
  step.host = [this, packed, bias, sx, sy, m] {
    lowbit_matmul(*packed, static_cast<const float*>(slots[sx].tensor.raw()), m,
                  bias ? bias->data() : nullptr, static_cast<float*>(slots[sy].tensor.raw()));
  };
  steps.push_back(std::move(step));
  return true;
}

}  // namespace qs::onednn
