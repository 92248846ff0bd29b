// Element types of tensors, with ONNX's TensorProto.DataType numbering.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace qs {

enum class DType : int {
  undefined = 0,
  f32 = 1,
  u8 = 2,
  i8 = 3,
  i32 = 6,
  i64 = 7,
  boolean = 9,
};

// Size in bytes of one element; 0 for undefined.
std::size_t dtype_size(DType t);
// ONNX-style lower-case name: "float32", "int64", ...
std::string dtype_name(DType t);
// Maps an ONNX TensorProto.DataType value; throws Unsupported for types the engine lacks,
// naming the ONNX type (e.g. "float16").
DType dtype_from_onnx(int onnx_type);
// Name of any ONNX data type number, supported or not.
std::string onnx_type_name(int onnx_type);

template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::f32;
}
template <>
constexpr DType dtype_of<std::uint8_t>() {
  return DType::u8;
}
template <>
constexpr DType dtype_of<std::int8_t>() {
  return DType::i8;
}
template <>
constexpr DType dtype_of<std::int32_t>() {
  return DType::i32;
}
template <>
constexpr DType dtype_of<std::int64_t>() {
  return DType::i64;
}
template <>
constexpr DType dtype_of<bool>() {
  return DType::boolean;
}

}  // namespace qs
