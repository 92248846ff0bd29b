// The one place built-in devices and algorithms are registered.
#include "quantscope/registry.h"
#include "runtime/cpu_ref_device.h"

namespace qs {

void register_builtins(Registry& registry) {
  registry.add_device("cpu-ref", "reference kernels on the CPU (fp32, plain loops and Eigen)",
                      [] { return std::make_unique<CpuRefDevice>(); });
}

}  // namespace qs
