// libqs_sentencepiece: Debian's libsentencepiece behind a C interface. libsentencepiece carries
// its own copy of protobuf 3.14 and exports it, which clashes with the protobuf 3.21 the engine
// reads ONNX with (the first one loaded answers for both: "compiled against version 3.14.0 ...").
// So the engine loads this library into a link-map namespace of its own (dlmopen, see
// sentencepiece_tokenizer.cpp), and only C types cross: ints, chars and an opaque handle.
#include <sentencepiece_processor.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {

// Copies `s` into `out` (cap bytes, NUL-terminated when it fits); returns its length.
int copy_out(const std::string& s, char* out, int cap) {
  if (out && cap > 0) {
    const std::size_t n = std::min<std::size_t>(s.size(), static_cast<std::size_t>(cap - 1));
    std::memcpy(out, s.data(), n);
    out[n] = '\0';
  }
  return static_cast<int>(s.size());
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) void* qs_sp_open(const char* path, char* error,
                                                        int error_cap) {
  auto* sp = new sentencepiece::SentencePieceProcessor;
  const auto status = sp->Load(path);
  if (!status.ok()) {
    copy_out(status.ToString(), error, error_cap);
    delete sp;
    return nullptr;
  }
  return sp;
}

__attribute__((visibility("default"))) void qs_sp_close(void* handle) {
  delete static_cast<sentencepiece::SentencePieceProcessor*>(handle);
}

__attribute__((visibility("default"))) int qs_sp_info(void* handle, int what) {
  const auto* sp = static_cast<const sentencepiece::SentencePieceProcessor*>(handle);
  switch (what) {
    case 0:
      return sp->GetPieceSize();
    case 1:
      return sp->bos_id();
    default:
      return sp->eos_id();
  }
}

// The ids of text[0, length) into out (cap of them); returns how many there are, -1 on error.
__attribute__((visibility("default"))) int qs_sp_encode(void* handle, const char* text,
                                                        std::size_t length, std::int32_t* out,
                                                        int cap) {
  const auto* sp = static_cast<const sentencepiece::SentencePieceProcessor*>(handle);
  std::vector<int> ids;
  if (!sp->Encode(std::string_view(text, length), &ids).ok()) return -1;
  for (std::size_t i = 0; i < ids.size() && i < static_cast<std::size_t>(cap); ++i) out[i] = ids[i];
  return static_cast<int>(ids.size());
}

// The text of ids into out (cap bytes); returns its length, -1 on error.
__attribute__((visibility("default"))) int qs_sp_decode(void* handle, const std::int32_t* ids,
                                                        int count, char* out, int cap) {
  const auto* sp = static_cast<const sentencepiece::SentencePieceProcessor*>(handle);
  std::string text;
  if (!sp->Decode(std::vector<int>(ids, ids + count), &text).ok()) return -1;
  return copy_out(text, out, cap);
}

__attribute__((visibility("default"))) int qs_sp_piece(void* handle, int id, char* out, int cap) {
  const auto* sp = static_cast<const sentencepiece::SentencePieceProcessor*>(handle);
  return copy_out(sp->IdToPiece(id), out, cap);
}

// What token `id` is: 0 normal, 1 control (<s>, </s>), 2 unknown, 3 byte (<0x41>), 4 unused.
__attribute__((visibility("default"))) int qs_sp_kind(void* handle, int id) {
  const auto* sp = static_cast<const sentencepiece::SentencePieceProcessor*>(handle);
  if (sp->IsControl(id)) return 1;
  if (sp->IsUnknown(id)) return 2;
  if (sp->IsByte(id)) return 3;
  if (sp->IsUnused(id)) return 4;
  return 0;
}

}  // extern "C"
