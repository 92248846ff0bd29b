// Fuzz target: a QDQ model (or a package .zip, when the bytes start with "PK") -> import_qdq,
// then the simulation graph of the quantization it recovered.
#include "fuzz_bodies.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return qs_fuzz::qdq_import(data, size);
}
