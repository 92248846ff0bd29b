// Fuzz target: image bytes (PNG or JPEG by their magic) -> a folder dataset of one image,
// decoded and resized to 16x16 RGB.
#include "fuzz_bodies.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return qs_fuzz::image(data, size);
}
