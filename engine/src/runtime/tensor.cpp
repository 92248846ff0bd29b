#include "quantscope/tensor.h"

#include <algorithm>
#include <atomic>
#include <cstring>

namespace qs {

namespace {
std::atomic<std::size_t> g_max_tensor_bytes{std::size_t{1} << 34};
}  // namespace

void set_max_tensor_bytes(std::size_t bytes) {
  g_max_tensor_bytes = bytes;
}
std::size_t max_tensor_bytes() {
  return g_max_tensor_bytes;
}

std::int64_t shape_numel(const Shape& shape) {
  constexpr std::int64_t limit = std::int64_t{1} << 62;
  std::int64_t n = 1;
  for (std::int64_t d : shape) {
    if (d < 0) throw Error("negative dimension in shape " + shape_to_string(shape));
    if (d != 0 && n > limit / d)
      throw Error("shape " + shape_to_string(shape) + " has too many elements");
    n *= d;
  }
  return n;
}

std::string shape_to_string(const Shape& shape) {
  // Messages stay one short line even for a hostile list of 10^5 values: the middle of a long
  // list is elided ("[1,2,...(99990 more)...,9]").
  constexpr std::size_t kHead = 8, kTail = 2;
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape.size() > kHead + kTail + 1 && i == kHead) {
      const std::size_t skipped = shape.size() - kHead - kTail;
      s += ",...(" + std::to_string(skipped) + " more)...";
      i += skipped - 1;
      continue;
    }
    if (i) s += ",";
    s += shape[i] < 0 ? std::string("?") : std::to_string(shape[i]);
  }
  return s + "]";
}

Tensor::Tensor(DType dtype, Shape shape)
    : dtype_(dtype), shape_(std::move(shape)), numel_(shape_numel(shape_)) {
  if (numel_ >
      static_cast<std::int64_t>(max_tensor_bytes() / std::max<std::size_t>(dtype_size(dtype_), 1)))
    throw Error("tensor " + shape_to_string(shape_) + " of " + dtype_name(dtype_) +
                " is too large (" + std::to_string(numel_) + " elements)");
  // Always allocate at least one byte so that an empty tensor still "has data".
  std::size_t bytes = std::max<std::size_t>(size_bytes(), 1);
  data_ = std::shared_ptr<std::byte[]>(new std::byte[bytes]());
}

Tensor Tensor::meta(DType dtype, Shape shape) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = shape_numel(t.shape_);
  return t;
}

Tensor Tensor::over(const std::shared_ptr<std::byte[]>& storage, std::size_t offset, DType dtype,
                    Shape shape) {
  if (!storage) throw Error("Tensor::over: no storage");
  Tensor t = meta(dtype, std::move(shape));
  t.data_ = std::shared_ptr<std::byte[]>(storage, storage.get() + offset);
  return t;
}

void Tensor::check_access(DType wanted) const {
  if (wanted != dtype_)
    throw Error("tensor of dtype " + dtype_name(dtype_) + " read as " + dtype_name(wanted));
  if (!data_) throw Error("tensor " + shape_to_string(shape_) + " has no data");
}

Tensor Tensor::reshaped(Shape shape) const {
  Tensor t = *this;
  std::int64_t n = shape_numel(shape);
  if (n != numel_)
    throw Error("cannot reshape " + shape_to_string(shape_) + " to " + shape_to_string(shape));
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::clone() const {
  if (!data_) return *this;
  Tensor t(dtype_, shape_);
  std::memcpy(t.raw(), raw(), size_bytes());
  return t;
}

std::vector<std::int64_t> Tensor::to_i64() const {
  if (!data_) throw Error("tensor " + shape_to_string(shape_) + " has no data");
  std::vector<std::int64_t> out(static_cast<std::size_t>(numel_));
  for (std::int64_t i = 0; i < numel_; ++i) {
    switch (dtype_) {
      case DType::i64:
        out[i] = data<std::int64_t>()[i];
        break;
      case DType::i32:
        out[i] = data<std::int32_t>()[i];
        break;
      case DType::i8:
        out[i] = data<std::int8_t>()[i];
        break;
      case DType::u8:
        out[i] = data<std::uint8_t>()[i];
        break;
      case DType::boolean:
        out[i] = data<bool>()[i];
        break;
      default:
        throw Error("expected an integer tensor, got " + dtype_name(dtype_));
    }
  }
  return out;
}

std::vector<float> Tensor::to_f32() const {
  if (dtype_ == DType::f32) return {data<float>(), data<float>() + numel_};
  std::vector<std::int64_t> ints = to_i64();
  return {ints.begin(), ints.end()};
}

}  // namespace qs
