// A SentencePiece model through Debian's libsentencepiece, which runs in a link-map namespace of
// its own (dlmopen): it exports its own protobuf 3.14, which would clash with the engine's 3.21.
// The library is libqs_sentencepiece.so beside the engine's (engine/shims), loaded once.
#include <dlfcn.h>

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <vector>

#include "quantscope/error.h"
#include "quantscope/tokenizer.h"
#include "tokenizers.h"

namespace qs {

namespace {

struct Shim {
  void* (*open)(const char*, char*, int) = nullptr;
  void (*close)(void*) = nullptr;
  int (*info)(void*, int) = nullptr;
  int (*encode)(void*, const char*, std::size_t, std::int32_t*, int) = nullptr;
  int (*decode)(void*, const std::int32_t*, int, char*, int) = nullptr;
  int (*piece)(void*, int, char*, int) = nullptr;
  int (*kind)(void*, int) = nullptr;
  std::string error;  // why it could not be loaded
};

const Shim& shim() {
  static const Shim loaded = [] {
    Shim s;
    Dl_info self{};
    if (!dladdr(reinterpret_cast<void*>(&open_tokenizer), &self) || !self.dli_fname) {
      s.error = "cannot locate the engine library";
      return s;
    }
    const std::string path =
        (std::filesystem::path(self.dli_fname).parent_path() / "libqs_sentencepiece.so").string();
    void* h = dlmopen(LM_ID_NEWLM, path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* why = dlerror();
      s.error = "cannot load " + path + ": " + (why ? why : "unknown error");
      return s;
    }
    auto get = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(h, name));
      if (!fn && s.error.empty()) s.error = path + " lacks " + name;
    };
    get(s.open, "qs_sp_open");
    get(s.close, "qs_sp_close");
    get(s.info, "qs_sp_info");
    get(s.encode, "qs_sp_encode");
    get(s.decode, "qs_sp_decode");
    get(s.piece, "qs_sp_piece");
    get(s.kind, "qs_sp_kind");
    return s;
  }();
  return loaded;
}

class SentencePieceTokenizer : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(const std::string& path) : path_(path) {
    const Shim& s = shim();
    if (!s.error.empty()) throw Error("SentencePiece is not available: " + s.error);
    char error[512] = {};
    handle_ = s.open(path.c_str(), error, sizeof error);
    if (!handle_)
      throw Error(path + ": not a SentencePiece tokenizer model (" + std::string(error) + ")");
    size_ = s.info(handle_, 0);
    bos_ = s.info(handle_, 1);
    eos_ = s.info(handle_, 2);
    bytes_.resize(static_cast<std::size_t>(size_));
    for (std::int64_t id = 0; id < size_; ++id) bytes_[id] = count_bytes(id);
  }
  ~SentencePieceTokenizer() override { shim().close(handle_); }
  SentencePieceTokenizer(const SentencePieceTokenizer&) = delete;
  SentencePieceTokenizer& operator=(const SentencePieceTokenizer&) = delete;

  std::string describe() const override {
    return "SentencePiece, " + std::to_string(size_) + " tokens: " + path_;
  }
  std::int64_t vocab_size() const override { return size_; }
  std::int64_t bos() const override { return bos_; }
  std::int64_t eos() const override { return eos_; }

  std::vector<std::int64_t> encode(std::string_view text) const override {
    std::vector<std::int32_t> ids(text.size() + 16);
    int n = shim().encode(handle_, text.data(), text.size(), ids.data(), int(ids.size()));
    if (n > static_cast<int>(ids.size())) {  // byte fallback can give more ids than bytes
      ids.resize(static_cast<std::size_t>(n));
      n = shim().encode(handle_, text.data(), text.size(), ids.data(), int(ids.size()));
    }
    if (n < 0) throw Error("cannot tokenize the text with " + path_);
    return {ids.begin(), ids.begin() + n};
  }

  std::string decode(const std::vector<std::int64_t>& ids) const override {
    std::vector<std::int32_t> narrow;
    narrow.reserve(ids.size());
    for (std::int64_t id : ids) narrow.push_back(checked(id));
    std::string text(16 * ids.size() + 16, '\0');
    int n =
        shim().decode(handle_, narrow.data(), int(narrow.size()), text.data(), int(text.size()));
    if (n >= static_cast<int>(text.size())) {
      text.assign(static_cast<std::size_t>(n) + 1, '\0');
      n = shim().decode(handle_, narrow.data(), int(narrow.size()), text.data(), int(text.size()));
    }
    if (n < 0) throw Error("cannot decode the token ids with " + path_);
    text.resize(static_cast<std::size_t>(n));
    return text;
  }

  std::int64_t token_bytes(std::int64_t id) const override { return bytes_[checked(id)]; }

  std::string piece(std::int64_t id) const override {
    std::string text(64, '\0');
    int n = shim().piece(handle_, checked(id), text.data(), int(text.size()));
    if (n >= static_cast<int>(text.size())) {
      text.assign(static_cast<std::size_t>(n) + 1, '\0');
      n = shim().piece(handle_, checked(id), text.data(), int(text.size()));
    }
    text.resize(static_cast<std::size_t>(n));
    return text;
  }

 private:
  std::int32_t checked(std::int64_t id) const {
    if (id < 0 || id >= size_)
      throw Error("token id " + std::to_string(id) + " is outside the vocabulary of " +
                  std::to_string(size_) + " tokens (" + path_ + ")");
    return static_cast<std::int32_t>(id);
  }

  // A normal piece spells its text with U+2581 (3 bytes in UTF-8) for each space; a byte piece
  // (<0x41>) is one byte; control, unknown and unused pieces stand for no text.
  std::int32_t count_bytes(std::int64_t id) const {
    const int kind = shim().kind(handle_, static_cast<int>(id));
    if (kind == 3) return 1;
    if (kind != 0) return 0;
    const std::string text = piece(id);
    std::int32_t n = 0;
    for (std::size_t i = 0; i < text.size(); ++i, ++n)
      if (text.compare(i, 3, "\xE2\x96\x81") == 0) i += 2;
    return n;
  }

  std::string path_;
  void* handle_ = nullptr;
  std::vector<std::int32_t> bytes_;
  std::int64_t size_ = 0, bos_ = -1, eos_ = -1;
};

}  // namespace

std::unique_ptr<Tokenizer> open_sentencepiece(const std::string& path) {
  return std::make_unique<SentencePieceTokenizer>(path);
}

}  // namespace qs
