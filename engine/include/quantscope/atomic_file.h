// Files written so that a crash or a full disk never leaves a half-written one: the data go to
// a temporary file in the same folder, are flushed to disk, and replace the target by rename.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace qs {

// Receives the file's bytes, in order; may be called any number of times.
using ByteSink = std::function<void(const void* data, std::size_t size)>;

// Calls `produce` with a sink, then atomically replaces `path` with what it wrote. On any error
// (including one thrown by `produce`) the old file is untouched, the temporary file is removed,
// and Error names the path and the reason. Any thread; concurrent writers of one path: the
// last rename wins.
void write_file_atomically(const std::string& path,
                           const std::function<void(const ByteSink&)>& produce);

}  // namespace qs
