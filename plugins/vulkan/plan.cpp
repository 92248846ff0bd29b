#include "plan.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <numeric>

#include "quantscope/reference.h"

namespace qs::vk {

namespace {

std::uint64_t bytes_of(const Shape& shape) {
  std::uint64_t n = 4;
  for (std::int64_t d : shape) n *= static_cast<std::uint64_t>(d);
  return n;
}

}  // namespace

Plan::Plan(std::shared_ptr<Context> ctx, const Graph& graph, const TensorMap& inputs,
           const std::map<const Node*, std::shared_ptr<const PackedLayer>>& packed)
    : ctx_(std::move(ctx)), graph_(graph) {
  const Functions& f = ctx_->fn();
  VkDevice dev = ctx_->device();
  TensorMap metas_in;
  for (const auto& [name, t] : inputs) metas_in[name] = Tensor::meta(t.dtype(), t.shape());
  metas_ = infer_shapes(graph_, metas_in);
  dummy_ = std::make_shared<Buffer>(*ctx_, 4, false);
  VkCommandPoolCreateInfo ci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  ci.queueFamilyIndex = ctx_->queue_family();
  check(f.vkCreateCommandPool(dev, &ci, nullptr, &commands_), "vkCreateCommandPool");
  VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  check(f.vkCreateFence(dev, &fi, nullptr, &fence_), "vkCreateFence");
  for (const ValueInfo& in : graph_.inputs) {
    Value& v = value(in.name);
    v.on_host = true;
  }
  const ShapeOf shape_of = [&](const std::string& name) -> const Tensor* {
    auto it = metas_.find(name);
    if (it != metas_.end()) return &it->second;
    auto init = graph_.initializers.find(name);
    return init != graph_.initializers.end() ? &init->second : nullptr;
  };
  // Readers of each value (a graph output counts as one), for fusion.
  std::map<std::string, int> readers;
  for (const Node& n : graph_.nodes)
    for (const std::string& i : n.inputs) ++readers[i];
  for (const ValueInfo& o : graph_.outputs) ++readers[o.name];
  std::map<std::string, const Node*> reader_of;
  for (const Node& n : graph_.nodes)
    for (const std::string& i : n.inputs) reader_of[i] = &n;

  std::uint64_t range = ctx_->info().max_storage_buffer_range;
  if (const char* cap = std::getenv("QS_VULKAN_MAX_BINDING"))  // for tests: a smaller limit
    range = std::min<std::uint64_t>(range, std::strtoull(cap, nullptr, 10));
  std::vector<bool> fused(graph_.nodes.size(), false);
  for (std::size_t i = 0; i < graph_.nodes.size(); ++i) {
    if (fused[i]) continue;
    const Node& node = graph_.nodes[i];
    auto pk = packed.find(&node);
    const PackedLayer* layer = pk == packed.end() ? nullptr : pk->second.get();
    std::string reason = unsupported(graph_, node, shape_of, layer != nullptr);
    if (reason.empty() && is_view(node) && !value(node.inputs[0]).on_device) reason = "host view";
    // Tensors larger than one binding may hold run in slices of the batch, or on the host.
    std::int64_t slice = 0;
    std::vector<std::string> split;
    if (reason.empty() && !is_view(node)) {
      slice = slice_size(node, range, split);
      if (slice < 0) reason = "tensors over the binding range";
    }
    if (!reason.empty()) {
      make_host_step(node);
      continue;
    }
    const Node* activation = nullptr;
    if (node.outputs.size() == 1 && readers[node.outputs[0]] == 1) {
      auto r = reader_of.find(node.outputs[0]);
      if (r != reader_of.end() && can_fuse_activation(*this, node, *r->second)) {
        activation = r->second;
        fused[static_cast<std::size_t>(activation - graph_.nodes.data())] = true;
      }
    }
    std::string op = node.op_type + (activation ? "+" + activation->op_type : "");
    if (layer) op += layer->format == 2 ? " (w4)" : " (w8)";
    steps_.push_back(Step{node.name, op, {}, nullptr, {}, {}});
    if (slice == 0) {
      build_node(*this, node, layer, activation);
    } else {
      const std::int64_t batch = shape(node.outputs[0])[0];
      for (std::int64_t begin = 0; begin < batch; begin += slice) {
        slice_ = Slice{begin, std::min(slice, batch - begin), split};
        for (const std::string& v : split) {
          Shape s = shape(v);
          s[0] = slice_.count;
          sliced_shapes_[v] = s;
        }
        build_node(*this, node, layer, activation);
        slice_ = Slice{};
        sliced_shapes_.clear();
      }
      steps_.back().op += " (" + std::to_string((batch + slice - 1) / slice) + " slices)";
    }
    if (activation) view(activation->outputs[0], node.outputs[0]);
  }
  // Device results the caller receives are downloaded after the last device step.
  for (const ValueInfo& o : graph_.outputs) {
    Value& v = value(o.name);
    if (v.on_device && !v.on_host) {
      for (auto s = steps_.rbegin(); s != steps_.rend(); ++s)
        if (!s->host) {
          s->downloads.push_back(o.name);
          break;
        }
      v.download = true;
    }
  }
  for (auto& [name, v] : values_)
    if ((v.upload || v.download) && !v.staging)
      v.staging = std::make_shared<Buffer>(*ctx_, bytes_of(v.shape), true);

  // Descriptor sets for every dispatch.
  std::uint32_t sets = 0, descriptors = 0;
  for (const Step& s : steps_)
    for (const Dispatch& d : s.dispatches) {
      ++sets;
      descriptors += static_cast<std::uint32_t>(d.bindings.size());
    }
  if (sets > 0) {
    VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, descriptors};
    VkDescriptorPoolCreateInfo pi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    pi.maxSets = sets;
    pi.poolSizeCount = 1;
    pi.pPoolSizes = &size;
    check(f.vkCreateDescriptorPool(dev, &pi, nullptr, &pool_), "vkCreateDescriptorPool");
    for (Step& s : steps_)
      for (Dispatch& d : s.dispatches) {
        VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
        ai.descriptorPool = pool_;
        ai.descriptorSetCount = 1;
        ai.pSetLayouts = &d.kernel->set_layout;
        check(f.vkAllocateDescriptorSets(dev, &ai, &d.set), "vkAllocateDescriptorSets");
        std::vector<VkDescriptorBufferInfo> infos(d.bindings.size());
        std::vector<VkWriteDescriptorSet> writes(d.bindings.size());
        for (std::size_t b = 0; b < d.bindings.size(); ++b) {
          infos[b] = {d.bindings[b].buffer->handle(), d.bindings[b].offset, d.bindings[b].range};
          writes[b] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
          writes[b].dstSet = d.set;
          writes[b].dstBinding = static_cast<std::uint32_t>(b);
          writes[b].descriptorCount = 1;
          writes[b].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
          writes[b].pBufferInfo = &infos[b];
        }
        f.vkUpdateDescriptorSets(dev, static_cast<std::uint32_t>(writes.size()), writes.data(), 0,
                                 nullptr);
      }
  }
  build_segments();
}

Plan::~Plan() {
  const Functions& f = ctx_->fn();
  VkDevice dev = ctx_->device();
  f.vkDeviceWaitIdle(dev);
  if (queries_) f.vkDestroyQueryPool(dev, queries_, nullptr);
  if (fence_) f.vkDestroyFence(dev, fence_, nullptr);
  if (commands_) f.vkDestroyCommandPool(dev, commands_, nullptr);
  if (pool_) f.vkDestroyDescriptorPool(dev, pool_, nullptr);
}

Plan::Value& Plan::value(const std::string& name) {
  auto it = values_.find(name);
  if (it != values_.end()) return it->second;
  Value v;
  auto m = metas_.find(name);
  if (m != metas_.end()) {
    v.shape = m->second.shape();
    v.dtype = m->second.dtype();
  } else if (auto init = graph_.initializers.find(name); init != graph_.initializers.end()) {
    v.shape = init->second.shape();
    v.dtype = init->second.dtype();
    v.on_host = true;
    v.host = init->second;
  }
  return values_.emplace(name, std::move(v)).first->second;
}

const Shape& Plan::shape(const std::string& name) const {
  if (auto sliced = sliced_shapes_.find(name); sliced != sliced_shapes_.end())
    return sliced->second;
  auto it = values_.find(name);
  if (it != values_.end()) return it->second.shape;
  auto m = metas_.find(name);
  if (m != metas_.end()) return m->second.shape();
  auto init = graph_.initializers.find(name);
  if (init != graph_.initializers.end()) return init->second.shape();
  throw Error("vulkan: no shape for '" + name + "'");
}

const Tensor* Plan::constant(const std::string& name) const {
  auto init = graph_.initializers.find(name);
  return init != graph_.initializers.end() && init->second.has_data() ? &init->second : nullptr;
}

std::shared_ptr<Buffer> Plan::upload(const void* data, std::uint64_t bytes) {
  auto buffer = std::make_shared<Buffer>(*ctx_, bytes, false);
  Buffer staging(*ctx_, bytes, true);
  std::memcpy(staging.mapped(), data, bytes);
  const Functions& f = ctx_->fn();
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = commands_;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  VkCommandBuffer cb;
  check(f.vkAllocateCommandBuffers(ctx_->device(), &ai, &cb), "vkAllocateCommandBuffers");
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  check(f.vkBeginCommandBuffer(cb, &bi), "vkBeginCommandBuffer");
  VkBufferCopy region{0, 0, bytes};
  f.vkCmdCopyBuffer(cb, staging.handle(), buffer->handle(), 1, &region);
  check(f.vkEndCommandBuffer(cb), "vkEndCommandBuffer");
  submit_and_wait(cb);
  return buffer;
}

bool Plan::in_slice(const std::string& name) const {
  return std::find(slice_.split.begin(), slice_.split.end(), name) != slice_.split.end();
}

std::int64_t Plan::slice_size(const Node& node, std::uint64_t range,
                              std::vector<std::string>& split) {
  std::uint64_t largest = 0;
  std::vector<std::string> names;
  for (const std::string& n : node.inputs)
    if (!n.empty()) names.push_back(n);
  for (const std::string& n : node.outputs)
    if (!n.empty()) names.push_back(n);
  for (const std::string& n : names) largest = std::max(largest, bytes_of(shape(n)));
  if (largest <= range) return 0;
  const ShapeOf shape_of = [&](const std::string& name) -> const Tensor* {
    auto it = metas_.find(name);
    if (it != metas_.end()) return &it->second;
    auto init = graph_.initializers.find(name);
    return init != graph_.initializers.end() ? &init->second : nullptr;
  };
  if (!batch_separable(graph_, node, shape_of)) return -1;
  const std::int64_t batch = shape(node.outputs[0])[0];
  std::uint64_t sample = 0;  // the largest per-sample size of a split value
  for (const std::string& n : names) {
    const Shape& s = shape(n);
    if (!constant(n) && !s.empty() && s[0] == batch && batch > 1) {
      split.push_back(n);
      sample = std::max(sample, bytes_of(s) / static_cast<std::uint64_t>(batch));
    } else if (bytes_of(s) > range) {
      return -1;  // a weight or a broadcast operand too large to bind
    }
  }
  // Slices start at a multiple of the offset alignment in every split value.
  std::uint64_t step = 1;
  const std::uint64_t align = ctx_->info().min_offset_alignment;
  for (const std::string& n : split) {
    const std::uint64_t per = bytes_of(shape(n)) / static_cast<std::uint64_t>(batch);
    const std::uint64_t need = align / std::gcd(per, align);
    step = std::lcm(step, need);
  }
  std::uint64_t count = range / std::max<std::uint64_t>(sample, 1);
  count -= count % step;
  if (count == 0) return -1;
  return static_cast<std::int64_t>(
      std::min<std::uint64_t>(count, static_cast<std::uint64_t>(batch)));
}

Binding Plan::in(const std::string& name) {
  Value& v = value(name);
  if (v.buffer && in_slice(name)) {
    const std::uint64_t per = bytes_of(v.shape) / static_cast<std::uint64_t>(v.shape[0]);
    return Binding(v.buffer, per * static_cast<std::uint64_t>(slice_.begin),
                   per * static_cast<std::uint64_t>(slice_.count));
  }
  if (v.buffer) return v.buffer;
  if (const Tensor* c = constant(name)) {
    if (c->dtype() != DType::f32) throw Error("vulkan: constant '" + name + "' is not float");
    v.buffer = upload(c->raw(), c->size_bytes());
    v.on_device = true;
    return v.buffer;
  }
  if (!v.on_host) throw Error("vulkan: '" + name + "' is read before it is computed");
  v.buffer = std::make_shared<Buffer>(*ctx_, bytes_of(v.shape), false);
  v.upload = true;
  steps_.back().uploads.push_back(name);
  return in(name);
}

Binding Plan::out(const std::string& name) {
  Value& v = value(name);
  if (!v.buffer) v.buffer = std::make_shared<Buffer>(*ctx_, bytes_of(v.shape), false);
  v.on_device = true;
  steps_.back().writes.push_back(v.buffer.get());
  return in(name);
}

void Plan::view(const std::string& name, const std::string& source) {
  std::shared_ptr<Buffer> b = in(source).buffer;
  Value& v = value(name);
  v.buffer = b;
  v.on_device = true;
}

void Plan::dispatch(const Kernel& kernel, std::vector<Binding> bindings, const void* push,
                    std::size_t push_bytes, std::uint32_t gx, std::uint32_t gy, std::uint32_t gz) {
  if (static_cast<int>(bindings.size()) != kernel.bindings)
    throw Error("vulkan: a kernel got the wrong number of buffers");
  Dispatch d;
  d.kernel = &kernel;
  d.bindings = std::move(bindings);
  std::memcpy(d.push.data(), push, std::min<std::size_t>(push_bytes, kPushBytes));
  d.groups[0] = gx;
  d.groups[1] = gy;
  d.groups[2] = gz;
  steps_.back().dispatches.push_back(std::move(d));
}

void Plan::dispatch_1d(const Kernel& kernel, std::vector<Binding> bindings, const void* push,
                       std::size_t push_bytes, std::int64_t count, std::int64_t group_size) {
  const std::int64_t groups = std::max<std::int64_t>(1, (count + group_size - 1) / group_size);
  const std::int64_t x = std::min<std::int64_t>(groups, 65535);
  const std::int64_t y = (groups + x - 1) / x;
  dispatch(kernel, std::move(bindings), push, push_bytes, static_cast<std::uint32_t>(x),
           static_cast<std::uint32_t>(y));
}

void Plan::make_host_step(const Node& node) {
  steps_.push_back(Step{node.name, node.op_type + " (cpu-ref)", {}, &node, {}, {}});
  for (const std::string& in : node.inputs) {
    if (in.empty()) continue;
    Value& v = value(in);
    if (v.on_device && !v.on_host && !v.download) {
      // Downloaded after the last device step before this one.
      for (auto s = steps_.rbegin() + 1; s != steps_.rend(); ++s)
        if (!s->host) {
          s->downloads.push_back(in);
          break;
        }
      v.download = true;
    }
  }
  for (const std::string& o : node.outputs)
    if (!o.empty()) value(o).on_host = true;
}

void Plan::build_segments() {
  const Functions& f = ctx_->fn();
  std::uint32_t queries = 0;
  for (std::size_t i = 0; i < steps_.size();) {
    if (steps_[i].host) {
      ++i;
      continue;
    }
    Segment seg;
    seg.first = i;
    while (i < steps_.size() && !steps_[i].host) {
      for (const std::string& u : steps_[i].uploads) seg.uploads.push_back(u);
      for (const std::string& d : steps_[i].downloads) seg.downloads.push_back(d);
      ++i;
    }
    seg.last = i;
    seg.first_query = queries;
    queries += static_cast<std::uint32_t>(seg.last - seg.first) + 1;
    segments_.push_back(std::move(seg));
  }
  if (queries > 0 && ctx_->info().timestamp_period_ns > 0) {
    VkQueryPoolCreateInfo qi{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
    qi.queryType = VK_QUERY_TYPE_TIMESTAMP;
    qi.queryCount = queries;
    check(f.vkCreateQueryPool(ctx_->device(), &qi, nullptr, &queries_), "vkCreateQueryPool");
  }
  for (Segment& seg : segments_) {
    seg.commands[0] = record(seg, false);
    seg.commands[1] = record(seg, true);
  }
}

namespace {

void barrier(const Functions& f, VkCommandBuffer cb, VkPipelineStageFlags src,
             VkAccessFlags src_access, VkPipelineStageFlags dst, VkAccessFlags dst_access) {
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = src_access;
  mb.dstAccessMask = dst_access;
  f.vkCmdPipelineBarrier(cb, src, dst, 0, 1, &mb, 0, nullptr, 0, nullptr);
}

}  // namespace

VkCommandBuffer Plan::record(const Segment& seg, bool profiled) {
  const Functions& f = ctx_->fn();
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = commands_;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  VkCommandBuffer cb = VK_NULL_HANDLE;
  check(f.vkAllocateCommandBuffers(ctx_->device(), &ai, &cb), "vkAllocateCommandBuffers");
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  check(f.vkBeginCommandBuffer(cb, &bi), "vkBeginCommandBuffer");
  const std::uint32_t steps = static_cast<std::uint32_t>(seg.last - seg.first);
  if (queries_) f.vkCmdResetQueryPool(cb, queries_, seg.first_query, steps + 1);
  for (const std::string& name : seg.uploads) {
    const Value& v = values_.at(name);
    VkBufferCopy region{0, 0, bytes_of(v.shape)};
    f.vkCmdCopyBuffer(cb, v.staging->handle(), v.buffer->handle(), 1, &region);
  }
  barrier(f, cb, VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_HOST_BIT,
          VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_HOST_WRITE_BIT,
          VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT);
  if (queries_)
    f.vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries_, seg.first_query);
  // Without profiling, a barrier goes only before a dispatch that reads what an earlier one
  // wrote since the last barrier (every value has its own buffer, written once per run).
  std::vector<const Buffer*> pending;
  auto compute_barrier = [&] {
    barrier(f, cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
            VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
            VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
    pending.clear();
  };
  for (std::size_t s = seg.first; s < seg.last; ++s) {
    const Step& step = steps_[s];
    for (const Dispatch& d : step.dispatches) {
      if (!profiled) {
        bool depends = false;
        for (const Binding& b : d.bindings)
          depends |= std::find(pending.begin(), pending.end(), b.buffer.get()) != pending.end() &&
                     std::find(step.writes.begin(), step.writes.end(), b.buffer.get()) ==
                         step.writes.end();
        if (depends) compute_barrier();
      }
      f.vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, d.kernel->pipeline);
      f.vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, d.kernel->layout, 0, 1, &d.set,
                                0, nullptr);
      f.vkCmdPushConstants(cb, d.kernel->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, kPushBytes,
                           d.push.data());
      f.vkCmdDispatch(cb, d.groups[0], d.groups[1], d.groups[2]);
      if (profiled) compute_barrier();
    }
    for (const Buffer* w : step.writes) pending.push_back(w);
    if (queries_ && profiled)
      f.vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries_,
                            seg.first_query + static_cast<std::uint32_t>(s - seg.first) + 1);
  }
  barrier(f, cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
          VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT,
          VK_ACCESS_TRANSFER_READ_BIT);
  if (queries_ && !profiled)
    f.vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries_,
                          seg.first_query + steps);
  for (const std::string& name : seg.downloads) {
    const Value& v = values_.at(name);
    VkBufferCopy region{0, 0, bytes_of(v.shape)};
    f.vkCmdCopyBuffer(cb, v.buffer->handle(), v.staging->handle(), 1, &region);
  }
  barrier(f, cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
          VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
  check(f.vkEndCommandBuffer(cb), "vkEndCommandBuffer");
  return cb;
}

void Plan::submit_and_wait(VkCommandBuffer cb) {
  const Functions& f = ctx_->fn();
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cb;
  check(f.vkResetFences(ctx_->device(), 1, &fence_), "vkResetFences");
  {
    std::lock_guard lock(ctx_->queue_mutex());
    check(f.vkQueueSubmit(ctx_->queue(), 1, &si, fence_), "vkQueueSubmit");
  }
  check(f.vkWaitForFences(ctx_->device(), 1, &fence_, VK_TRUE, UINT64_MAX), "vkWaitForFences");
}

TensorMap Plan::run(const TensorMap& inputs, bool profile) {
  using clock = std::chrono::steady_clock;
  const Functions& f = ctx_->fn();
  for (const ValueInfo& in : graph_.inputs) {
    auto it = inputs.find(in.name);
    if (it == inputs.end()) throw Error("missing input '" + in.name + "'");
    values_.at(in.name).host = it->second;
  }
  timings_.clear();
  device_ms_ = queries_ ? 0.0 : -1.0;
  std::size_t next_segment = 0;
  for (std::size_t s = 0; s < steps_.size();) {
    if (steps_[s].host) {
      const Node& node = *steps_[s].host;
      const auto t0 = clock::now();
      std::vector<const Tensor*> args;
      for (const std::string& i : node.inputs) {
        if (i.empty()) {
          args.push_back(nullptr);
          continue;
        }
        Value& v = values_.at(i);
        if (!v.host.has_data()) throw Error("vulkan: '" + i + "' was not brought to the host");
        args.push_back(&v.host);
      }
      std::vector<Tensor> outs = run_reference_node(node, graph_.opset, args);
      for (std::size_t k = 0; k < node.outputs.size() && k < outs.size(); ++k)
        if (!node.outputs[k].empty()) values_.at(node.outputs[k]).host = std::move(outs[k]);
      timings_.push_back({node.name, steps_[s].op,
                          std::chrono::duration<double, std::milli>(clock::now() - t0).count(),
                          "reference"});
      ++s;
      continue;
    }
    Segment& seg = segments_.at(next_segment++);
    for (const std::string& name : seg.uploads) {
      Value& v = values_.at(name);
      if (v.host.dtype() != DType::f32 || v.host.shape() != v.shape)
        throw Error("vulkan: '" + name + "' has dtype " + dtype_name(v.host.dtype()) +
                    " and shape " + shape_to_string(v.host.shape()) + ", expected f32 " +
                    shape_to_string(v.shape));
      std::memcpy(v.staging->mapped(), v.host.raw(), v.host.size_bytes());
    }
    submit_and_wait(seg.commands[profile ? 1 : 0]);
    for (const std::string& name : seg.downloads) {
      Value& v = values_.at(name);
      Tensor t(DType::f32, v.shape);
      std::memcpy(t.raw(), v.staging->mapped(), t.size_bytes());
      v.host = std::move(t);
    }
    const std::uint32_t count = static_cast<std::uint32_t>(seg.last - seg.first) + 1;
    std::vector<std::uint64_t> stamps(count, 0);
    auto read = [&](std::uint32_t first, std::uint32_t n) {
      check(f.vkGetQueryPoolResults(ctx_->device(), queries_, seg.first_query + first, n,
                                    n * sizeof(std::uint64_t), stamps.data() + first,
                                    sizeof(std::uint64_t),
                                    VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
            "vkGetQueryPoolResults");
    };
    if (queries_ && profile) read(0, count);
    if (queries_ && !profile) {  // only the first and the last were written
      read(0, 1);
      read(count - 1, 1);
    }
    const double period = ctx_->info().timestamp_period_ns * 1e-6;
    for (std::size_t k = seg.first; k < seg.last && profile; ++k) {
      if (steps_[k].dispatches.empty()) continue;  // a view costs nothing
      const std::size_t q = k - seg.first;
      const double ms = queries_ ? static_cast<double>(stamps[q + 1] - stamps[q]) * period : 0;
      const std::size_t n = steps_[k].dispatches.size();
      timings_.push_back({steps_[k].name, steps_[k].op, ms,
                          std::to_string(n) + (n == 1 ? " dispatch" : " dispatches")});
    }
    if (queries_) device_ms_ += static_cast<double>(stamps[count - 1] - stamps[0]) * period;
    s = seg.last;
  }
  TensorMap result;
  for (const ValueInfo& o : graph_.outputs) {
    Value& v = values_.at(o.name);
    if (!v.host.has_data()) throw Error("vulkan: output '" + o.name + "' was not computed");
    result[o.name] = v.host;
  }
  return result;
}

}  // namespace qs::vk
