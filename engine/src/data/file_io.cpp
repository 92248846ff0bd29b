// Checked random-access file reads for the data layer.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "data_internal.h"

namespace qs::data {

std::uint64_t file_size_checked(const std::string& path) {
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) throw Error(path + ": file not found");
  if (!std::filesystem::is_regular_file(status)) throw Error(path + ": not a regular file");
  auto size = std::filesystem::file_size(path, ec);
  if (ec) throw Error(path + ": cannot read the file size (" + ec.message() + ")");
  return size;
}

InputFile::InputFile(const std::string& path) : path_(path) {
  size_ = file_size_checked(path);
  in_.open(path, std::ios::binary);
  if (!in_) throw Error(path + ": cannot open file (" + std::strerror(errno) + ")");
}

void InputFile::read_at(std::uint64_t offset, void* out, std::size_t n, const char* what) {
  if (n == 0) return;
  if (offset > size_ || n > size_ - offset)
    throw Error(path_ + ": truncated file: " + what + " needs " + std::to_string(n) +
                " bytes at offset " + std::to_string(offset) + " but the file has " +
                std::to_string(size_) + " bytes");
  in_.clear();
  in_.seekg(static_cast<std::streamoff>(offset));
  in_.read(static_cast<char*>(out), static_cast<std::streamsize>(n));
  if (!in_ || static_cast<std::size_t>(in_.gcount()) != n)
    throw Error(path_ + ": read error in " + what + " at offset " + std::to_string(offset));
}

std::vector<unsigned char> InputFile::read_all(std::uint64_t max_bytes) {
  if (size_ > max_bytes)
    throw Error(path_ + ": file too large (" + std::to_string(size_) + " bytes, at most " +
                std::to_string(max_bytes) + " supported)");
  std::vector<unsigned char> bytes(static_cast<std::size_t>(size_));
  read_at(0, bytes.data(), bytes.size(), "file contents");
  return bytes;
}

std::vector<unsigned char> read_file_bytes(const std::string& path, std::uint64_t max_bytes) {
  InputFile f(path);
  return f.read_all(max_bytes);
}

bool is_gzip_file(const std::string& path) {
  InputFile f(path);
  if (f.size() < 2) return false;
  unsigned char magic[2];
  f.read_at(0, magic, 2, "magic");
  return magic[0] == 0x1f && magic[1] == 0x8b;
}

}  // namespace qs::data
