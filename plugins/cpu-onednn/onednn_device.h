// The cpu-onednn device.
#pragma once

#include "quantscope/device.h"

namespace qs::onednn {

class OnednnDevice : public Device {
 public:
  std::string name() const override { return "cpu-onednn"; }
  std::string description() const override;
  DeviceStatus status() const override;
  std::string unsupported_reason(const Graph& graph, const Node& node) const override;
  std::unique_ptr<CompiledGraph> compile(const Graph& graph) override;
  std::map<std::string, std::string> environment() const override;
  // oneDNN here runs on OpenMP: the count applies to graphs run afterwards on the calling thread.
  int set_threads(int threads) override;
  // Integer kernels (int8.h) for graphs compiled afterwards.
  // Integer kernels only on CPUs with VNNI: without it oneDNN adds pairs of u8 x s8 products
  // in 16 bits (vpmaddubsw), which saturates for 8-bit weights and activations, so its results
  // would not be the quantized model's (the simulation is used instead; see environment()).
  bool use_integer_kernels(bool on) override {
    integer_ = on && has_vnni();
    return integer_;
  }
  static bool has_vnni();
  // fp32 lanes of the widest vector oneDNN uses here: 16 with AVX-512, else 8. Its blocked
  // kernels block channels by this; a block of 16 on an AVX2 CPU has only reference kernels.
  static int vector_lanes();

 private:
  bool integer_ = false;
};

// "oneDNN 2.6.3"
std::string onednn_version();

}  // namespace qs::onednn
