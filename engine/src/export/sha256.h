// SHA-256 (FIPS 180-4), for the package's checksums and the source model's fingerprint.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace qs::exporter {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, std::size_t size);
  std::string hex_digest();  // lower-case hex; ends the computation

 private:
  void block(const std::uint8_t* p);
  std::array<std::uint32_t, 8> h_;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t length_ = 0;  // bytes
};

std::string sha256_hex(const std::string& bytes);
// Throws Error naming the file when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace qs::exporter
