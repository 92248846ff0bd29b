// Fuzz target: IDX image bytes (plain or gzip, told apart by the reader) -> a dataset read in
// batches, with resizing to 8x8 to cover the preprocessing path.
#include "fuzz_bodies.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return qs_fuzz::idx(data, size);
}
