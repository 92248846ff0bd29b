// Building a plan: slots for values, layout conversions where producer and consumer disagree,
// fused groups on oneDNN and single nodes on the reference kernels.
#include "plan.h"

namespace qs::onednn {

namespace {
constexpr std::int64_t kSmallWork = std::int64_t{1} << 18;  // values written by a run
}  // namespace

// Shape inference for this plan's input shapes computed every output of the node: it is
// arithmetic on shapes (Shape -> Gather -> Concat -> Reshape's target), folded here once per
// input shape set, and its outputs are constant slots.
bool Plan::is_shape_computation(const Node& node) const {
  if (node.outputs.empty() || !node.domain.empty() || node.op_type == "QuantizeLinear" ||
      node.op_type == "DequantizeLinear")
    return false;
  for (const std::string& out : node.outputs) {
    if (out.empty()) continue;
    auto it = metas.find(out);
    if (it == metas.end() || !it->second.has_data()) return false;
  }
  return true;
}

Plan::Plan(const Graph& g, const dnnl::engine& e, dnnl::stream& s, const TensorMap& inputs,
           bool integer, const ArenaLayout* layout, bool recording)
    : graph(g), engine(e), stream(s), layout_(layout), recording_(recording) {
  if (layout_) make_arena();
  TensorMap meta_in;
  for (const auto& [name, t] : inputs) meta_in[name] = Tensor::meta(t.dtype(), t.shape());
  metas = infer_shapes(graph, meta_in);
  // A small graph runs on one thread: an OpenMP fork and join per tiny primitive costs more
  // than the second thread gains. Primitives are created for the count they run with.
  std::int64_t work = 0;
  for (const auto& [name, t] : metas) work += t.numel();
  if (work < kSmallWork) threads = 1;
  const ThreadScope scope(threads);
  values = constants_then(graph, metas);
  const ShapeOf& shape_of = values;
  for (const ValueInfo& info : graph.inputs) inputs_.push_back({info.name, slot(info.name)});
  FusionContext ctx = make_fusion_context(graph, shape_of);
  if (integer) int8_ = integer_plan(graph, shape_of);
  for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
    if (ctx.claimed[i] || is_shape_computation(graph.nodes[i])) continue;
    if (build_lowbit(static_cast<int>(i))) continue;
    if (int8_ && build_integer(ctx, static_cast<int>(i))) continue;
    const Node& node = graph.nodes[i];
    bool built = false;
    if (unsupported(graph, node, shape_of).empty()) {
      const std::vector<bool> claimed = ctx.claimed;
      // A fused group oneDNN refuses is retried alone, then left to the reference kernels.
      for (bool fuse : {true, false}) {
        ctx.claimed = claimed;
        Group group = make_group(ctx, static_cast<int>(i), fuse);
        const std::vector<Slot> saved_slots = slots;
        const std::map<std::string, int> saved_names = slot_of;
        try {
          build_step(group);
          built = true;
          break;
        } catch (const dnnl::error&) {
          slots = saved_slots;
          slot_of = saved_names;
        }
      }
      if (!built) ctx.claimed = claimed;
    }
    if (!built) add_ref_step(node);
  }
  Step last{"outputs", "Reorder", {}, nullptr, {}, {}, {}, {}, {}};
  for (const ValueInfo& out : graph.outputs)
    outputs_.push_back({out.name, plain(slot(out.name), last)});
  if (!last.execs.empty()) steps.push_back(std::move(last));
  for (const Step& step : steps) {
    std::vector<Ready>& ready = ready_.emplace_back();
    for (const Exec& exec : step.execs) {
      Ready& r = ready.emplace_back(Ready{exec.prim.get(), {}});
      for (const auto& [arg, mem] : exec.args) r.args.push_back({arg, mem.get()});
    }
  }
  layout_ = nullptr;  // the caller's; only the build reads it
}

void Plan::add_ref_step(const Node& node) {
  Step step{node.name, node.op_type, {}, &node, {}, {}, {}, {}, {}};
  for (const std::string& name : node.inputs)
    step.ref_inputs.push_back(name.empty() ? -1 : plain(slot(name), step));
  for (const std::string& name : node.outputs)
    step.ref_outputs.push_back(name.empty() ? -1 : slot(name));
  steps.push_back(std::move(step));
}

void Plan::build_step(const Group& group) {
  const Node& first = *group.nodes[0];
  Step step{first.name, "", {}, nullptr, {}, {}, {}, {}, {}};
  for (const Node* n : group.nodes) step.op += (step.op.empty() ? "" : "+") + n->op_type;
  const std::string& op = first.op_type;
  if (group.whole != dnnl::algorithm::undef)
    make_eltwise(*this, group, step);
  else if (op == "Conv")
    make_conv(*this, group, step);
  else if (op == "ConvTranspose")
    make_deconv(*this, group, step);
  else if (op == "Transpose")
    make_transpose(*this, group, step);
  else if (is_view_op(graph, first))
    make_view(*this, group, step);
  else if (is_reduce_op(op))
    make_reduce(*this, group, step);
  else if (op == "Concat")
    make_concat(*this, group, step);
  else if (op == "DepthToSpace" || op == "SpaceToDepth")
    make_space_depth(*this, group, step);
  else if (is_variadic_op(op))
    make_variadic(*this, group, step);
  else if (op == "PRelu")
    make_prelu(*this, group, step);
  else if (op == "LRN")
    make_lrn(*this, group, step);
  else if (op == "Gather" && !window_known(*this, first))
    make_gather_rows(*this, group, step);
  else if (op == "Slice" || op == "Gather")
    make_window(*this, group, step);
  else if (op == "Expand")
    make_expand(*this, group, step);
  else if (op == "Split")
    make_split(*this, group, step);
  else if (op == "Pad")
    make_pad(*this, group, step);
  else if (op == "Gemm")
    make_gemm(*this, group, step);
  else if (op == "MatMul")
    make_matmul(*this, group, step);
  else if (is_binary_op(op) || op == "BatchNormalization")
    make_binary(*this, group, step);
  else if (op.find("Pool") != std::string::npos)
    make_pool(*this, group, step);
  else if (op == "Softmax" || op == "LogSoftmax")
    make_softmax(*this, group, step);
  else if (op == "LayerNormalization")
    make_layer_norm(*this, group, step);
  else if (op == "RMSNormalization")
    make_rms_norm(*this, group, step);
  else if (op == "Attention")
    make_attention(*this, group, step);
  else
    make_eltwise(*this, group, step);
  steps.push_back(std::move(step));
}

int Plan::slot(const std::string& name) {
  auto it = slot_of.find(name);
  if (it != slot_of.end()) return it->second;
  Slot s;
  s.has_plain = true;  // inputs and reference outputs arrive as Tensors
  auto init = graph.initializers.find(name);
  auto m = metas.find(name);
  if (init != graph.initializers.end()) {
    s.tensor = init->second;
    s.constant = true;
  } else if (m != metas.end() && m->second.has_data()) {
    s.tensor = m->second;  // fixed by the input shapes (see is_shape_computation)
    s.constant = true;
  }
  const Tensor* meta = init != graph.initializers.end() ? &init->second : nullptr;
  if (m != metas.end()) meta = &m->second;
  if (meta) {
    s.shape = meta->shape();
    s.dtype = meta->dtype();
  }
  slots.push_back(std::move(s));
  return slot_of[name] = static_cast<int>(slots.size()) - 1;
}

int Plan::add_constant(const Tensor& t) {
  Slot s;
  s.shape = t.shape();
  s.tensor = t;
  s.has_plain = s.constant = true;
  slots.push_back(std::move(s));
  return static_cast<int>(slots.size()) - 1;
}

void Plan::set_tensor(Slot& s, const Tensor& t) {
  s.tensor = t;
  void* handle = const_cast<void*>(t.raw());
  for (dnnl::memory& m : s.aliases) m.set_data_handle(handle);
  for (int v : s.views) set_tensor(slots[v], t.reshaped(slots[v].shape));
}

dnnl::memory Plan::wrap(int s, const dnnl::memory::desc& md) {
  Slot& sl = slots[s];
  void* handle = sl.tensor.has_data() ? const_cast<void*>(sl.tensor.raw()) : DNNL_MEMORY_NONE;
  dnnl::memory m(md, engine, handle);
  if (!sl.owned && !sl.constant) sl.aliases.push_back(m);  // its Tensor changes every run
  return m;
}

dnnl::memory Plan::current(int s) {
  if (!slots[s].mem) slots[s].mem = wrap(s, plain_md(slots[s].shape));
  return slots[s].mem;
}

dnnl::memory Plan::view(int s, const dnnl::memory::desc& md, Step& step) {
  return wrap(plain(s, step), md);
}

int Plan::plain(int s, Step& step) {
  if (slots[s].has_plain) return s;
  if (slots[s].plain_copy >= 0) return slots[s].plain_copy;
  Slot c;
  c.shape = slots[s].shape;
  c.constant = slots[s].constant;
  c.tensor = c.constant ? Tensor(DType::f32, c.shape) : allocate_tensor(c.shape);
  c.has_plain = c.owned = true;
  c.mem = dnnl::memory(plain_md(c.shape), engine, c.tensor.raw());
  slots.push_back(c);
  const int index = static_cast<int>(slots.size()) - 1;
  slots[s].plain_copy = index;
  add_reorder(slots[s].mem, c.mem, step, c.constant);
  return index;
}

dnnl::memory Plan::in(int s, const dnnl::memory::desc& target, Step& step,
                      const dnnl::memory::desc* source) {
  dnnl::memory src = source ? view(s, *source, step) : current(s);
  if (src.get_desc() == target) return src;
  const auto key = std::make_pair(src.get_desc(), target);
  for (const auto& [k, m] : slots[s].copies)
    if (k == key) return m;
  dnnl::memory dst = slots[s].constant ? dnnl::memory(target, engine) : allocate_memory(target);
  add_reorder(src, dst, step, slots[s].constant);
  slots[s].copies.push_back({key, dst});
  return dst;
}

dnnl::memory Plan::output(const std::string& name, const dnnl::memory::desc& md, bool pinned) {
  const int s = slot(name);
  Slot& sl = slots[s];
  const dnnl::memory::dims d = md.dims();
  if (md == plain_md(Shape(d.begin(), d.end())) &&
      shape_numel(sl.shape) == shape_numel(Shape(d.begin(), d.end()))) {
    // Row-major: keep it in a Tensor that reference nodes and outputs read without a copy.
    sl.tensor = allocate_tensor(sl.shape, pinned);
    sl.has_plain = sl.owned = true;
    sl.mem = dnnl::memory(plain_md(sl.shape), engine, sl.tensor.raw());
    return md == sl.mem.get_desc() ? sl.mem : dnnl::memory(md, engine, sl.tensor.raw());
  }
  sl.has_plain = false;
  sl.mem = allocate_memory(md);
  return sl.mem;
}

void Plan::add_reorder(const dnnl::memory& from, const dnnl::memory& to, Step& step, bool now) {
  if (now && recording_) return;  // a recording build never runs: its constants may stay empty
  dnnl::reorder r(from, to);
  if (!now) {
    step.execs.push_back({r, {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}}});
    return;
  }
  r.execute(stream, const_cast<dnnl::memory&>(from), const_cast<dnnl::memory&>(to));
  stream.wait();
}

void Plan::copy_into(int s, const dnnl::memory& to, Step& step) {
  add_reorder(current(s), to, step, false);
}

bool Plan::residual_first(const Group& g, const Shape& y) {
  return !g.post.empty() && g.post[0].eltwise.empty() &&
         g.post[0].binary == dnnl::algorithm::binary_add && !g.post[0].other.empty() &&
         shape(g.post[0].other) == y;
}

void Plan::append_post_ops(dnnl::post_ops& ops, const Group& group, int dst_rank, Step& step,
                           std::unordered_map<int, dnnl::memory>& args, const dims* flat) {
  for (const PostOp& post : group.post) {
    for (const EltwiseOp& e : post.eltwise) ops.append_eltwise(1.f, e.alg, e.alpha, e.beta);
    if (!post.eltwise.empty()) continue;
    const int s = post.other.empty() ? add_constant(post.other_constant) : slot(post.other);
    dnnl::memory::desc md = padded_md(slots[s].shape, dst_rank);
    if (flat) flat_operand(slots[s].shape, *flat, md);
    const int index = ops.len();
    ops.append_binary(post.binary, md);
    args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(index) | DNNL_ARG_SRC_1] = view(s, md, step);
  }
}

}  // namespace qs::onednn
