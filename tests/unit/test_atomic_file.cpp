// Atomic file writes: the old file survives a failed write, no temporary files are left.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "quantscope/atomic_file.h"
#include "quantscope/error.h"

namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

fs::path fresh_dir(const char* name) {
  fs::path dir = fs::temp_directory_path() / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

}  // namespace

TEST(AtomicFile, ReplacesTheFileWhole) {
  const fs::path dir = fresh_dir("qs_atomic_ok");
  const std::string path = (dir / "out.txt").string();
  qs::write_file_atomically(path, [](const qs::ByteSink& out) { out("old", 3); });
  qs::write_file_atomically(path, [](const qs::ByteSink& out) {
    out("new ", 4);
    out("content", 7);
  });
  EXPECT_EQ(slurp(path), "new content");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
}

TEST(AtomicFile, AFailingWriterLeavesTheOldFileAndNoTemporary) {
  const fs::path dir = fresh_dir("qs_atomic_fail");
  const std::string path = (dir / "out.txt").string();
  qs::write_file_atomically(path, [](const qs::ByteSink& out) { out("keep me", 7); });
  EXPECT_THROW(qs::write_file_atomically(path,
                                         [](const qs::ByteSink& out) {
                                           out("half", 4);
                                           throw qs::Error("the producer failed");
                                         }),
               qs::Error);
  EXPECT_EQ(slurp(path), "keep me");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
}

TEST(AtomicFile, MissingFolderIsAClearError) {
  try {
    qs::write_file_atomically("/nonexistent-folder/x.npy", [](const qs::ByteSink&) {});
    FAIL();
  } catch (const qs::Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-folder/x.npy"), std::string::npos);
  }
}
