// cpu-onednn's choices of layout must leave oneDNN an optimized implementation on whatever ISA
// the CPU has: a layout the CPU's kernels do not take (16-channel blocks on AVX2) falls to
// oneDNN's reference code ("ref:any"), about a hundred times slower, with right results that no
// other test would notice. Each step's profile names what ran it.
#include "onednn_test_util.h"
#include "quantscope/model.h"

using namespace onednn_test;

namespace {

// Runs `g` on `x` with profiling and returns "step: kernel" for each step oneDNN ran on a
// reference implementation; fails when a step names no kernel at all.
std::vector<std::string> reference_steps(Device& dev, const Graph& g, const Tensor& x) {
  std::unique_ptr<CompiledGraph> compiled = dev.compile(g);
  compiled->set_profiling(true);
  compiled->run({{g.inputs[0].name, x}});
  std::vector<std::string> slow;
  const std::vector<NodeTiming> timings = compiled->last_timings();
  EXPECT_FALSE(timings.empty());
  for (const NodeTiming& t : timings) {
    EXPECT_FALSE(t.kernel.empty()) << t.name;
    if (t.kernel.find("ref:") != std::string::npos) slow.push_back(t.name + ": " + t.kernel);
  }
  return slow;
}

Tensor random_input(const Shape& shape, unsigned seed) {
  Tensor x(DType::f32, shape);
  const std::vector<float> v = random_values(x.numel(), seed, 0.f, 1.f);
  std::copy(v.begin(), v.end(), x.data<float>());
  return x;
}

TEST(OnednnKernels, LargeBatchesRunOnOptimizedKernels) {
  REQUIRE_ONEDNN(dev);
  // Batch 64 at 28x28 is past the size where activations go into channel blocks.
  for (const char* name : {"lenet", "mobilenet"}) {
    SCOPED_TRACE(name);
    const Graph g = load_model(std::string(QS_RESOURCES_MODELS_DIR) + "/" + name + ".onnx");
    Shape shape = g.inputs[0].shape;
    shape[0] = 64;
    const std::vector<std::string> slow = reference_steps(*dev, g, random_input(shape, 7));
    EXPECT_TRUE(slow.empty()) << "on oneDNN's reference code: " << ::testing::PrintToString(slow);
  }
}

}  // namespace
