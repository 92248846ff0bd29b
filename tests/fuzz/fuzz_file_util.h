// The data readers take paths: fuzz targets write each input to a file first.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>

inline std::string fuzz_input_file(const std::uint8_t* data, std::size_t size, const char* suffix) {
  const std::string path = "/tmp/qs-fuzz-" + std::to_string(::getpid()) + suffix;
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}
