// SHA-256, for the package's checksums and the model's fingerprint in a project: Nettle's, which
// uses the CPU's SHA instructions where there are some.
#pragma once

#include <nettle/sha2.h>

#include <cstddef>
#include <string>

namespace qs::exporter {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, std::size_t size);
  std::string hex_digest();  // lower-case hex; ends the computation

 private:
  sha256_ctx ctx_;
};

std::string sha256_hex(const std::string& bytes);
// Throws Error naming the file when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace qs::exporter
