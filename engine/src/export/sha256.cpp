#include "export/sha256.h"

#include <cstdint>
#include <fstream>

#include "quantscope/error.h"

namespace qs::exporter {

Sha256::Sha256() {
  sha256_init(&ctx_);
}

void Sha256::update(const void* data, std::size_t size) {
  sha256_update(&ctx_, size, static_cast<const std::uint8_t*>(data));
}

std::string Sha256::hex_digest() {
  std::uint8_t digest[SHA256_DIGEST_SIZE];
  sha256_digest(&ctx_, sizeof digest, digest);
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : digest) {
    out += digits[b >> 4];
    out += digits[b & 0xF];
  }
  return out;
}

std::string sha256_hex(const std::string& bytes) {
  Sha256 s;
  s.update(bytes.data(), bytes.size());
  return s.hex_digest();
}

std::string sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the file to compute its SHA-256");
  Sha256 s;
  std::string buf(1 << 20, '\0');
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    s.update(buf.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) throw Error(path + ": read failed while computing its SHA-256");
  return s.hex_digest();
}

}  // namespace qs::exporter
