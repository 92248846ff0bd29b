// cpu-ref: the reference kernels as a device, the ground truth every other device is tested
// against.
#pragma once

#include "quantscope/device.h"

namespace qs {

class CpuRefDevice : public Device {
 public:
  std::string name() const override { return "cpu-ref"; }
  std::string description() const override;
  DeviceStatus status() const override { return {}; }
  std::string unsupported_reason(const Graph& graph, const Node& node) const override;
  std::unique_ptr<CompiledGraph> compile(const Graph& graph) override;
  std::map<std::string, std::string> environment() const override;
};

}  // namespace qs
