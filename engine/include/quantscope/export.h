// Export: the quantized model as QDQ ONNX (QuantizeLinear/DequantizeLinear pairs laid out the
// way ONNX Runtime, TensorRT and OpenVINO fuse them into integer kernels), and the deployment
// package around it (export_package.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "quantscope/graph.h"
#include "quantscope/quant.h"

namespace qs {

struct QdqExportOptions {
  // Default-domain opset of the file; 0: the model's own (at least 13, for per-channel
  // DequantizeLinear), raised to 21 when 4-bit weights, 16-bit activations or per-group
  // scales need it. Below 21, weights of 2..4 bits are stored in int8 (exact, 8-bit storage).
  std::int64_t opset = 0;
  std::string producer_version;
  // Weight-only quantized MatMuls as ONNX Runtime's com.microsoft MatMulNBits (blocks of a power
  // of two, at least 16) instead of DequantizeLinear + MatMul; a file only ONNX Runtime runs.
  bool matmul_nbits = false;
};

struct QdqModel {
  std::string onnx;  // the serialized ModelProto
  std::int64_t opset = 0;
  std::int64_t quantize_nodes = 0, dequantize_nodes = 0;
  std::int64_t folded_activations = 0;  // Relu/Clip folded into the range of a quantize node
  std::int64_t matmul_nbits_nodes = 0;  // MatMuls written as MatMulNBits
  std::vector<std::string> notes;       // in words: what was stored how, and where ONNX differs
};

// Builds the QDQ model from the simulation graph of `q` on `graph` (apply_quantization), so the
// file computes what Quantscope's simulation computes:
//  - weights as int8 (or int4 at opset 21) codes with per-tensor, per-channel (axis set) or
//    blocked scales and zero points, then DequantizeLinear;
//  - biases on the int32 grid, scale = input scale x weight scale;
//  - each quantized activation through QuantizeLinear -> DequantizeLinear; when every reader of
//    it is quantized, the same parameters also sit before MaxPool, Flatten and Reshape, and a
//    Relu or Clip that the quantize range already implies is removed (exact: same outputs).
// Throws Error naming the node when something cannot be expressed at the opset asked for.
QdqModel export_qdq(const Graph& graph, const QuantizedModel& q,
                    const QdqExportOptions& options = {});

// The graph as an ONNX file's bytes (its own opset; the float model of an import, for example).
std::string write_onnx_model(const Graph& graph);

// A QDQ model read back: the float model (weights dequantized, activation QuantizeLinear/
// DequantizeLinear pairs removed, and the Relu/Clip nodes an export folded put back) and the
// quantization recovered from the Q/DQ nodes, such that apply_quantization(graph, quantized)
// computes what the QDQ model computes. Settings come from the configuration Quantscope stores
// in its exports' metadata; for other QDQ models they are read off the nodes (bits from the
// codes' type and range, granularity from the scales' shape).
struct QdqImport {
  Graph graph;
  QuantizedModel quantized;
  std::vector<std::string> notes;  // what could not be recovered, and why
};

// Opens a QDQ ONNX file, a package folder (its model.onnx) or a package .zip. Throws Error
// naming the file and what is wrong.
QdqImport import_qdq(const std::string& path);

}  // namespace qs
