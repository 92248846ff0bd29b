// A graph prepared for one Vulkan device and one set of input shapes: every tensor the device
// computes lives in a device buffer, constants are uploaded once, and the dispatches of each run
// of consecutive device nodes are recorded once into a command buffer that every run resubmits.
// Nodes the device does not run go to the reference kernels on the host, with their inputs
// downloaded and their outputs uploaded around them.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "context.h"
#include "quantscope/device.h"
#include "quantscope/executor.h"

namespace qs::vk {

using ShapeOf = std::function<const Tensor*(const std::string&)>;

// Weight-only quantized layers run with their codes (int8, or int4 packed two per byte) on the
// device when integer kernels are on (weights.cpp).
struct PackedLayer {
  int format = 1;  // gemm.comp's WFMT: 1 int8, 2 int4
  std::vector<std::uint32_t> words;
  std::vector<float> scales;
  std::vector<std::int32_t> zero_points;
  std::int64_t rows = 0, k = 0, k_words = 0, groups_per_row = 1;
  std::int64_t group_size = 0;  // k per scale; the last group of a row may be shorter
};

// A buffer bound to a kernel: all of it, or the part [offset, offset + range) (a slice of a
// batch too large to bind whole).
struct Binding {
  Binding(std::shared_ptr<Buffer> b) : buffer(std::move(b)) {}  // NOLINT: implicit on purpose
  Binding(std::shared_ptr<Buffer> b, std::uint64_t off, std::uint64_t len)
      : buffer(std::move(b)), offset(off), range(len) {}
  std::shared_ptr<Buffer> buffer;
  std::uint64_t offset = 0, range = VK_WHOLE_SIZE;
};

struct Dispatch {
  const Kernel* kernel = nullptr;
  std::vector<Binding> bindings;
  std::array<std::uint32_t, kPushBytes / 4> push{};
  std::uint32_t groups[3] = {1, 1, 1};
  VkDescriptorSet set = VK_NULL_HANDLE;
};

struct Step {
  std::string name, op;                // the node's name; its op with what was fused ("Conv+Relu")
  std::vector<Dispatch> dispatches;    // empty for a host step or a view (Reshape)
  const Node* host = nullptr;          // a node on the reference kernels
  std::vector<std::string> uploads;    // host values this step reads, uploaded before it
  std::vector<std::string> downloads;  // device values needed on the host after this step
  std::vector<const Buffer*> writes;   // buffers its dispatches write
};

class Plan {
 public:
  Plan(std::shared_ptr<Context> ctx, const Graph& graph, const TensorMap& inputs,
       const std::map<const Node*, std::shared_ptr<const PackedLayer>>& packed);
  ~Plan();
  // `profile`: time every step (a timestamp and a full barrier after each); otherwise only the
  // whole run is timed and dispatches that do not depend on each other may overlap.
  TensorMap run(const TensorMap& inputs, bool profile);
  // Per step (nodes on the host included, timed on the host) of the last profiled run.
  const std::vector<NodeTiming>& timings() const { return timings_; }
  // GPU time of the last run's dispatches, from timestamps; -1 without timestamps.
  double device_ms() const { return device_ms_; }

  // --- for the op builders (ops_*.cpp) ---
  Context& ctx() { return *ctx_; }
  const Graph& graph() const { return graph_; }
  const Shape& shape(const std::string& value) const;
  // A constant's contents (an initializer), or nullptr.
  const Tensor* constant(const std::string& value) const;
  // The device buffer of a value computed before, or of a constant (uploaded now); within a
  // batch slice (see below), the slice's part of a value split along the batch.
  Binding in(const std::string& value);
  // The buffer the current node writes `value` into (likewise).
  Binding out(const std::string& value);
  // `value` is `source` seen with another shape (Reshape, Flatten, Squeeze...): no copy.
  void view(const std::string& value, const std::string& source);
  // A buffer with these contents, uploaded now.
  std::shared_ptr<Buffer> upload(const void* data, std::uint64_t bytes);
  // A 4-byte buffer for bindings a kernel does not read.
  Binding dummy() { return dummy_; }
  // Appends a dispatch to the current step.
  void dispatch(const Kernel& kernel, std::vector<Binding> bindings, const void* push,
                std::size_t push_bytes, std::uint32_t gx, std::uint32_t gy = 1,
                std::uint32_t gz = 1);
  // Dispatches over `count` invocations in 256-wide groups, spread over y when needed.
  void dispatch_1d(const Kernel& kernel, std::vector<Binding> bindings, const void* push,
                   std::size_t push_bytes, std::int64_t count, std::int64_t group_size = 256);
  Step& step() { return steps_.back(); }

 private:
  struct Value {
    Shape shape;
    DType dtype = DType::f32;
    std::shared_ptr<Buffer> buffer;  // on the device
    bool on_host = false;            // produced on the host (graph input, host step, constant)
    bool on_device = false;          // produced by a dispatch (or uploaded constant)
    bool upload = false;             // a host value read by the device: uploaded before use
    bool download = false;           // a device value read on the host or returned
    std::shared_ptr<Buffer> staging;
    Tensor host;
  };
  struct Segment {
    std::size_t first = 0, last = 0;                                 // steps [first, last)
    VkCommandBuffer commands[2] = {VK_NULL_HANDLE, VK_NULL_HANDLE};  // plain, profiled
    std::vector<std::string> uploads, downloads;
    std::uint32_t first_query = 0;
  };
  // A node whose tensors are too large to bind whole runs as slices of its batch: while a slice
  // is built, shape() and in()/out() of the values in `split` see samples [begin, begin+count).
  struct Slice {
    std::int64_t begin = 0, count = 0;
    std::vector<std::string> split;
  };
  bool in_slice(const std::string& name) const;
  // Samples per slice for `node` (0: it cannot be split), given the largest range to bind.
  std::int64_t slice_size(const Node& node, std::uint64_t range, std::vector<std::string>& split);
  Slice slice_;
  std::map<std::string, Shape> sliced_shapes_;  // of the values in slice_.split
  Value& value(const std::string& name);
  void build_segments();
  VkCommandBuffer record(const Segment& seg, bool profiled);
  void make_host_step(const Node& node);
  void submit_and_wait(VkCommandBuffer commands);

  std::shared_ptr<Context> ctx_;
  const Graph& graph_;
  TensorMap metas_;
  std::map<std::string, Value> values_;
  std::vector<Step> steps_;
  std::vector<Segment> segments_;
  std::vector<std::string> input_names_;
  std::shared_ptr<Buffer> dummy_;
  VkDescriptorPool pool_ = VK_NULL_HANDLE;
  VkCommandPool commands_ = VK_NULL_HANDLE;
  VkQueryPool queries_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  std::vector<NodeTiming> timings_;
  double device_ms_ = -1;
};

// Why the device does not run `node` with the shapes given by shape_of; "" when it does.
// `packed`: the node is a weight-only layer whose codes the device would use.
std::string unsupported(const Graph& graph, const Node& node, const ShapeOf& shape_of, bool packed);
// Adds the node's dispatches to p.step(), with `activation` (Relu, Clip, HardSwish, Sigmoid
// reading only the node's output) fused into them when given. Only called when unsupported()
// gave "".
void build_node(Plan& p, const Node& node, const PackedLayer* packed, const Node* activation);
// Whether build_node can fuse `activation` into `node`.
bool can_fuse_activation(const Plan& p, const Node& node, const Node& activation);
// Reshape, Flatten, Squeeze, Unsqueeze, Identity: the output is the input seen anew.
bool is_view(const Node& node);
// Whether `node` computes each sample of its batch (the first dimension of its output) from
// the same sample of its batched inputs alone, so that it can run in slices of the batch.
bool batch_separable(const Graph& graph, const Node& node, const ShapeOf& shape_of);

}  // namespace qs::vk
