#include "data/zip_archive.h"

#include <zip.h>

#include <filesystem>

#include "quantscope/error.h"

namespace qs::zip {

namespace {

// Deflate cannot compress better than about 1032:1.
constexpr std::uint64_t kMaxDeflateRatio = 1100;

std::string libzip_error(zip_error_t* e) {
  const std::string text = zip_error_strerror(e);
  zip_error_fini(e);
  return text;
}

}  // namespace

struct Archive::Impl {
  std::string name;
  std::uint64_t size = 0;  // of the archive
  std::string bytes;  // the archive itself, when it was given in memory (libzip reads it there)
  ::zip_t* zip = nullptr;
  ~Impl() {
    if (zip) zip_discard(zip);
  }
};

Archive::Archive(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Archive::~Archive() = default;
Archive::Archive(Archive&&) noexcept = default;
Archive& Archive::operator=(Archive&&) noexcept = default;

Archive Archive::open_file(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->name = path;
  std::error_code size_error;
  impl->size = std::filesystem::file_size(path, size_error);
  if (size_error) throw Error(path + ": cannot be read (" + size_error.message() + ")");
  int code = 0;
  impl->zip = zip_open(path.c_str(), ZIP_RDONLY, &code);
  if (!impl->zip) {
    zip_error_t e;
    zip_error_init_with_code(&e, code);
    throw Error(path + ": not a zip archive that can be read (" + libzip_error(&e) + ")");
  }
  return Archive(std::move(impl));
}

Archive Archive::open_bytes(std::string bytes, const std::string& name) {
  auto impl = std::make_unique<Impl>();
  impl->name = name;
  impl->bytes = std::move(bytes);
  impl->size = impl->bytes.size();
  zip_error_t e;
  zip_error_init(&e);
  zip_source_t* source = zip_source_buffer_create(impl->bytes.data(), impl->bytes.size(), 0, &e);
  if (!source) throw Error(name + ": cannot read the archive (" + libzip_error(&e) + ")");
  impl->zip = zip_open_from_source(source, ZIP_RDONLY, &e);
  if (!impl->zip) {
    zip_source_free(source);
    throw Error(name + ": not a zip archive that can be read (" + libzip_error(&e) + ")");
  }
  zip_error_fini(&e);
  return Archive(std::move(impl));
}

std::vector<std::string> Archive::names() const {
  std::vector<std::string> out;
  const zip_int64_t n = zip_get_num_entries(impl_->zip, 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    const char* entry = zip_get_name(impl_->zip, static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW);
    if (!entry)
      throw Error(impl_->name + ": entry " + std::to_string(i) + " has no readable name (" +
                  zip_strerror(impl_->zip) + ")");
    out.emplace_back(entry);
  }
  return out;
}

std::string Archive::read(const std::string& name, std::size_t max_bytes) const {
  const std::string where = impl_->name + ": entry '" + name + "'";
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat(impl_->zip, name.c_str(), ZIP_FL_ENC_RAW, &st) != 0)
    throw Error(impl_->name + ": has no entry '" + name + "'");
  if (st.encryption_method != ZIP_EM_NONE) throw Error(where + " is encrypted");
  if (st.comp_size > impl_->size)
    throw Error(where + ": data (" + std::to_string(st.comp_size) +
                " bytes) extends past the end of the archive");
  if (st.comp_method == ZIP_CM_STORE) {
    if (st.comp_size != st.size)
      throw Error(where + ": stored entry with different compressed and uncompressed sizes");
  } else if (st.comp_method == ZIP_CM_DEFLATE) {
    if (st.size / kMaxDeflateRatio > st.comp_size + 1)
      throw Error(where + ": claims " + std::to_string(st.size) + " bytes from " +
                  std::to_string(st.comp_size) + " compressed (impossible ratio)");
  } else {
    throw Error(where + ": unsupported compression method " + std::to_string(st.comp_method) +
                " (only stored and deflate)");
  }
  if (st.size > max_bytes)
    throw Error(where + " holds " + std::to_string(st.size) + " bytes, more than the " +
                std::to_string(max_bytes) + " allowed");
  zip_file_t* file = zip_fopen_index(impl_->zip, st.index, 0);
  if (!file) throw Error(where + ": cannot be read (" + zip_strerror(impl_->zip) + ")");
  // One byte more than recorded: an entry that inflates past its size is caught here.
  std::string out(static_cast<std::size_t>(st.size) + 1, '\0');
  std::size_t got = 0;
  std::string problem;
  while (got < out.size()) {
    const zip_int64_t n = zip_fread(file, out.data() + got, out.size() - got);
    if (n < 0) {
      problem = zip_file_strerror(file);
      break;
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  zip_fclose(file);
  if (!problem.empty()) throw Error(where + ": " + problem + " (corrupt data)");
  if (got != st.size)
    throw Error(where + ": holds " + std::to_string(got) + (got > st.size ? " or more" : "") +
                " bytes but the directory records " + std::to_string(st.size));
  out.resize(got);
  return out;
}

}  // namespace qs::zip
