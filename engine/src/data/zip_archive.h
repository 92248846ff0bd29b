// Reading zip archives (a .npz of arrays, a deployment package as a .zip) with libzip: the
// central directory (zip64 included), stored and deflated entries. Every size is checked before
// anything is allocated, and every entry's CRC after it is read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace qs::zip {

class Archive {
 public:
  // Throws Error naming `path` (or `name` for bytes in memory) when it is not a readable zip.
  static Archive open_file(const std::string& path);
  static Archive open_bytes(std::string bytes, const std::string& name);
  ~Archive();
  Archive(Archive&&) noexcept;
  Archive& operator=(Archive&&) noexcept;

  // The entries' names, in the archive's order.
  std::vector<std::string> names() const;
  // The bytes of entry `name`: an Error names the archive and the entry when it is missing,
  // compressed by another method than stored or deflate, larger than `max_bytes`, claims a size
  // deflate cannot reach from its compressed size, inflates to another size, or fails its CRC.
  std::string read(const std::string& name, std::size_t max_bytes) const;

 private:
  struct Impl;
  explicit Archive(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace qs::zip
