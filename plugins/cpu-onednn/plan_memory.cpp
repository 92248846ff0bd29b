// A plan's per-run buffers in one arena. The first build gives every buffer an allocation of its
// own (mapped pages it never writes, so that it costs no resident memory) and remembers them; the
// steps that use a buffer (their primitives' arguments, a reference node's inputs, a host
// step's declared uses, the graph outputs read after the last step) bound its lifetime; buffers
// are placed largest first at the lowest offset free over their lifetime. The second build
// makes the same allocations in the same order and gets their offsets.
#include <algorithm>
#include <climits>
#include <cstdlib>
#include <new>

#include <sys/mman.h>

#include "plan.h"

namespace qs::onednn {

namespace {

constexpr std::size_t kAlign = 64;  // a cache line, as oneDNN allocates

std::size_t aligned(std::size_t bytes) {
  return (bytes + kAlign - 1) / kAlign * kAlign;
}

// A recording build's buffer: pages of their own that stay out of the resident set until
// written (the recording build writes almost none), so that recording costs little memory.
std::shared_ptr<std::byte[]> untouched(std::size_t bytes) {
  const std::size_t size = std::max<std::size_t>(bytes, 1);
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return std::shared_ptr<std::byte[]>(static_cast<std::byte*>(p),
                                      [size](std::byte* q) { munmap(q, size); });
}

std::shared_ptr<std::byte[]> zeroed(std::size_t bytes) {
  void* p = std::calloc(std::max<std::size_t>(bytes, 1), 1);
  if (!p) throw std::bad_alloc();
  return std::shared_ptr<std::byte[]>(static_cast<std::byte*>(p),
                                      [](std::byte* q) { std::free(q); });
}

}  // namespace

std::shared_ptr<std::byte[]> Plan::allocate(std::size_t bytes, bool pinned) {
  if (!layout_) {
    allocations_.push_back({recording_ ? untouched(bytes) : zeroed(bytes), bytes, pinned});
    return allocations_.back().storage;
  }
  const std::size_t n = allocations_.size();
  if (n >= layout_->bytes.size() || layout_->bytes[n] != bytes) throw ArenaMismatch();
  std::shared_ptr<std::byte[]> at(arena_, arena_.get() + layout_->offsets[n]);
  allocations_.push_back({at, bytes, pinned});
  return at;
}

Tensor Plan::allocate_tensor(const Shape& shape, bool pinned) {
  return Tensor::over(allocate(static_cast<std::size_t>(shape_numel(shape)) * 4, pinned), 0,
                      DType::f32, shape);
}

dnnl::memory Plan::allocate_memory(const dnnl::memory::desc& md) {
  return dnnl::memory(md, engine, allocate(md.get_size()).get());
}

void Plan::make_arena() {
  arena_size_ = layout_->size;
  arena_ = zeroed(arena_size_);
}

std::size_t Plan::buffer_bytes() const {
  if (arena_) return arena_size_;
  std::size_t sum = 0;
  for (const Allocation& a : allocations_) sum += a.bytes;
  return sum;
}

bool Plan::in_arena(const void* p) const {
  const auto* b = static_cast<const std::byte*>(p);
  return arena_ && b >= arena_.get() && b < arena_.get() + arena_size_;
}

ArenaLayout Plan::memory_layout() const {
  const std::size_t n = allocations_.size();
  ArenaLayout layout;
  for (const Allocation& a : allocations_) {
    layout.bytes.push_back(a.bytes);
    layout.unshared += aligned(a.bytes);
  }
  // Lifetimes in steps; the graph outputs are read at steps.size(), after the last step.
  const int end = static_cast<int>(steps.size());
  std::vector<int> first(n, INT_MAX), last(n, -1);
  std::vector<std::pair<const std::byte*, std::size_t>> by_address;
  for (std::size_t k = 0; k < n; ++k) by_address.push_back({allocations_[k].storage.get(), k});
  std::sort(by_address.begin(), by_address.end());
  auto use = [&](const void* p, int step) {
    if (!p) return;
    const auto* b = static_cast<const std::byte*>(p);
    auto it = std::upper_bound(by_address.begin(), by_address.end(),
                               std::make_pair(b, std::size_t{SIZE_MAX}));
    if (it == by_address.begin()) return;
    --it;
    const std::size_t k = it->second;
    if (b >= it->first + std::max<std::size_t>(allocations_[k].bytes, 1)) return;
    first[k] = std::min(first[k], step);
    last[k] = std::max(last[k], step);
  };
  for (int i = 0; i < end; ++i) {
    const Step& step = steps[static_cast<std::size_t>(i)];
    for (const Exec& e : step.execs)
      for (const auto& [arg, mem] : e.args) use(mem.get_data_handle(), i);
    for (int s : step.ref_inputs)
      if (s >= 0) use(slots[static_cast<std::size_t>(s)].tensor.raw(), i);
    for (int s : step.host_slots) use(slots[static_cast<std::size_t>(s)].tensor.raw(), i);
    for (const dnnl::memory& m : step.host_mems) use(m.get_data_handle(), i);
  }
  for (const auto& [name, s] : outputs_) use(slots[static_cast<std::size_t>(s)].tensor.raw(), end);
  for (std::size_t k = 0; k < n; ++k)
    if (allocations_[k].pinned) first[k] = 0, last[k] = end;

  // Largest first, each at the lowest offset where no buffer alive at the same time lies.
  std::vector<std::size_t> order(n);
  for (std::size_t k = 0; k < n; ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return allocations_[a].bytes > allocations_[b].bytes;
  });
  layout.offsets.assign(n, 0);
  std::vector<std::size_t> placed;
  for (std::size_t k : order) {
    if (last[k] < 0) continue;  // never used (a build attempt that fell back): offset 0
    std::vector<std::pair<std::size_t, std::size_t>> busy;  // [offset, end) alive meanwhile
    for (std::size_t q : placed)
      if (first[q] <= last[k] && first[k] <= last[q])
        busy.push_back({layout.offsets[q], layout.offsets[q] + aligned(allocations_[q].bytes)});
    std::sort(busy.begin(), busy.end());
    std::size_t offset = 0;
    const std::size_t size = aligned(allocations_[k].bytes);
    for (const auto& [b, e] : busy) {
      if (offset + size <= b) break;
      offset = std::max(offset, e);
    }
    layout.offsets[k] = offset;
    layout.size = std::max(layout.size, offset + size);
    placed.push_back(k);
  }
  return layout;
}

std::unique_ptr<Plan> build_plan(const Graph& graph, const dnnl::engine& engine,
                                 dnnl::stream& stream, const TensorMap& inputs, bool integer) {
  ArenaLayout layout;
  {
    const Plan first(graph, engine, stream, inputs, integer, nullptr, true);
    layout = first.memory_layout();
  }  // its buffers go before the second build allocates the arena
  try {
    return std::make_unique<Plan>(graph, engine, stream, inputs, integer, &layout);
  } catch (const ArenaMismatch&) {
    return std::make_unique<Plan>(graph, engine, stream, inputs, integer);
  }
}

}  // namespace qs::onednn
