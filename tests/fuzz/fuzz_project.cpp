// Fuzz target: project file JSON -> parsed, written again; cached results read back.
#include "fuzz_bodies.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return qs_fuzz::project(data, size);
}
