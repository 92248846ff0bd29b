// A thin RAII layer over the Vulkan C API: the devices found on this machine, one logical
// device with its compute queue, buffers, and compute pipelines made from the embedded shaders.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "vk_functions.h"

namespace qs::vk {

// One physical device as found, in selection order: discrete GPUs, integrated GPUs, virtual
// GPUs, CPU implementations (lavapipe), then anything else.
struct DeviceInfo {
  int index = 0;  // vulkan:<index>
  std::string name, type, driver, api_version;
  std::uint32_t vendor_id = 0, device_id = 0;
  std::uint64_t max_storage_buffer_range = 0;
  std::uint64_t min_offset_alignment = 256;  // of a storage buffer binding
  std::uint32_t max_shared_memory = 0, max_workgroup_invocations = 0;
  std::uint64_t device_local_bytes = 0;
  double timestamp_period_ns = 0;  // 0: no timestamps on the compute queue
  bool usable = false;
  std::string reason;  // why not, when !usable
};

struct Probe {
  std::vector<DeviceInfo> devices;
  std::string error;  // set when Vulkan itself is missing (no loader, no driver)
};
// The devices of this machine, probed once per process.
const Probe& probe();

class Context;

// A storage buffer with its own memory. Host-visible buffers stay mapped.
class Buffer {
 public:
  Buffer(Context& ctx, std::uint64_t bytes, bool host_visible);
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  VkBuffer handle() const { return buffer_; }
  std::uint64_t bytes() const { return bytes_; }
  void* mapped() const { return mapped_; }  // nullptr unless host-visible

 private:
  Context& ctx_;
  VkBuffer buffer_ = VK_NULL_HANDLE;
  VkDeviceMemory memory_ = VK_NULL_HANDLE;
  std::uint64_t bytes_ = 0;
  void* mapped_ = nullptr;
};

// A compute pipeline: one shader with its specialization constants, `bindings` storage buffers
// at set 0 and 128 bytes of push constants.
struct Kernel {
  VkPipeline pipeline = VK_NULL_HANDLE;
  VkPipelineLayout layout = VK_NULL_HANDLE;
  VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
  int bindings = 0;
};

constexpr std::uint32_t kPushBytes = 128;

class Context {
 public:
  // Opens device `index` of probe(). Throws Error when it is missing or unusable.
  static std::shared_ptr<Context> open(int index);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  const Functions& fn() const { return f_; }
  VkDevice device() const { return device_; }
  VkQueue queue() const { return queue_; }
  std::uint32_t queue_family() const { return family_; }
  const DeviceInfo& info() const { return info_; }
  // Held while submitting: graphs compiled on several threads share the one queue.
  std::mutex& queue_mutex() { return queue_mutex_; }
  // The pipeline of `shader` with `spec` as specialization constants 0, 1, ...; made once.
  const Kernel& kernel(const std::string& shader, int bindings, const std::vector<int>& spec);
  // A memory type with `required` flags, preferring `preferred` ones too.
  std::uint32_t memory_type(std::uint32_t type_bits, VkMemoryPropertyFlags required,
                            VkMemoryPropertyFlags preferred) const;

 private:
  Context() = default;
  Functions f_;
  VkInstance instance_ = VK_NULL_HANDLE;
  VkPhysicalDevice physical_ = VK_NULL_HANDLE;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  std::uint32_t family_ = 0;
  DeviceInfo info_;
  VkPhysicalDeviceMemoryProperties memory_{};
  std::mutex kernels_mutex_, queue_mutex_;
  std::map<std::pair<std::string, std::vector<int>>, Kernel> kernels_;
};

}  // namespace qs::vk
