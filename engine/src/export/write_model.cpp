#include "graph/onnx_write.h"
#include "quantscope/export.h"

namespace qs {

std::string write_onnx_model(const Graph& graph) {
  OnnxWriteOptions options;
  options.producer_version = QS_VERSION;
  return write_onnx(graph, options);
}

}  // namespace qs
