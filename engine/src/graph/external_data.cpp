// External tensor data: files beside the model. A model file is untrusted input, so the
// location may not leave the model's folder (CVE-2022-25882, CVE-2024-27318).
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "graph/tensor_proto.h"

namespace qs {

namespace fs = std::filesystem;

std::string read_external_data(const std::string& tensor_name, const std::string& location,
                               std::int64_t offset, std::int64_t length,
                               const ExternalDataContext& ctx) {
  if (location.empty())
    throw Error("tensor '" + tensor_name + "': external data without a 'location' (file name)");
  const std::string what = "tensor '" + tensor_name + "': external data '" + location + "'";
  if (ctx.base_dir.empty()) throw Error(what + " cannot be read: the model has no folder");
  fs::path rel(location);
  if (rel.is_absolute() || location.find('\\') != std::string::npos)
    throw Error(what + " is refused: it must be a relative path inside the model's folder");
  for (const fs::path& part : rel)
    if (part == "..") throw Error(what + " is refused: '..' leaves the model's folder");
  std::error_code ec;
  const fs::path base = fs::canonical(ctx.base_dir, ec);
  if (ec) throw Error(what + ": cannot resolve the model folder");
  const fs::path full = fs::canonical(base / rel, ec);
  if (ec) throw Error(what + " does not exist");
  // After resolving symlinks the file must still lie inside the folder.
  auto [b, f] = std::mismatch(base.begin(), base.end(), full.begin(), full.end());
  if (b != base.end()) throw Error(what + " is refused: it resolves outside the model's folder");
  struct stat st {};
  if (::stat(full.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    throw Error(what + " is not a regular file");
  if (st.st_nlink > 1)
    throw Error(what + " is refused: it is a hard link, which may lead outside the model's folder");
  const std::int64_t file_size = st.st_size;
  if (offset < 0) throw Error(what + ": offset " + std::to_string(offset) + " is negative");
  if (offset > file_size)
    throw Error(what + ": offset " + std::to_string(offset) + " is past the end of the file");
  if (length < 0) length = file_size - offset;
  if (length > file_size - offset)
    throw Error(what + ": offset " + std::to_string(offset) + " + length " +
                std::to_string(length) + " is past the end of the file (" +
                std::to_string(file_size) + " bytes)");
  if (length > ctx.max_bytes)
    throw Error(what + ": " + std::to_string(length) + " bytes is too large");
  if (length > ctx.max_bytes - ctx.external_bytes_read)
    throw Error(what + ": " + std::to_string(length) +
                " more bytes would take the model's external data past the limit of " +
                std::to_string(ctx.max_bytes) + " bytes");
  ctx.external_bytes_read += length;
  std::ifstream in(full, std::ios::binary);
  in.seekg(offset);
  std::string data(static_cast<std::size_t>(length), '\0');
  in.read(data.data(), length);
  if (!in) throw Error(what + ": read failed");
  return data;
}

}  // namespace qs
