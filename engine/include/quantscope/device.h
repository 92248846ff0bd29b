// Devices: where a graph runs. The reference CPU device (cpu-ref) is built in; others come as
// plugins (cpu-onednn, vulkan). A device runs the nodes it supports; the others run on the
// reference kernels, and placement() says which is which.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "quantscope/executor.h"
#include "quantscope/graph.h"

namespace qs {

struct DeviceStatus {
  bool usable = true;
  std::string reason;  // why not, when !usable
};

struct NodeTiming {
  std::string name;  // the node's ONNX name
  std::string op;    // its op, with what was fused into it ("Conv+Relu")
  double ms = 0;
  // The implementation that ran it, where the device names one (oneDNN's "jit:avx2",
  // "brg:avx512_core", "ref:any" for its slow reference code; "reference" for Quantscope's).
  std::string kernel;
};

// A graph prepared for one device. Not thread-safe: one run at a time.
class CompiledGraph {
 public:
  virtual ~CompiledGraph() = default;
  // Runs on named inputs, returns the graph outputs. Input shapes may change between runs
  // (a device re-prepares what depends on them). Throws Error naming the input or node.
  virtual TensorMap run(const TensorMap& inputs) = 0;
  // When on, run() records the time of each node (or fused group of nodes), at some cost.
  virtual void set_profiling(bool on) { (void)on; }
  virtual std::vector<NodeTiming> last_timings() const { return {}; }
  // The last run's time on the device as the device's own clock measured it (GPU timestamps),
  // in ms; negative when the device keeps no such clock.
  virtual double last_device_ms() const { return -1.0; }
  // Bytes the last run's intermediate values occupied (a device that places them by lifetime
  // reuses bytes: less than their sum); negative when the device does not say.
  virtual std::int64_t buffer_bytes() const { return -1; }
};

class Device {
 public:
  virtual ~Device() = default;
  virtual std::string name() const = 0;
  virtual std::string description() const = 0;
  // Whether the device can run on this machine, and why not. Cheap.
  virtual DeviceStatus status() const = 0;
  // Empty when the device runs `node` itself (shapes and dtypes are in graph.value_info);
  // otherwise why not ("op Erf", "dtype int64"): the node then runs on the reference kernels.
  virtual std::string unsupported_reason(const Graph& graph, const Node& node) const = 0;
  // Prepares the graph (which must outlive the result). Throws Error when the device is unusable.
  virtual std::unique_ptr<CompiledGraph> compile(const Graph& graph) = 0;
  // Asks for `threads` worker threads (0: the device's default); returns how many it will use.
  virtual int set_threads(int threads) {
    (void)threads;
    return 1;
  }
  // Asks for integer kernels on quantized graphs (nodes with quant_format.h parameters)
  // instead of simulating them in float. Returns whether they will be used: false when the
  // device has none (it then keeps simulating).
  virtual bool use_integer_kernels(bool on) {
    (void)on;
    return false;
  }
  // What a measurement must record: "isa", "threads", library versions. Keys and values are
  // free-form strings.
  virtual std::map<std::string, std::string> environment() const { return {}; }
};

// For each node in graph order: the device that runs it (device.name() or "cpu-ref") and,
// when it falls back, the reason.
struct Placement {
  std::string node;
  std::string op;
  std::string device;
  std::string reason;
};
std::vector<Placement> placement(const Device& device, const Graph& graph);

// The batch a model fixes: the first dimension of its first input when the file gives it as
// a number (torch.onnx.export without dynamic_axes writes 1), else 0. Pure; any thread.
std::int64_t fixed_batch(const Graph& graph);

// device.compile(graph), and for a model with a fixed batch B a graph whose run() takes any
// number of samples: the inputs whose first dimension the model fixes to B are fed B samples at
// a time (the last chunk padded by repeating its last sample), and each output's rows are
// concatenated with the padding dropped. An output whose first dimension is not a multiple of
// B is an Error naming it. Same thread rules as compile().
std::unique_ptr<CompiledGraph> compile_any_batch(Device& device, const Graph& graph);

}  // namespace qs
