#include "graph/tensor_proto.h"

#include "graph/onnx_write.h"

#include <cstring>

namespace qs {

namespace {

template <typename Field, typename T>
void copy_field(const Field& field, T* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(field.Get(static_cast<int>(i)));
}

// The tensor's shape and element count; Error naming the tensor when dims overflow or are negative.
Shape checked_shape(const onnx::TensorProto& proto, const std::string& what, std::int64_t& numel) {
  Shape shape(proto.dims().begin(), proto.dims().end());
  try {
    numel = shape_numel(shape);
  } catch (const Error& e) {
    throw Error(what + ": " + e.what());
  }
  return shape;
}

bool is_narrow_type(int type) {
  return type == onnx_type::kInt4 || type == onnx_type::kUint4 || type == onnx_type::kInt16 ||
         type == onnx_type::kUint16;
}

// INT4/UINT4 (two per byte, low nibble first, in raw_data or int32_data) into int8/uint8;
// INT16/UINT16 (raw_data, or one per int32_data entry) into int32.
Tensor widened_from_proto(const onnx::TensorProto& proto, const std::string& what,
                          std::int64_t max_bytes) {
  if (proto.data_location() == onnx::TensorProto::EXTERNAL)
    throw Unsupported(what + ": 4- and 16-bit tensors in external data are not supported");
  std::int64_t numel = 0;
  const Shape shape = checked_shape(proto, what, numel);
  if (numel > max_bytes) throw Error(what + ": shape " + shape_to_string(shape) + " is too large");
  const int type = proto.data_type();
  const bool four = type == onnx_type::kInt4 || type == onnx_type::kUint4;
  const bool is_signed = type == onnx_type::kInt4 || type == onnx_type::kInt16;
  std::string bytes;
  if (proto.has_raw_data()) {
    bytes = proto.raw_data();
  } else if (four) {
    for (int i = 0; i < proto.int32_data_size(); ++i)
      bytes += static_cast<char>(proto.int32_data(i) & 0xFF);
  } else {
    for (int i = 0; i < proto.int32_data_size(); ++i) {
      const auto v = static_cast<std::uint32_t>(proto.int32_data(i));
      bytes += static_cast<char>(v & 0xFF);
      bytes += static_cast<char>((v >> 8) & 0xFF);
    }
  }
  const std::int64_t need = four ? (numel + 1) / 2 : numel * 2;
  if (static_cast<std::int64_t>(bytes.size()) != need)
    throw Error(what + ": shape " + shape_to_string(shape) + " needs " + std::to_string(need) +
                " bytes of " + onnx_type_name(type) + " data, the file holds " +
                std::to_string(bytes.size()));
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  if (four) {
    Tensor t(is_signed ? DType::i8 : DType::u8, shape);
    for (std::int64_t i = 0; i < numel; ++i) {
      const int nibble = (b[i / 2] >> (i % 2 ? 4 : 0)) & 0x0F;
      if (is_signed)
        t.data<std::int8_t>()[i] = static_cast<std::int8_t>(nibble >= 8 ? nibble - 16 : nibble);
      else
        t.data<std::uint8_t>()[i] = static_cast<std::uint8_t>(nibble);
    }
    return t;
  }
  Tensor t(DType::i32, shape);
  for (std::int64_t i = 0; i < numel; ++i) {
    const auto u = static_cast<std::uint16_t>(b[2 * i] | (b[2 * i + 1] << 8));
    t.data<std::int32_t>()[i] =
        is_signed ? static_cast<std::int16_t>(u) : static_cast<std::int32_t>(u);
  }
  return t;
}

}  // namespace

Tensor tensor_from_proto(const onnx::TensorProto& proto, const ExternalDataContext& ctx) {
  const std::string name = proto.name().empty() ? std::string("<unnamed>") : proto.name();
  const std::string what = "tensor '" + name + "'";
  if (proto.has_segment()) throw Unsupported(what + ": segmented tensors are not supported");
  if (ctx.widen_narrow_types && is_narrow_type(proto.data_type())) {
    Tensor t = widened_from_proto(proto, what, ctx.max_bytes);
    if (ctx.widened) (*ctx.widened)[name] = proto.data_type();
    return t;
  }
  DType dtype;
  try {
    dtype = dtype_from_onnx(proto.data_type());
  } catch (const Unsupported& e) {
    throw Unsupported(what + ": " + e.what());
  }
  std::int64_t numel = 0;
  const Shape shape = checked_shape(proto, what, numel);
  const std::int64_t bytes = numel * static_cast<std::int64_t>(dtype_size(dtype));
  if (numel > ctx.max_bytes || bytes > ctx.max_bytes)
    throw Error(what + ": shape " + shape_to_string(shape) + " is too large");

  std::string external;
  const std::string* raw = proto.has_raw_data() ? &proto.raw_data() : nullptr;
  if (proto.data_location() == onnx::TensorProto::EXTERNAL) {
    std::string location;
    std::int64_t offset = 0, length = -1;
    // The whole value must be a decimal number ("16abc" is not 16).
    auto number = [&](const onnx::StringStringEntryProto& entry) {
      std::size_t used = 0;
      std::int64_t value = 0;
      try {
        value = std::stoll(entry.value(), &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != entry.value().size())
        throw Error(what + ": external data field '" + entry.key() + "' is not a number");
      return value;
    };
    for (const auto& entry : proto.external_data()) {
      if (entry.key() == "location")
        location = entry.value();
      else if (entry.key() == "offset")
        offset = number(entry);
      else if (entry.key() == "length")
        length = number(entry);
    }
    external = read_external_data(name, location, offset, length, ctx);
    raw = &external;
  }

  // Checked before allocating, so a huge claimed shape with little data fails cheaply.
  auto mismatch = [&](std::int64_t have) {
    return Error(what + ": shape " + shape_to_string(shape) + " needs " + std::to_string(numel) +
                 " values, the file holds " + std::to_string(have));
  };
  if (raw) {
    if (static_cast<std::int64_t>(raw->size()) != bytes)
      throw Error(what + ": shape " + shape_to_string(shape) + " needs " + std::to_string(bytes) +
                  " bytes of data, the file holds " + std::to_string(raw->size()));
    Tensor t(dtype, shape);
    if (bytes) std::memcpy(t.raw(), raw->data(), static_cast<std::size_t>(bytes));
    if (dtype == DType::boolean) {
      auto* b = static_cast<unsigned char*>(t.raw());
      for (std::int64_t i = 0; i < numel; ++i) b[i] = b[i] != 0;
    }
    return t;
  }
  switch (dtype) {
    case DType::f32: {
      if (proto.float_data_size() != numel) throw mismatch(proto.float_data_size());
      Tensor t(dtype, shape);
      copy_field(proto.float_data(), t.data<float>(), numel);
      return t;
    }
    case DType::i64: {
      if (proto.int64_data_size() != numel) throw mismatch(proto.int64_data_size());
      Tensor t(dtype, shape);
      copy_field(proto.int64_data(), t.data<std::int64_t>(), numel);
      return t;
    }
    case DType::i32:
    case DType::i8:
    case DType::u8:
    case DType::boolean: {
      if (proto.int32_data_size() != numel) throw mismatch(proto.int32_data_size());
      Tensor t(dtype, shape);
      if (dtype == DType::i32) copy_field(proto.int32_data(), t.data<std::int32_t>(), numel);
      if (dtype == DType::i8) copy_field(proto.int32_data(), t.data<std::int8_t>(), numel);
      if (dtype == DType::u8) copy_field(proto.int32_data(), t.data<std::uint8_t>(), numel);
      if (dtype == DType::boolean) {
        bool* b = t.data<bool>();
        for (std::int64_t i = 0; i < numel; ++i) b[i] = proto.int32_data(static_cast<int>(i)) != 0;
      }
      return t;
    }
    default:
      break;
  }
  throw Unsupported(what + ": dtype " + dtype_name(dtype) + " is not supported");
}

}  // namespace qs
