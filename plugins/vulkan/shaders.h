// The SPIR-V of shaders/*.comp, embedded at build time (embed_spirv.cmake).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace qs::vk {

// The shader's words by file stem ("gemm"); empty when there is no such shader.
std::span<const std::uint32_t> shader_code(std::string_view name);

}  // namespace qs::vk
