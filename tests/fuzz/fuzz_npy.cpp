// Fuzz target: .npy bytes -> read_npy, and the same file as an npy dataset read in batches.
#include "fuzz_bodies.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return qs_fuzz::npy(data, size);
}
