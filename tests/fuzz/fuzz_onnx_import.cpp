// Fuzz target: ONNX bytes -> a runnable graph (parse, validation, folding, shape inference),
// then one run on small zero inputs when the model declares small static shapes.
#include "fuzz_bodies.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return qs_fuzz::onnx_import(data, size);
}
