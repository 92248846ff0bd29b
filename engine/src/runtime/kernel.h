// The contract between the executor and the reference kernels (internal to the engine).
//
// One function per op. It reads its inputs and attributes, computes the output shapes, declares
// each output with ctx.output(), and returns right after when ctx.shape_only is set; otherwise it
// fills the outputs. The same code thus serves shape inference and execution.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "quantscope/graph.h"
#include "quantscope/tensor.h"

namespace qs::kernels {

// Thrown while inferring shapes when an output shape depends on a tensor whose values are only
// known at run time (a Reshape fed by a graph input): not an error, the shape stays unknown.
class DataDependentShape : public Error {
 public:
  using Error::Error;
};

// While inferring shapes, tensors up to this many elements are computed fully when all their
// inputs are known: shapes are often derived from other shapes (Shape -> Gather -> Concat ->
// Reshape) and must be known at load.
constexpr std::int64_t kSmallTensorElements = 4096;

// Thrown by KernelContext::output() when small_outputs_only is set and the output is large.
struct OutputTooLargeToPrecompute {};

struct IntegerLayer;  // integer_layer.h

struct KernelContext {
  const Node& node;
  std::int64_t opset = 0;
  std::vector<const Tensor*> inputs;  // nullptr where an optional input is omitted
  std::vector<Tensor> outputs;        // filled by output()
  bool shape_only = false;
  // Set while inferring shapes with full computation of small tensors: output() then refuses
  // to allocate a large output, and the node is rerun with shape_only (see graph_runner.cpp).
  bool small_outputs_only = false;
  // A quantized layer's integer form, prepared once when the graph was compiled (its weights are
  // constants); nullptr: derived from the inputs on each run (integer_layer.h).
  const std::optional<IntegerLayer>* integer_form = nullptr;

  int input_count() const { return static_cast<int>(inputs.size()); }
  bool has(int i) const { return i < input_count() && inputs[i] != nullptr; }
  // The i-th input; throws Error when it is omitted.
  const Tensor& in(int i) const;
  // Declares output i; allocated (zero-filled) unless shape_only. Returns it for filling.
  Tensor& output(int i, DType dtype, Shape shape);
  // Sets output i to an existing tensor (e.g. a reshaped view of an input).
  void set_output(int i, Tensor t);
  // Integer values of input i, which shapes depend on; throws Error when they are only known at
  // run time and the caller is inferring shapes.
  std::vector<std::int64_t> in_ints(int i) const;
  // Float values of input i (any dtype), which shapes depend on (Resize scales); same rules.
  std::vector<float> in_floats(int i) const;
  // Float values of a scalar-like input (Clip's min, ...).
  float in_scalar_f32(int i) const;
  // Error with the node's name and op in front.
  [[noreturn]] void fail(const std::string& what) const;
  [[noreturn]] void unsupported(const std::string& what) const;
};

using KernelFn = void (*)(KernelContext&);

// The kernel for an op, or nullptr when the engine has none.
KernelFn find_kernel(const std::string& op_type, const std::string& domain);
std::vector<std::string> supported_ops();

}  // namespace qs::kernels
