// Fuzz target: quantization configuration JSON -> parsed, validated, applied to LeNet.
#include "fuzz_bodies.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return qs_fuzz::quant_config(data, size);
}
