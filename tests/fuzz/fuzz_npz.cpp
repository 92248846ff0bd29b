// Fuzz target: .npz (zip) bytes -> read_npz.
#include "fuzz_bodies.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return qs_fuzz::npz(data, size);
}
