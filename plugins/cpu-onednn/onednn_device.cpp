// The device object and its compiled graph: one plan per set of input shapes, built on first
// use and kept.
#include "onednn_device.h"

#include <omp.h>

#include "int8.h"
#include "plan.h"

namespace qs::onednn {

namespace {

std::string isa_name(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::sse41:
      return "sse41";
    case dnnl::cpu_isa::avx:
      return "avx";
    case dnnl::cpu_isa::avx2:
      return "avx2";
    case dnnl::cpu_isa::avx2_vnni:
      return "avx2_vnni";
    case dnnl::cpu_isa::avx512_mic:
      return "avx512_mic";
    case dnnl::cpu_isa::avx512_mic_4ops:
      return "avx512_mic_4ops";
    case dnnl::cpu_isa::avx512_core:
      return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx:
      return "avx512_core_amx";
    case dnnl::cpu_isa::all:
      return "all";
  }
  return "isa " + std::to_string(static_cast<int>(isa));
}

std::string runtime_name(unsigned runtime) {
  switch (runtime) {
    case DNNL_RUNTIME_OMP:
      return "OpenMP";
    case DNNL_RUNTIME_TBB:
      return "TBB";
    case DNNL_RUNTIME_SEQ:
      return "sequential";
    case DNNL_RUNTIME_THREADPOOL:
      return "threadpool";
  }
  return std::to_string(runtime);
}

class OnednnGraph : public CompiledGraph {
 public:
  OnednnGraph(const Graph& graph, bool integer)
      : graph_(graph), integer_(integer), engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {}

  TensorMap run(const TensorMap& inputs) override {
    check_inputs(graph_, inputs);
    // The same shapes as the last run (the usual case) find their plan without a lookup.
    bool same = last_ != nullptr;
    for (std::size_t i = 0; same && i < graph_.inputs.size(); ++i)
      same = inputs.at(graph_.inputs[i].name).shape() == (*last_key_)[i];
    if (!same) {
      std::vector<Shape> key;
      for (const ValueInfo& info : graph_.inputs) key.push_back(inputs.at(info.name).shape());
      auto it = plans_.find(key);
      if (it == plans_.end()) {
        evict_least_recent();
        it = plans_.emplace(key, Kept{build_plan(graph_, engine_, stream_, inputs, integer_), 0})
                 .first;
      }
      last_key_ = &it->first;
      last_ = it->second.plan.get();
      last_used_ = &it->second.used;
    }
    *last_used_ = ++clock_;
    return last_->run(inputs, profiling_, timings_);
  }
  void set_profiling(bool on) override { profiling_ = on; }
  std::vector<NodeTiming> last_timings() const override { return timings_; }
  std::int64_t buffer_bytes() const override {
    return last_ ? static_cast<std::int64_t>(last_->buffer_bytes()) : -1;
  }

 private:
  const Graph& graph_;
  bool integer_;  // quantized layers on integer kernels
  dnnl::engine engine_;
  dnnl::stream stream_;
  // Each plan holds its own weight copies and buffers: a caller whose shapes keep changing (a
  // decoder's growing cache, windows of many lengths) keeps only the most recent few.
  static constexpr std::size_t kMaxPlans = 16;
  struct Kept {
    std::unique_ptr<Plan> plan;
    std::uint64_t used = 0;  // clock_ at its last run
  };
  void evict_least_recent() {
    if (plans_.size() < kMaxPlans) return;
    auto oldest = plans_.begin();
    for (auto it = plans_.begin(); it != plans_.end(); ++it)
      if (it->second.used < oldest->second.used) oldest = it;
    if (oldest->second.plan.get() == last_) last_ = nullptr;
    plans_.erase(oldest);
  }

  std::map<std::vector<Shape>, Kept> plans_;
  const std::vector<Shape>* last_key_ = nullptr;  // in plans_, with last_
  Plan* last_ = nullptr;
  std::uint64_t* last_used_ = nullptr;
  std::uint64_t clock_ = 0;
  bool profiling_ = false;
  std::vector<NodeTiming> timings_;
};

}  // namespace

std::string onednn_version() {
  const dnnl_version_t* v = dnnl_version();
  return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
         std::to_string(v->patch);
}

std::string OnednnDevice::description() const {
  return onednn_version() + " on the CPU (fp32; int8 for quantized graphs with integer kernels)";
}

DeviceStatus OnednnDevice::status() const {
  try {
    dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    return {};
  } catch (const dnnl::error& e) {
    return {false, std::string("oneDNN cannot create a CPU engine: ") + e.what()};
  }
}

std::string OnednnDevice::unsupported_reason(const Graph& graph, const Node& node) const {
  const ShapeOf shape_of = constants_then(graph, graph.value_info);
  // Arithmetic on the input shapes is computed once per input shape set when a plan is built
  // (Plan::is_shape_computation), not run.
  bool shape_only = !node.outputs.empty() && node.domain.empty() &&
                    node.op_type != "QuantizeLinear" && node.op_type != "DequantizeLinear";
  for (const std::string& out : node.outputs)
    shape_only = shape_only && (out.empty() || graph.shape_values.count(out));
  if (shape_only) return "";
  // With integer kernels every FakeQuant runs on oneDNN (int8.h).
  if (integer_ && is_fake_quant(node)) {
    const Tensor* x = shape_of(node.inputs[0]);
    ActGrid grid;
    if (x && x->dtype() == DType::f32 && read_act_grid(node, grid)) return "";
  }
  std::string reason = unsupported(graph, node, shape_of);
  if (reason == kParametersUnknown) {
    // Parameters computed from the input shapes (ShuffleNet's channel split at a dynamic batch)
    // are known once a plan is built for them; the plan falls back to the reference kernels
    // should they then describe no box.
    bool known_later = true, some_later = false;
    for (int i = 1; i < node.input_count(); ++i) {
      const Tensor* t = node.has_input(i) ? shape_of(node.inputs[i]) : nullptr;
      if (!node.has_input(i) || (t && t->has_data())) continue;
      some_later = true;
      known_later = known_later && graph.shape_values.count(node.inputs[i]);
    }
    if (some_later && known_later) return "";
  }
  if (!reason.empty() && node.op_type == "Erf" && node.inputs.size() == 1) {
    // The Erf of an exact GELU runs inside one oneDNN eltwise_gelu_erf.
    const FusionContext ctx = make_fusion_context(graph, shape_of);
    auto it = ctx.producer.find(node.inputs[0]);
    if (it != ctx.producer.end() && ctx.graph.nodes[it->second].op_type == "Div" &&
        !gelu_pattern(ctx, it->second).empty())
      return "";
  }
  return reason;
}

std::unique_ptr<CompiledGraph> OnednnDevice::compile(const Graph& graph) {
  const DeviceStatus s = status();
  if (!s.usable) throw Error("device cpu-onednn: " + s.reason);
  return std::make_unique<OnednnGraph>(graph, integer_);
}

int OnednnDevice::set_threads(int threads) {
  if (threads > 0) omp_set_num_threads(threads);
  return omp_get_max_threads();
}

bool OnednnDevice::has_vnni() {
  const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
  return isa == dnnl::cpu_isa::avx2_vnni || isa == dnnl::cpu_isa::avx512_core_vnni ||
         isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
}

int OnednnDevice::vector_lanes() {
  const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
  const bool avx512 = isa == dnnl::cpu_isa::avx512_core || isa == dnnl::cpu_isa::avx512_core_vnni ||
                      isa == dnnl::cpu_isa::avx512_core_bf16 ||
                      isa == dnnl::cpu_isa::avx512_core_amx || isa == dnnl::cpu_isa::avx512_mic ||
                      isa == dnnl::cpu_isa::avx512_mic_4ops;
  return avx512 ? 16 : 8;
}

std::map<std::string, std::string> OnednnDevice::environment() const {
  const dnnl_version_t* v = dnnl_version();
  return {{"isa", isa_name(dnnl::get_effective_cpu_isa())},
          {"integer_kernels",
           has_vnni() ? "yes" : "no (this CPU has no VNNI: oneDNN's int8 would saturate)"},
          {"onednn_version", std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                                 std::to_string(v->patch) + " (" + v->hash + ")"},
          {"cpu_runtime", runtime_name(v->cpu_runtime)},
          {"threads", std::to_string(omp_get_max_threads())}};
}

}  // namespace qs::onednn
