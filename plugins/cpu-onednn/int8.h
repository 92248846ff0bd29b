// Integer kernels for quantized graphs (quant.h's simulation graph), used when the device was
// asked for them (Device::use_integer_kernels):
//   - W8A8 Conv (grouped and depthwise too), Gemm and MatMul with a constant B run as oneDNN
//     int8 primitives: u8/s8 source codes with a runtime source zero point, s8 weight codes,
//     int32 accumulation with the bias codes added to the accumulator, per-output-channel
//     output scales x_scale * w_scale[oc], then the fp32 post-ops the float path fuses.
//   - A FakeQuant read only by such layers turns its input into codes (f32 -> u8/s8) on the CPU
//     (host_quantize.h). When its input comes from an integer layer through nothing but
//     Flatten, Reshape or a MaxPool of 64 or more channels (they commute with quantization), the
//     layer writes the codes itself (requantization fused as post-ops) and the FakeQuant costs
//     nothing; a FakeQuant read by a simulated layer is likewise fused into an integer layer
//     before it (through Transpose too), in fp32.
//   - Weight-only layers keep their codes (4-bit ones packed two per byte) and unpack them into
//     the fp32 primitive's weights on every run (int8_build.cpp).
//   - Everything else stays simulated (the step's name says why): fp32 with dequantized
//     weights, and FakeQuant computed on the CPU with exactly the reference kernel's arithmetic.
//     That includes Convs with fewer than 4 input channels, where oneDNN's int8 kernels are
//     slower than its fp32 ones.
// Every rounding is quant_format.h's: x * (1 / scale), rounded half to even, plus the zero
// point, clamped to qmin..qmax.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "onednn_common.h"
#include "quantscope/quant_format.h"

namespace qs::onednn {

// A per-tensor activation grid: a FakeQuant node's.
using ActGrid = quant::Grid;
using quant::is_fake_quant;

// Codes held as u8 (qmin >= 0) or s8.
inline dnnl::memory::data_type codes_type(const ActGrid& g) {
  return g.qmin < 0 ? dnnl::memory::data_type::s8 : dnnl::memory::data_type::u8;
}

// The parameters of a quantized Conv, Gemm or MatMul (quant_format.h).
struct LayerQuant {
  bool has_x = false;  // an input grid: W8A8 (else weight-only)
  float x_scale = 1;
  int w_bits = 8;
  const Tensor* codes = nullptr;  // i8 in the ONNX weight's shape
  std::vector<float> scales;      // rows * groups_per_row
  std::vector<std::int32_t> zero_points;
  std::int64_t groups_per_row = 1;
  std::int64_t group_size = 0;         // columns per grid (the last of a row may hold fewer)
  const Tensor* bias_codes = nullptr;  // i32, one per output channel, or nullptr
};

// False when the attributes do not make a grid.
bool read_act_grid(const Node& fake_quant, ActGrid& grid);
// "" or why the node's qs.* parameters cannot be used.
std::string read_layer_quant(const Node& node, LayerQuant& q);

enum class IntRole : std::uint8_t {
  none,         // as without integer kernels
  integer,      // int8 Conv/Gemm/MatMul
  weight_only,  // fp32 primitive whose weights are unpacked from codes on every run
  quantize,     // FakeQuant read only by integer layers: f32 -> codes (unless fused upstream)
  fake_quant,   // FakeQuant read by a simulated layer: f32 -> f32 on oneDNN
};

// What integer mode does with each node of a graph.
struct IntegerPlan {
  std::vector<IntRole> role;                 // by node index
  std::vector<std::string> reason;           // by node index: why a quantized layer runs simulated
  std::map<std::string, int> fake_quant_of;  // FakeQuant output -> its node index
  std::map<int, ActGrid> grid;               // FakeQuant node index -> its grid
  std::map<int, LayerQuant> layer;           // integer and weight-only nodes -> parameters
  std::map<int, bool> channels_last;         // FakeQuant node index -> its codes are read by Convs
  Tensor scratch;  // fp32 weights of the weight-only layer that runs next (shared by all)
};

IntegerPlan plan_integer(const Graph& graph, const ShapeOf& shape_of);

// What an integer layer writes after its post-ops.
struct IntOutput {
  std::string value;              // the slot's name
  const ActGrid* grid = nullptr;  // quantized on this grid (a FakeQuant fused), else fp32
  bool codes = true;              // with a grid: its codes (u8/s8), else fake-quantized fp32
};

// Step makers (steps_int8.cpp).
class Plan;
struct Group;
struct Step;
void make_int_conv(Plan& p, const Group& g, Step& step, const LayerQuant& q, const ActGrid& x,
                   const IntOutput& out);
void make_int_gemm(Plan& p, const Group& g, Step& step, const LayerQuant& q, const ActGrid& x,
                   const IntOutput& out);
void make_int_matmul(Plan& p, const Group& g, Step& step, const LayerQuant& q, const ActGrid& x,
                     const IntOutput& out);
// `channels_last`: the codes' readers want them channels-last (oneDNN's int8 convolutions);
// else row-major.
void make_fake_quant(Plan& p, const Node& n, const ActGrid& g, bool codes, bool channels_last,
                     Step& step);
void make_pool_codes(Plan& p, const Node& n, const std::string& dst, Step& step);
void make_reshape_codes(Plan& p, const Node& n, const std::string& dst, Step& step);

}  // namespace qs::onednn
