// PNG files from 8-bit pixels (gray or RGB), written atomically (quantscope/atomic_file.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qs {

// `pixels`: height rows of width * channels bytes; channels 1 (gray) or 3 (RGB). Throws Error
// naming the path on a size mismatch or a write failure.
void write_png(const std::string& path, std::int64_t width, std::int64_t height, int channels,
               const std::vector<std::uint8_t>& pixels);

}  // namespace qs
