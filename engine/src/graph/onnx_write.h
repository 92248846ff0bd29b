// IR -> ONNX protobuf: the mirror of onnx_import.cpp, used by the exporter.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "quantscope/graph.h"

namespace qs {

// ONNX TensorProto.DataType numbers the engine holds in wider containers: their values are
// kept as int8 (4-bit) or int32 (16-bit) tensors in the Graph and packed when written.
namespace onnx_type {
inline constexpr int kUint16 = 4;
inline constexpr int kInt16 = 5;
inline constexpr int kUint4 = 21;
inline constexpr int kInt4 = 22;
}  // namespace onnx_type

struct OnnxWriteOptions {
  std::int64_t opset = 0;  // default-domain opset; 0: the graph's own
  // Initializers stored in a narrower ONNX type than their container (see onnx_type).
  std::map<std::string, int> stored_as;
  std::string producer_version;
};

// The IR version that goes with an opset (opset 21 -> IR 10), as ONNX's release table pairs them.
std::int64_t ir_version_for_opset(std::int64_t opset);

// Serializes the graph as an ONNX ModelProto. Throws Error when an initializer cannot be stored
// in the type asked for (a value outside int4's range, a container of the wrong dtype).
std::string write_onnx(const Graph& graph, const OnnxWriteOptions& options);

}  // namespace qs
