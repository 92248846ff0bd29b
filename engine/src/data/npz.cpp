// NumPy .npz: a zip archive of .npy files (read with libzip: data/zip_archive.h).
#include <cstdint>
#include <set>

#include "data/zip_archive.h"
#include "data_internal.h"
#include "quantscope/npy.h"

namespace qs {
namespace data {

std::vector<std::pair<std::string, Tensor>> read_npz_ordered(const std::string& path) {
  const zip::Archive archive = zip::Archive::open_file(path);
  std::vector<std::pair<std::string, Tensor>> arrays;
  std::set<std::string> seen;
  for (const std::string& name : archive.names()) {
    if (name.size() < 4 || name.compare(name.size() - 4, 4, ".npy") != 0) continue;
    const std::string key = name.substr(0, name.size() - 4);
    if (!seen.insert(key).second) throw Error(path + ": duplicate entry '" + name + "'");
    const std::string bytes = archive.read(name, SIZE_MAX / 2);
    arrays.emplace_back(key, parse_npy_bytes(reinterpret_cast<const unsigned char*>(bytes.data()),
                                             bytes.size(), path + ":" + name));
  }
  return arrays;
}

}  // namespace data

std::map<std::string, Tensor> read_npz(const std::string& path) {
  std::map<std::string, Tensor> out;
  for (auto& [name, t] : data::read_npz_ordered(path)) out.emplace(name, std::move(t));
  return out;
}

}  // namespace qs
