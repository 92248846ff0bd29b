// Loading ONNX models into the IR.
#pragma once

#include <cstdint>
#include <string>

#include "quantscope/graph.h"

namespace qs {

struct LoadOptions {
  bool fold_batch_norm = true;
  bool fold_constants = true;
  // Fuses what exporters spell out into the op it computes (LayerNormalization from its
  // ReduceMean/Sub/Pow/... decomposition), keeping the original names in folded_from.
  bool fuse_patterns = true;
  // When false, nodes with unsupported ops (or shapes that cannot be inferred) are listed in
  // Graph::problems instead of failing the load; such a graph can be described, not run.
  bool require_supported = true;
  // Accept INT4/UINT4/INT16/UINT16 initializers, widened to int8/uint8/int32 and listed in
  // Graph::widened_types (for reading QDQ models back: import_qdq). Off: refused as unsupported.
  bool widen_narrow_types = false;
  // Refuse files and external data larger than this (hostile size claims).
  std::int64_t max_bytes = std::int64_t{8} << 30;
};

// Reads, validates and prepares an ONNX model: parses the protobuf, turns Constant nodes into
// initializers, reads external data (only from inside the model's folder), checks that every op
// is supported at its opset, infers shapes, folds BatchNormalization into Conv/Gemm and folds
// constants. Throws Error naming the file, and the node and op where one is to blame.
Graph load_model(const std::string& path, const LoadOptions& options = {});
// Same from bytes in memory; external data is resolved relative to base_dir (none when empty).
Graph load_model_from_bytes(const std::string& bytes, const std::string& base_dir,
                            const std::string& display_name, const LoadOptions& options = {});

}  // namespace qs
