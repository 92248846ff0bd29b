#include "context.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstring>

#include "quantscope/tensor.h"
#include "shaders.h"

namespace qs::vk {

const Functions* global_functions(std::string& why) {
  static std::string error;
  static const Functions* loaded = []() -> const Functions* {
    void* lib = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* e = dlerror();
      error = std::string("no Vulkan loader (libvulkan.so.1): ") + (e ? e : "not found");
      return nullptr;
    }
    static Functions f;
    f.vkGetInstanceProcAddr =
        reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(lib, "vkGetInstanceProcAddr"));
    if (!f.vkGetInstanceProcAddr) {
      error = "libvulkan.so.1 has no vkGetInstanceProcAddr";
      return nullptr;
    }
    f.vkCreateInstance = reinterpret_cast<PFN_vkCreateInstance>(
        f.vkGetInstanceProcAddr(VK_NULL_HANDLE, "vkCreateInstance"));
    f.vkEnumerateInstanceVersion = reinterpret_cast<PFN_vkEnumerateInstanceVersion>(
        f.vkGetInstanceProcAddr(VK_NULL_HANDLE, "vkEnumerateInstanceVersion"));
    if (!f.vkCreateInstance) {
      error = "the Vulkan loader has no vkCreateInstance";
      return nullptr;
    }
    return &f;
  }();
  why = error;
  return loaded;
}

void load_instance_functions(Functions& f, VkInstance instance) {
#define QS_VK_LOAD(name)                                                           \
  f.name = reinterpret_cast<PFN_##name>(f.vkGetInstanceProcAddr(instance, #name)); \
  if (!f.name) throw Error("vulkan: the driver has no " #name);
  QS_VK_INSTANCE_FUNCTIONS(QS_VK_LOAD)
#undef QS_VK_LOAD
}

const char* result_name(VkResult r) {
  switch (r) {
#define QS_VK_CASE(x) \
  case x:             \
    return #x;
    QS_VK_CASE(VK_SUCCESS)
    QS_VK_CASE(VK_NOT_READY)
    QS_VK_CASE(VK_TIMEOUT)
    QS_VK_CASE(VK_INCOMPLETE)
    QS_VK_CASE(VK_ERROR_OUT_OF_HOST_MEMORY)
    QS_VK_CASE(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    QS_VK_CASE(VK_ERROR_INITIALIZATION_FAILED)
    QS_VK_CASE(VK_ERROR_DEVICE_LOST)
    QS_VK_CASE(VK_ERROR_MEMORY_MAP_FAILED)
    QS_VK_CASE(VK_ERROR_LAYER_NOT_PRESENT)
    QS_VK_CASE(VK_ERROR_EXTENSION_NOT_PRESENT)
    QS_VK_CASE(VK_ERROR_FEATURE_NOT_PRESENT)
    QS_VK_CASE(VK_ERROR_INCOMPATIBLE_DRIVER)
    QS_VK_CASE(VK_ERROR_TOO_MANY_OBJECTS)
    QS_VK_CASE(VK_ERROR_FORMAT_NOT_SUPPORTED)
    QS_VK_CASE(VK_ERROR_FRAGMENTED_POOL)
    QS_VK_CASE(VK_ERROR_OUT_OF_POOL_MEMORY)
    QS_VK_CASE(VK_ERROR_UNKNOWN)
#undef QS_VK_CASE
    default:
      return "VkResult error";
  }
}

void check(VkResult r, const char* what) {
  if (r != VK_SUCCESS) throw Error(std::string("vulkan: ") + what + ": " + result_name(r));
}

namespace {

// Keeps an instance for as long as it is needed.
struct InstanceHolder {
  Functions f;
  VkInstance instance = VK_NULL_HANDLE;
  ~InstanceHolder() {
    if (instance && f.vkDestroyInstance) f.vkDestroyInstance(instance, nullptr);
  }
};

// Creates an instance and loads its functions; throws Error with the reason.
void create_instance(InstanceHolder& h) {
  std::string why;
  const Functions* g = global_functions(why);
  if (!g) throw Error(why);
  h.f = *g;
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "quantscope";
  app.pEngineName = "quantscope";
  app.apiVersion = VK_API_VERSION_1_1;
  VkInstanceCreateInfo info{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  info.pApplicationInfo = &app;
  const VkResult r = h.f.vkCreateInstance(&info, nullptr, &h.instance);
  if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
    throw Error("no Vulkan driver (ICD) found: install mesa-vulkan-drivers or a GPU driver");
  check(r, "vkCreateInstance");
  load_instance_functions(h.f, h.instance);
}

int type_rank(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
      return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
      return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
      return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
      return 3;
    default:
      return 4;
  }
}

const char* type_name(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
      return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
      return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
      return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
      return "CPU";
    default:
      return "other";
  }
}

std::string version_string(std::uint32_t v) {
  return std::to_string(VK_API_VERSION_MAJOR(v)) + "." + std::to_string(VK_API_VERSION_MINOR(v)) +
         "." + std::to_string(VK_API_VERSION_PATCH(v));
}

// A queue family with compute, or -1.
int compute_family(const Functions& f, VkPhysicalDevice pd, bool& timestamps) {
  std::uint32_t n = 0;
  f.vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, nullptr);
  std::vector<VkQueueFamilyProperties> fams(n);
  f.vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, fams.data());
  int best = -1;
  for (std::uint32_t i = 0; i < n; ++i) {
    if (!(fams[i].queueFlags & VK_QUEUE_COMPUTE_BIT)) continue;
    // Prefer a compute-only family (a GPU's asynchronous compute queues).
    if (best < 0 || !(fams[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) {
      best = static_cast<int>(i);
      timestamps = fams[i].timestampValidBits > 0;
    }
  }
  return best;
}

struct Found {
  VkPhysicalDevice handle;
  DeviceInfo info;
  std::uint32_t family;
};

std::vector<Found> enumerate(const InstanceHolder& h) {
  std::uint32_t n = 0;
  check(h.f.vkEnumeratePhysicalDevices(h.instance, &n, nullptr), "vkEnumeratePhysicalDevices");
  std::vector<VkPhysicalDevice> handles(n);
  check(h.f.vkEnumeratePhysicalDevices(h.instance, &n, handles.data()),
        "vkEnumeratePhysicalDevices");
  std::vector<Found> found;
  for (VkPhysicalDevice pd : handles) {
    VkPhysicalDeviceProperties p;
    h.f.vkGetPhysicalDeviceProperties(pd, &p);
    VkPhysicalDeviceMemoryProperties m;
    h.f.vkGetPhysicalDeviceMemoryProperties(pd, &m);
    Found fd{pd, {}, 0};
    DeviceInfo& d = fd.info;
    d.name = p.deviceName;
    d.type = type_name(p.deviceType);
    d.api_version = version_string(p.apiVersion);
    d.driver = std::to_string(p.driverVersion);
    d.vendor_id = p.vendorID;
    d.device_id = p.deviceID;
    d.max_storage_buffer_range = p.limits.maxStorageBufferRange;
    d.min_offset_alignment = std::max<std::uint64_t>(4, p.limits.minStorageBufferOffsetAlignment);
    d.max_shared_memory = p.limits.maxComputeSharedMemorySize;
    d.max_workgroup_invocations = p.limits.maxComputeWorkGroupInvocations;
    for (std::uint32_t i = 0; i < m.memoryHeapCount; ++i)
      if (m.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
        d.device_local_bytes += m.memoryHeaps[i].size;
    bool timestamps = false;
    const int family = compute_family(h.f, pd, timestamps);
    if (timestamps && p.limits.timestampPeriod > 0)
      d.timestamp_period_ns = p.limits.timestampPeriod;
    d.usable = true;
    if (family < 0)
      d.reason = "no compute queue";
    else if (p.apiVersion < VK_API_VERSION_1_1)
      d.reason = "Vulkan " + d.api_version + " (1.1 needed)";
    else if (p.limits.maxComputeWorkGroupInvocations < 256 ||
             p.limits.maxComputeWorkGroupSize[0] < 256)
      d.reason = "work groups under 256 invocations";
    else if (p.limits.maxComputeSharedMemorySize < 16384)
      d.reason = "under 16 KiB of shared memory";
    d.usable = d.reason.empty();
    fd.family = family < 0 ? 0 : static_cast<std::uint32_t>(family);
    found.push_back(std::move(fd));
  }
  std::stable_sort(found.begin(), found.end(), [&](const Found& a, const Found& b) {
    VkPhysicalDeviceProperties pa, pb;
    h.f.vkGetPhysicalDeviceProperties(a.handle, &pa);
    h.f.vkGetPhysicalDeviceProperties(b.handle, &pb);
    return type_rank(pa.deviceType) < type_rank(pb.deviceType);
  });
  for (std::size_t i = 0; i < found.size(); ++i) found[i].info.index = static_cast<int>(i);
  return found;
}

}  // namespace

const Probe& probe() {
  static const Probe result = [] {
    Probe p;
    try {
      // Made when a Vulkan device is first opened, then kept for the life of the process:
      // destroying the last instance makes the loader unload the driver, whose one-time global
      // state (Mesa's, allocated under vkEnumeratePhysicalDevices) would then be unreachable, a
      // leak LeakSanitizer reports in every process that used Vulkan. Contexts create instances
      // of their own.
      static InstanceHolder* h = new InstanceHolder;
      if (!h->instance) create_instance(*h);
      for (Found& f : enumerate(*h)) p.devices.push_back(std::move(f.info));
      if (p.devices.empty()) p.error = "the Vulkan loader found no device";
    } catch (const std::exception& e) {
      p.error = e.what();
    }
    return p;
  }();
  return result;
}

std::shared_ptr<Context> Context::open(int index) {
  std::shared_ptr<Context> ctx(new Context());
  InstanceHolder h;
  create_instance(h);
  std::vector<Found> found = enumerate(h);
  if (index < 0 || index >= static_cast<int>(found.size()))
    throw Error("vulkan: no device " + std::to_string(index) + " (" + std::to_string(found.size()) +
                " found)");
  const Found& fd = found[static_cast<std::size_t>(index)];
  if (!fd.info.usable)
    throw Error("vulkan: device " + std::to_string(index) + " (" + fd.info.name +
                ") is not usable: " + fd.info.reason);
  ctx->f_ = h.f;
  ctx->instance_ = h.instance;
  h.instance = VK_NULL_HANDLE;  // the context owns it now
  ctx->physical_ = fd.handle;
  ctx->info_ = fd.info;
  ctx->family_ = fd.family;
  ctx->f_.vkGetPhysicalDeviceMemoryProperties(fd.handle, &ctx->memory_);
  const float priority = 1.0f;
  VkDeviceQueueCreateInfo q{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  q.queueFamilyIndex = fd.family;
  q.queueCount = 1;
  q.pQueuePriorities = &priority;
  VkDeviceCreateInfo di{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  di.queueCreateInfoCount = 1;
  di.pQueueCreateInfos = &q;
  check(ctx->f_.vkCreateDevice(fd.handle, &di, nullptr, &ctx->device_), "vkCreateDevice");
  ctx->f_.vkGetDeviceQueue(ctx->device_, fd.family, 0, &ctx->queue_);
  return ctx;
}

Context::~Context() {
  if (device_) {
    f_.vkDeviceWaitIdle(device_);
    for (auto& [key, k] : kernels_) {
      f_.vkDestroyPipeline(device_, k.pipeline, nullptr);
      f_.vkDestroyPipelineLayout(device_, k.layout, nullptr);
      f_.vkDestroyDescriptorSetLayout(device_, k.set_layout, nullptr);
    }
    f_.vkDestroyDevice(device_, nullptr);
  }
  if (instance_) f_.vkDestroyInstance(instance_, nullptr);
}

std::uint32_t Context::memory_type(std::uint32_t type_bits, VkMemoryPropertyFlags required,
                                   VkMemoryPropertyFlags preferred) const {
  int fallback = -1;
  for (std::uint32_t i = 0; i < memory_.memoryTypeCount; ++i) {
    if (!(type_bits & (1u << i))) continue;
    const VkMemoryPropertyFlags flags = memory_.memoryTypes[i].propertyFlags;
    if ((flags & required) != required) continue;
    if ((flags & preferred) == preferred) return i;
    if (fallback < 0) fallback = static_cast<int>(i);
  }
  if (fallback < 0) throw Error("vulkan: no suitable memory type");
  return static_cast<std::uint32_t>(fallback);
}

const Kernel& Context::kernel(const std::string& shader, int bindings,
                              const std::vector<int>& spec) {
  std::lock_guard lock(kernels_mutex_);
  auto key = std::make_pair(shader, spec);
  if (auto it = kernels_.find(key); it != kernels_.end()) return it->second;
  const std::span<const std::uint32_t> code = shader_code(shader);
  if (code.empty()) throw Error("vulkan: no shader '" + shader + "' in the plugin");
  Kernel k;
  k.bindings = bindings;
  std::vector<VkDescriptorSetLayoutBinding> b(static_cast<std::size_t>(bindings));
  for (int i = 0; i < bindings; ++i) {
    b[static_cast<std::size_t>(i)] = {static_cast<std::uint32_t>(i),
                                      VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1,
                                      VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
  }
  VkDescriptorSetLayoutCreateInfo sl{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  sl.bindingCount = static_cast<std::uint32_t>(bindings);
  sl.pBindings = b.data();
  check(f_.vkCreateDescriptorSetLayout(device_, &sl, nullptr, &k.set_layout),
        "vkCreateDescriptorSetLayout");
  VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, kPushBytes};
  VkPipelineLayoutCreateInfo pl{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  pl.setLayoutCount = 1;
  pl.pSetLayouts = &k.set_layout;
  pl.pushConstantRangeCount = 1;
  pl.pPushConstantRanges = &range;
  check(f_.vkCreatePipelineLayout(device_, &pl, nullptr, &k.layout), "vkCreatePipelineLayout");
  VkShaderModuleCreateInfo sm{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  sm.codeSize = code.size() * 4;
  sm.pCode = code.data();
  VkShaderModule module = VK_NULL_HANDLE;
  check(f_.vkCreateShaderModule(device_, &sm, nullptr, &module), "vkCreateShaderModule");
  std::vector<VkSpecializationMapEntry> entries(spec.size());
  for (std::size_t i = 0; i < spec.size(); ++i)
    entries[i] = {static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(i * 4), 4};
  VkSpecializationInfo si{static_cast<std::uint32_t>(entries.size()), entries.data(),
                          spec.size() * 4, spec.data()};
  VkComputePipelineCreateInfo ci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  ci.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
  ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  ci.stage.module = module;
  ci.stage.pName = "main";
  ci.stage.pSpecializationInfo = spec.empty() ? nullptr : &si;
  ci.layout = k.layout;
  const VkResult r =
      f_.vkCreateComputePipelines(device_, VK_NULL_HANDLE, 1, &ci, nullptr, &k.pipeline);
  f_.vkDestroyShaderModule(device_, module, nullptr);
  check(r, ("vkCreateComputePipelines (" + shader + ")").c_str());
  return kernels_.emplace(key, k).first->second;
}

Buffer::Buffer(Context& ctx, std::uint64_t bytes, bool host_visible)
    : ctx_(ctx), bytes_(std::max<std::uint64_t>(bytes, 4)) {
  const Functions& f = ctx.fn();
  VkBufferCreateInfo bi{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bi.size = bytes_;
  bi.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
             VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  check(f.vkCreateBuffer(ctx.device(), &bi, nullptr, &buffer_), "vkCreateBuffer");
  VkMemoryRequirements req;
  f.vkGetBufferMemoryRequirements(ctx.device(), buffer_, &req);
  VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  ai.allocationSize = req.size;
  ai.memoryTypeIndex =
      host_visible ? ctx.memory_type(
                         req.memoryTypeBits,
                         VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
                         VK_MEMORY_PROPERTY_HOST_CACHED_BIT)
                   : ctx.memory_type(req.memoryTypeBits, 0, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
  const VkResult r = f.vkAllocateMemory(ctx.device(), &ai, nullptr, &memory_);
  if (r != VK_SUCCESS) {
    f.vkDestroyBuffer(ctx.device(), buffer_, nullptr);
    throw Error("vulkan: cannot allocate " + std::to_string(bytes_) + " bytes: " + result_name(r));
  }
  check(f.vkBindBufferMemory(ctx.device(), buffer_, memory_, 0), "vkBindBufferMemory");
  if (host_visible)
    check(f.vkMapMemory(ctx.device(), memory_, 0, VK_WHOLE_SIZE, 0, &mapped_), "vkMapMemory");
}

Buffer::~Buffer() {
  const Functions& f = ctx_.fn();
  if (mapped_) f.vkUnmapMemory(ctx_.device(), memory_);
  f.vkDestroyBuffer(ctx_.device(), buffer_, nullptr);
  f.vkFreeMemory(ctx_.device(), memory_, nullptr);
}

}  // namespace qs::vk
