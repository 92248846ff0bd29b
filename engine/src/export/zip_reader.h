// Reading one file out of a .zip (stored or deflated entries): how a package is opened back.
#pragma once

#include <string>

namespace qs::exporter {

// The bytes of entry `name` in the archive `zip` (its whole contents). Throws Error naming the
// archive when it is malformed, the entry is missing, compressed by another method than
// deflate, larger than `max_bytes`, or fails its CRC.
std::string zip_entry(const std::string& zip, const std::string& name, const std::string& archive,
                      std::size_t max_bytes);

}  // namespace qs::exporter
