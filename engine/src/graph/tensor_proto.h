// Conversion of ONNX TensorProto (inline or external data) into engine tensors.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "graph/onnx_proto.h"
#include "quantscope/tensor.h"

namespace qs {

struct ExternalDataContext {
  std::string base_dir;        // the model's folder; empty: external data is refused
  std::int64_t max_bytes = 0;  // largest tensor, and most external data in all, accepted
  // External data read so far for this model: many tensors naming the same file may not
  // together read more than max_bytes.
  mutable std::int64_t external_bytes_read = 0;
  // Accept 4- and 16-bit integers (INT4, UINT4, INT16, UINT16), widened into int8, uint8 and
  // int32 containers; each such tensor's ONNX type is recorded here by name. Off: refused.
  bool widen_narrow_types = false;
  mutable std::map<std::string, int>* widened = nullptr;
};

// Converts a TensorProto. Throws Error naming the tensor when dims are negative or overflow,
// the data size does not match the shape, the dtype is unsupported, or external data is unsafe.
Tensor tensor_from_proto(const onnx::TensorProto& proto, const ExternalDataContext& ctx);

// Reads [offset, offset+length) of an external data file named by `location`, which must stay
// inside ctx.base_dir: no absolute path, no "..", no symlink or hard link leading out.
std::string read_external_data(const std::string& tensor_name, const std::string& location,
                               std::int64_t offset, std::int64_t length,
                               const ExternalDataContext& ctx);

}  // namespace qs
