// Running a plan: inputs are wrapped without a copy, steps run in graph order, outputs come back
// as row-major Tensors of their own.
#include <omp.h>

#include <chrono>

#include "plan.h"
#include "quantscope/reference.h"

namespace qs::onednn {

namespace {

// oneDNN's names for the implementations a step ran, each once, in order ("jit:avx2, jit:uni").
template <class Execs>
std::string kernel_names(const Execs& execs, bool reference) {
  std::string names;
  auto add = [&](const std::string& name) {
    if (name.empty() || (", " + names + ", ").find(", " + name + ", ") != std::string::npos) return;
    names += (names.empty() ? "" : ", ") + name;
  };
  for (const auto& r : execs) {
    const_dnnl_primitive_desc_t pd = nullptr;
    const char* impl = nullptr;
    if (dnnl_primitive_get_primitive_desc(r.prim, &pd) == dnnl_success &&
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
      add(impl);
  }
  if (reference) add("reference");
  return names;
}

}  // namespace

ThreadScope::ThreadScope(int threads) {
  if (threads <= 0) return;
  saved_ = omp_get_max_threads();
  omp_set_num_threads(threads);
}

ThreadScope::~ThreadScope() {
  if (saved_ > 0) omp_set_num_threads(saved_);
}

TensorMap Plan::run(const TensorMap& inputs, bool profile, std::vector<NodeTiming>& timings) {
  const ThreadScope scope(threads);
  for (const auto& [name, s] : inputs_) set_tensor(slots[s], inputs.at(name));
  timings.clear();
  std::vector<const Tensor*> in;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const Step& step = steps[i];
    const auto start = std::chrono::steady_clock::now();
    // A reference step's execs are the reorders into row-major copies of its inputs.
    for (const Ready& r : ready_[i])
      dnnl::error::wrap_c_api(
          dnnl_primitive_execute(r.prim, stream.get(), static_cast<int>(r.args.size()),
                                 r.args.data()),
          "could not execute a primitive");
    if (step.host) {
      stream.wait();  // the host work reads what the execs wrote
      step.host();
    }
    if (step.ref_node) {
      stream.wait();  // the reference kernel reads what oneDNN wrote
      in.clear();
      for (int s : step.ref_inputs) in.push_back(s < 0 ? nullptr : &slots[s].tensor);
      std::vector<Tensor> outs = run_reference_node(*step.ref_node, graph.opset, in);
      for (std::size_t k = 0; k < step.ref_outputs.size() && k < outs.size(); ++k) {
        if (step.ref_outputs[k] < 0) continue;
        // An input passed through (Identity, a Reshape) would be overwritten when its arena
        // bytes go to a later buffer: the output gets bytes of its own.
        if (in_arena(outs[k].raw())) outs[k] = outs[k].clone();
        set_tensor(slots[step.ref_outputs[k]], outs[k]);
      }
    } else if (profile) {
      stream.wait();
    }
    if (profile) {
      // The clock is read before the record is built: copying the names is no part of the step.
      const auto end = std::chrono::steady_clock::now();
      timings.push_back({step.name, step.op,
                         std::chrono::duration<double, std::milli>(end - start).count(),
                         kernel_names(ready_[i], step.ref_node != nullptr)});
    }
  }
  stream.wait();
  TensorMap result;
  // Always a copy: a plan buffer (or a reference view of one) is rewritten by the next run.
  for (const auto& [name, s] : outputs_) result[name] = slots[s].tensor.clone();
  return result;
}

}  // namespace qs::onednn
