// A dense, row-major tensor: dtype, shape and a shared, immutable-by-convention buffer.
// Copies are cheap (they share the buffer); clone() makes an independent one.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "quantscope/dtype.h"
#include "quantscope/error.h"

namespace qs {

using Shape = std::vector<std::int64_t>;

// Number of elements of a shape; throws Error when a dimension is negative or the product
// overflows 2^62.
std::int64_t shape_numel(const Shape& shape);
// "[1,3,224,224]"
std::string shape_to_string(const Shape& shape);

// The largest tensor the engine allocates, process-wide (default 16 GiB): a bigger one is an
// Error naming its shape rather than an allocation that takes the machine down. Any thread.
void set_max_tensor_bytes(std::size_t bytes);
std::size_t max_tensor_bytes();

class Tensor {
 public:
  Tensor() = default;
  // Allocates zero-filled storage.
  Tensor(DType dtype, Shape shape);
  // Shape and dtype only, no storage: used while inferring shapes.
  static Tensor meta(DType dtype, Shape shape);
  // A tensor over storage someone else allocated, from byte `offset` on (sharing ownership: the
  // storage lives while any tensor over it does); the caller guarantees it holds the bytes.
  // Devices place their per-run buffers in one arena so.
  static Tensor over(const std::shared_ptr<std::byte[]>& storage, std::size_t offset, DType dtype,
                     Shape shape);

  template <typename T>
  static Tensor from_vector(Shape shape, const std::vector<T>& values);
  static Tensor scalar_f32(float v) { return from_vector<float>({}, {v}); }

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  std::int64_t dim(int i) const { return shape_.at(i); }
  int rank() const { return static_cast<int>(shape_.size()); }
  std::int64_t numel() const { return numel_; }
  std::size_t size_bytes() const { return static_cast<std::size_t>(numel_) * dtype_size(dtype_); }
  bool has_data() const { return static_cast<bool>(data_); }
  bool defined() const { return dtype_ != DType::undefined; }

  template <typename T>
  T* data() {
    check_access(dtype_of<T>());
    return reinterpret_cast<T*>(data_.get());
  }
  template <typename T>
  const T* data() const {
    check_access(dtype_of<T>());
    return reinterpret_cast<const T*>(data_.get());
  }
  template <typename T>
  std::span<const T> values() const {
    return {data<T>(), static_cast<std::size_t>(numel_)};
  }
  void* raw() { return data_.get(); }
  const void* raw() const { return data_.get(); }

  // Same buffer, new shape with the same element count.
  Tensor reshaped(Shape shape) const;
  Tensor clone() const;
  // Integer contents (any integer dtype) widened to int64; throws if there is no data.
  std::vector<std::int64_t> to_i64() const;
  // Contents converted to float (any dtype).
  std::vector<float> to_f32() const;

 private:
  void check_access(DType wanted) const;
  DType dtype_ = DType::undefined;
  Shape shape_;
  std::int64_t numel_ = 0;
  std::shared_ptr<std::byte[]> data_;
};

template <typename T>
Tensor Tensor::from_vector(Shape shape, const std::vector<T>& values) {
  Tensor t(dtype_of<T>(), std::move(shape));
  if (static_cast<std::int64_t>(values.size()) != t.numel())
    throw Error("Tensor::from_vector: " + std::to_string(values.size()) + " values for shape " +
                shape_to_string(t.shape()));
  T* out = t.data<T>();
  for (std::size_t i = 0; i < values.size(); ++i) out[i] = values[i];
  return t;
}

}  // namespace qs
