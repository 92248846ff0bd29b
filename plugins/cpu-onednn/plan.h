// An execution plan of one graph for one set of input shapes: oneDNN primitives created once,
// weights reordered once, per-run buffers placed once in an arena by their lifetimes
// (plan_memory.cpp); reference kernels for the other nodes.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <unordered_map>
#include <utility>

#include "onednn_common.h"
#include "quantscope/device.h"
#include "quantscope/executor.h"

namespace qs::onednn {

struct Exec {
  dnnl::primitive prim;
  std::unordered_map<int, dnnl::memory> args;
};

// One tensor value.
struct Slot {
  Shape shape;
  DType dtype = DType::f32;
  Tensor tensor;           // row-major contents, when they live in a Tensor
  bool has_plain = false;  // `tensor` holds the current contents
  bool owned = false;      // the plan allocated `tensor` and rewrites it every run
  bool constant = false;   // initializer: conversions run once, at build time
  dnnl::memory mem;        // the contents in their oneDNN layout, once oneDNN touches them
  std::vector<dnnl::memory> aliases;  // views of `tensor`'s buffer, re-pointed when it changes
  std::vector<int> views;  // slots whose `tensor` is `tensor` reshaped (Flatten, Reshape, ...)
  // Reordered copies by (source view, target) descriptor.
  std::vector<std::pair<std::pair<dnnl::memory::desc, dnnl::memory::desc>, dnnl::memory>> copies;
  int plain_copy = -1;  // slot with a row-major copy of a blocked `mem`
};

struct Step {
  std::string name, op;  // first node's name; ops joined with '+'
  std::vector<Exec> execs;
  const Node* ref_node = nullptr;  // a node on the reference kernels
  std::vector<int> ref_inputs, ref_outputs;
  std::function<void()> host;  // work on the CPU after the execs (quantizing, unpacking weights)
  // What `host` reads and writes, for the buffers' lifetimes (plan_memory.cpp).
  std::vector<int> host_slots;
  std::vector<dnnl::memory> host_mems;
};

// Where a plan's per-run buffers go (plan_memory.cpp): a first build allocates each on its own
// and records which steps use it; the plan is then built again with the n-th allocation at
// offsets[n] of one arena, so that buffers whose steps do not overlap share bytes.
struct ArenaLayout {
  std::vector<std::size_t> bytes;    // per allocation, in the order the build made them
  std::vector<std::size_t> offsets;  // into the arena
  std::size_t size = 0;
  std::size_t unshared = 0;  // the sum of the allocations, for reports and tests
};
// The second build allocated differently from the first: build without an arena.
struct ArenaMismatch : std::exception {
  const char* what() const noexcept override { return "plan arena layout mismatch"; }
};

// What a fused step computes after its main primitive.
struct PostOp {
  std::vector<EltwiseOp> eltwise;  // eltwise ops, or else one binary op:
  dnnl::algorithm binary = dnnl::algorithm::undef;
  std::string other;      // the binary operand's value name, or
  Tensor other_constant;  // a computed constant (BatchNormalization's scale and shift)
};

struct Group {
  std::vector<const Node*> nodes;
  std::vector<PostOp> post;
  std::string output;  // value written by the last node
  // The nodes are a decomposition run as this one eltwise op (exact GELU, SiLU); undef if not.
  dnnl::algorithm whole = dnnl::algorithm::undef;
};

struct FusionContext;

struct IntegerPlan;  // int8.h

// Sets the OpenMP thread count for a scope (nothing when 0); restores it after.
class ThreadScope {
 public:
  explicit ThreadScope(int threads);
  ~ThreadScope();

 private:
  int saved_ = 0;
};

class Plan {
 public:
  // `integer`: quantized layers on integer kernels where they have them (int8.h).
  // `layout`: where the per-run buffers go (from a first build's memory_layout()); none: each
  // buffer allocated on its own. `recording`: a first build that is never run, only asked for
  // memory_layout(): its buffers stay untouched pages and constants are not converted.
  Plan(const Graph& graph, const dnnl::engine& engine, dnnl::stream& stream,
       const TensorMap& inputs, bool integer = false, const ArenaLayout* layout = nullptr,
       bool recording = false);
  // Offsets in one arena for this plan's per-run buffers by their lifetimes (the steps that use
  // them); for a plan built without a layout.
  ArenaLayout memory_layout() const;
  // Bytes of the per-run buffers: the arena, or the sum of the buffers without one.
  std::size_t buffer_bytes() const;
  TensorMap run(const TensorMap& inputs, bool profile, std::vector<NodeTiming>& timings);

  // Builder interface for the step makers (plan_build.cpp).
  const Graph& graph;
  dnnl::engine engine;
  dnnl::stream& stream;
  std::vector<Slot> slots;
  std::map<std::string, int> slot_of;
  std::vector<Step> steps;
  TensorMap metas;  // inferred shapes for this plan's inputs
  ShapeOf values;   // metas, else initializers: shapes, and the values known when building
  int threads = 0;  // OpenMP threads for this plan's primitives (0: the caller's count)

  int slot(const std::string& name);
  const Shape& shape(const std::string& name) { return slots[slot(name)].shape; }
  // The contents in their current layout.
  dnnl::memory current(int s);
  // A view with descriptor `md` (row-major, any dims of the same size) of the row-major contents.
  dnnl::memory view(int s, const dnnl::memory::desc& md, Step& step);
  // The contents in `target` layout, reordered from `source` (a view; default: the current
  // layout) when they differ. Constants are reordered now, others in `step` on every run.
  dnnl::memory in(int s, const dnnl::memory::desc& target, Step& step,
                  const dnnl::memory::desc* source = nullptr);
  // A slot with the contents in a row-major Tensor (s itself when it has one).
  int plain(int s, Step& step);
  // Creates the slot a oneDNN primitive writes `name` into with `md`; returns the memory to
  // pass as its destination.
  // `pinned`: see allocate().
  dnnl::memory output(const std::string& name, const dnnl::memory::desc& md, bool pinned = false);
  // Adds to `step` a copy of slot s's contents into `to` (any layout), run before the step's
  // primitives: the destination of a sum post-op must hold the value added.
  void copy_into(int s, const dnnl::memory& to, Step& step);
  // Whether the group's first post-op adds a computed value of the output's shape `y` (a
  // residual Add after a Conv): oneDNN 2.6 runs such a binary post-op at batch 1 as a broadcast
  // and leaves brgconv for a gemm convolution 40x slower (ResNet-50's Conv+Add 20 ms, the Conv
  // alone 0.5 ms; int8 100 ms). Convolutions run it as a sum post-op on a destination that
  // already holds the residual (copy_into).
  bool residual_first(const Group& g, const Shape& y);
  // Whether shape inference computed every output of `node` (folded once per input shapes).
  bool is_shape_computation(const Node& node) const;
  // Storage written every run: the next place in the arena, or a fresh zeroed allocation
  // (recorded for memory_layout()). `pinned`: its contents must outlive a run (a Pad's border,
  // filled once), so it shares bytes with nothing.
  std::shared_ptr<std::byte[]> allocate(std::size_t bytes, bool pinned = false);
  Tensor allocate_tensor(const Shape& shape, bool pinned = false);
  dnnl::memory allocate_memory(const dnnl::memory::desc& md);
  // A constant slot for a computed tensor.
  int add_constant(const Tensor& t);
  void set_tensor(Slot& slot, const Tensor& t);
  // Appends the post-ops of a group to `ops`, with their binary operands added to `args`.
  // `flat`, when given, is a 2-D [M, N] view of the destination (see flat_operand).
  void append_post_ops(dnnl::post_ops& ops, const Group& group, int dst_rank, Step& step,
                       std::unordered_map<int, dnnl::memory>& args, const dims* flat = nullptr);

 private:
  void add_reorder(const dnnl::memory& from, const dnnl::memory& to, Step& step, bool now);
  void build_step(const Group& group);
  void add_ref_step(const Node& node);
  // Integer mode (int8_build.cpp): builds node i's steps where integer kernels change them;
  // false when the float path applies.
  bool build_integer(FusionContext& ctx, int i);
  bool build_weight_only(FusionContext& ctx, int i);
  // Node i as a lowbit_matmul step (lowbit_matmul.h) when it is a weight-only quantized MatMul
  // or Gemm on a few rows (a decode step); false when it is not (steps_lowbit.cpp).
  bool build_lowbit(int i);
  // Node i's fused group on the float path, its step's op name + `suffix`; false when it fell
  // back to the reference kernels.
  bool build_float(FusionContext& ctx, int i, const std::string& suffix);
  std::shared_ptr<IntegerPlan> int8_;  // integer mode only
  dnnl::memory wrap(int s, const dnnl::memory::desc& md);
  std::vector<std::pair<std::string, int>> inputs_, outputs_;
  // Each step's execs with their arguments as the C API takes them, made once when the plan is
  // complete (the memory objects stay; only their data handles change between runs), so that a
  // run builds no argument list.
  struct Ready {
    dnnl_primitive_t prim;
    std::vector<dnnl_exec_arg_t> args;
  };
  std::vector<std::vector<Ready>> ready_;
  struct Allocation {
    std::shared_ptr<std::byte[]> storage;
    std::size_t bytes = 0;
    bool pinned = false;
  };
  std::vector<Allocation> allocations_;
  const ArenaLayout* layout_ = nullptr;  // during the build only
  bool recording_ = false;
  std::shared_ptr<std::byte[]> arena_;
  std::size_t arena_size_ = 0;
  // Whether a reference kernel's output lies in the arena (it passed an input through): such an
  // output is copied, since its bytes go to another buffer later in the run.
  bool in_arena(const void* p) const;
  void make_arena();
};

// A plan for these input shapes with its buffers in an arena (two builds; one, without an
// arena, should the second build differ from the first).
std::unique_ptr<Plan> build_plan(const Graph& graph, const dnnl::engine& engine,
                                 dnnl::stream& stream, const TensorMap& inputs, bool integer);

// What integer mode does with each node of `graph` (int8_plan.cpp).
std::shared_ptr<IntegerPlan> integer_plan(const Graph& graph, const ShapeOf& shape_of);

// A binary operand's view against a destination viewed as [M, N]: full size, one row or one
// value; false when it broadcasts otherwise.
bool flat_operand(const Shape& shape, const dims& flat, dnnl::memory::desc& md);

// Step makers, one per kind of anchor op; each appends its primitive to `step`.
void make_conv(Plan& p, const Group& g, Step& step);
void make_deconv(Plan& p, const Group& g, Step& step);
void make_transpose(Plan& p, const Group& g, Step& step);
// is_view_op's ops: a row-major view of the input under the output's dims.
void make_view(Plan& p, const Group& g, Step& step);
void make_reduce(Plan& p, const Group& g, Step& step);
void make_concat(Plan& p, const Group& g, Step& step);
void make_space_depth(Plan& p, const Group& g, Step& step);
void make_variadic(Plan& p, const Group& g, Step& step);
void make_prelu(Plan& p, const Group& g, Step& step);
void make_lrn(Plan& p, const Group& g, Step& step);
// Slice, Gather of one index, Split, Pad: reorders between strided views (steps_layout.cpp).
void make_window(Plan& p, const Group& g, Step& step);
// Whether a Slice or Gather reads one strided box of its input (make_window) with the values
// known when the plan is built.
bool window_known(Plan& p, const Node& n);
// steps_host.cpp
void make_gather_rows(Plan& p, const Group& g, Step& step);
void make_expand(Plan& p, const Group& g, Step& step);
void make_split(Plan& p, const Group& g, Step& step);
void make_pad(Plan& p, const Group& g, Step& step);
// A strided ConvTranspose as one stride-1 Conv per output phase; false when it does not apply.
bool make_deconv_phases(Plan& p, const Group& g, Step& step, const Geometry& geo);
void make_gemm(Plan& p, const Group& g, Step& step);
void make_matmul(Plan& p, const Group& g, Step& step);
void make_binary(Plan& p, const Group& g, Step& step);
void make_eltwise(Plan& p, const Group& g, Step& step);
// One eltwise primitive from src into dst (the same memory for in place), added to `step`.
void add_eltwise(Plan& p, Step& step, const EltwiseOp& op, const dnnl::memory& src,
                 const dnnl::memory& dst);
void make_pool(Plan& p, const Group& g, Step& step);
void make_softmax(Plan& p, const Group& g, Step& step);
void make_layer_norm(Plan& p, const Group& g, Step& step);
void make_rms_norm(Plan& p, const Group& g, Step& step);
void make_attention(Plan& p, const Group& g, Step& step);

// Fusion (fusion.cpp): the group anchored at nodes[anchor], with the post-op nodes that follow
// it marked in `claimed`.
struct FusionContext {
  const Graph& graph;
  const ShapeOf& shape_of;
  std::map<std::string, int> consumers;  // graph outputs count as a consumer
  std::map<std::string, int> producer;   // node index
  std::vector<bool> claimed;
};
FusionContext make_fusion_context(const Graph& graph, const ShapeOf& shape_of);
Group make_group(FusionContext& ctx, int anchor, bool fuse);
// x -> Div(x, sqrt 2) -> Erf -> Add(1) -> Mul(x, .) -> Mul(0.5), from the Div at `div`, with
// every intermediate value used only inside: the five node indices, or empty.
std::vector<int> gelu_pattern(const FusionContext& ctx, int div);
// GELU's tanh form as torch.onnx writes it: x -> Mul(x, x) -> Mul(x, .) -> Mul(0.044715) ->
// Add(x, .) -> Mul(sqrt(2/pi)) -> Tanh -> Add(1) -> Mul(x, .) -> Mul(0.5), or with the 0.5 taken
// as Mul(x, 0.5) first; x read by these nodes alone, every value inside used only inside. Nodes
// after `after` (and unclaimed, but for `start` when given), in graph order; the last writes y.
std::vector<int> gelu_tanh_pattern(const FusionContext& ctx, const std::string& x, int after,
                                   int start = -1);
// x -> Sigmoid -> Mul(x, .), from the Sigmoid at `sigmoid`, its output read by the Mul alone:
// the Mul's node index, or -1 (SiLU, as torch exports it: EfficientNet, YOLO).
int silu_mul(const FusionContext& ctx, int sigmoid);
// BatchNormalization's per-channel scale and shift (as the reference computes them), shaped
// [1, C, 1, ...] for an input of `rank`.
std::pair<Tensor, Tensor> batch_norm_affine(const Graph& graph, const Node& node, int rank);

}  // namespace qs::onednn
