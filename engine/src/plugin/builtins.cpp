// The one place built-in devices and algorithms are registered.
#include "quant/calibrators/calibrators.h"
#include "quant/roundings/roundings.h"
#include "quantscope/registry.h"
#include "runtime/cpu_ref_device.h"

namespace qs {

void register_builtins(Registry& registry) {
  registry.add_device("cpu-ref", "reference kernels on the CPU (fp32, plain loops and Eigen)",
                      [] { return std::make_unique<CpuRefDevice>(); });
  // Activation calibrators (quant/calibrators/, one file each).
  registry.add_calibrator("minmax", "the range of the values seen", calibrators::make_minmax);
  registry.add_calibrator("percentile",
                          "clips at the P-th percentile (percentile:P, 50 < P <= 100; 99.99)",
                          calibrators::make_percentile);
  registry.add_calibrator("mse", "the range with the least squared quantization error",
                          calibrators::make_mse);
  registry.add_calibrator("entropy", "the KL-divergence threshold (TensorRT's calibration)",
                          calibrators::make_entropy);
  // Weight rounding methods (quant/roundings/, one file each).
  registry.add_rounding("rtn", "round to nearest (RTN)", roundings::make_rtn);
  registry.add_rounding("gptq", "GPTQ: second-order error feedback (gptq:damp=D,order=act|natural)",
                        roundings::make_gptq);
}

}  // namespace qs
