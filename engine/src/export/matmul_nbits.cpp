// matmul_nbits.h: codes, scales and zero points rearranged into MatMulNBits' layout.
#include "export/matmul_nbits.h"

#include <vector>

namespace qs::exporter {

namespace {

constexpr std::int64_t kMaxBlock = 256;

}  // namespace

std::optional<NBitsWeights> matmul_nbits_weights(const quant::LayerWeights& w, std::string& why) {
  if (w.codes->rank() != 2) {
    why = "weights of rank " + std::to_string(w.codes->rank());
    return std::nullopt;
  }
  NBitsWeights out;
  out.k = w.codes->dim(0);
  out.n = w.codes->dim(1);
  if (w.rows != out.n || w.cols != out.k) {
    why = "weight scales do not follow the output columns";
    return std::nullopt;
  }
  out.bits = w.bits <= 4 ? 4 : 8;
  const std::int64_t mid = std::int64_t{1} << (out.bits - 1);
  // ONNX Runtime's kernels take blocks of 16 to 256: a group is cut into blocks of the largest
  // such power of two that divides it, each with the group's scale; a group per row, into
  // blocks of the smallest one covering K (at most 256).
  if (w.groups_per_row == 1) {
    out.block = 16;
    while (out.block < out.k && out.block < kMaxBlock) out.block *= 2;
  } else {
    for (std::int64_t b = kMaxBlock; b >= 16 && out.block == 0; b /= 2)
      if (w.group_size % b == 0) out.block = b;
  }
  if (out.block == 0) {
    why = "groups of " + std::to_string(w.group_size) +
          " (MatMulNBits takes blocks of 16, 32, 64, 128 or 256 inputs)";
    return std::nullopt;
  }
  const std::int64_t group = w.groups_per_row == 1 ? out.k : w.group_size;
  const std::int64_t blocks = (out.k + out.block - 1) / out.block, blob = out.block * out.bits / 8;
  // The scale and zero point of (column, block): the group's.
  auto param = [&](std::int64_t col, std::int64_t block) {
    return static_cast<std::size_t>(col * w.groups_per_row + block * out.block / group);
  };
  const std::int8_t* codes = w.codes->data<std::int8_t>();
  const std::int32_t* zeros = w.zero_points->data<std::int32_t>();
  for (std::int64_t i = 0; i < w.codes->numel(); ++i) {
    if (codes[i] < -mid || codes[i] >= mid) {
      why = "a code outside " + std::to_string(out.bits) + " bits";
      return std::nullopt;
    }
  }
  bool all_zero = true;
  for (std::int64_t i = 0; i < w.zero_points->numel(); ++i) {
    if (zeros[i] < -mid || zeros[i] >= mid) {
      why = "a zero point outside " + std::to_string(out.bits) + " bits";
      return std::nullopt;
    }
    all_zero = all_zero && zeros[i] == 0;
  }

  std::vector<std::uint8_t> b(static_cast<std::size_t>(out.n * blocks * blob), 0);
  for (std::int64_t col = 0; col < out.n; ++col) {
    for (std::int64_t i = 0; i < blocks * out.block; ++i) {
      const std::int64_t code =
          (i < out.k ? codes[i * out.n + col] : zeros[param(col, i / out.block)]) + mid;
      const std::size_t at = static_cast<std::size_t>(col * blocks * blob);
      if (out.bits == 8)
        b[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(code);
      else
        b[at + static_cast<std::size_t>(i / 2)] |=
            static_cast<std::uint8_t>(code << (i % 2 == 0 ? 0 : 4));
    }
  }
  out.b = Tensor::from_vector<std::uint8_t>({out.n, blocks, blob}, b);
  std::vector<float> scales(static_cast<std::size_t>(out.n * blocks));
  const float* from = w.scales->data<float>();
  for (std::int64_t col = 0; col < out.n; ++col)
    for (std::int64_t j = 0; j < blocks; ++j)
      scales[static_cast<std::size_t>(col * blocks + j)] = from[param(col, j)];
  out.scales = Tensor::from_vector<float>({out.n * blocks}, scales);
  if (!all_zero) {
    const std::int64_t per_col = out.bits == 8 ? blocks : (blocks + 1) / 2;
    std::vector<std::uint8_t> z(static_cast<std::size_t>(out.n * per_col), 0);
    for (std::int64_t col = 0; col < out.n; ++col)
      for (std::int64_t j = 0; j < blocks; ++j) {
        const auto v = static_cast<std::uint8_t>(zeros[param(col, j)] + mid);
        if (out.bits == 8)
          z[static_cast<std::size_t>(col * per_col + j)] = v;
        else
          z[static_cast<std::size_t>(col * per_col + j / 2)] |=
              static_cast<std::uint8_t>(v << (j % 2 == 0 ? 0 : 4));
      }
    out.zero_points = Tensor::from_vector<std::uint8_t>({out.n * per_col}, z);
  }
  return out;
}

}  // namespace qs::exporter
