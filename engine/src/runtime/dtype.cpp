#include "quantscope/dtype.h"

#include "quantscope/error.h"

namespace qs {

std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32:
      return 4;
    case DType::i32:
      return 4;
    case DType::i64:
      return 8;
    case DType::u8:
    case DType::i8:
    case DType::boolean:
      return 1;
    case DType::undefined:
      return 0;
  }
  return 0;
}

std::string onnx_type_name(int t) {
  static const char* names[] = {
      "undefined",      "float32",    "uint8",          "int8",       "uint16",   "int16",
      "int32",          "int64",      "string",         "bool",       "float16",  "float64",
      "uint32",         "uint64",     "complex64",      "complex128", "bfloat16", "float8e4m3fn",
      "float8e4m3fnuz", "float8e5m2", "float8e5m2fnuz", "uint4",      "int4"};
  if (t >= 0 && t < static_cast<int>(sizeof(names) / sizeof(names[0]))) return names[t];
  return "type " + std::to_string(t);
}

std::string dtype_name(DType t) {
  return onnx_type_name(static_cast<int>(t));
}

DType dtype_from_onnx(int t) {
  switch (t) {
    case 1:
      return DType::f32;
    case 2:
      return DType::u8;
    case 3:
      return DType::i8;
    case 6:
      return DType::i32;
    case 7:
      return DType::i64;
    case 9:
      return DType::boolean;
    default:
      throw Unsupported("dtype " + onnx_type_name(t) + " is not supported");
  }
}

}  // namespace qs
