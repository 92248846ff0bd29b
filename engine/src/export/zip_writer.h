// A .zip archive of stored (uncompressed) entries: what the deployment package needs, readable
// by every unzip, Python's zipfile and Node's.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace qs::exporter {

// Entries are (path inside the archive, bytes), in order. Throws Error when an entry or the
// archive exceeds the 4 GiB the classic zip format allows.
std::string zip_archive(const std::vector<std::pair<std::string, std::string>>& entries);

}  // namespace qs::exporter
