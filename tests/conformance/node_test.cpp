#include "node_test.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "graph/onnx_proto.h"
#include "graph/tensor_proto.h"
#include "quantscope/executor.h"
#include "quantscope/model.h"

namespace qs::conformance {

namespace fs = std::filesystem;

namespace {

// Tests that need looser bounds than ONNX's defaults, each with the reason.
struct ToleranceException {
  const char* test;
  double relative_tolerance;
  const char* why;
};
constexpr ToleranceException kToleranceExceptions[] = {
    {"", kRelativeTolerance, "placeholder row so the table is never empty"},
};

double relative_tolerance_for(const std::string& name) {
  for (const auto& e : kToleranceExceptions)
    if (name == e.test) return e.relative_tolerance;
  return kRelativeTolerance;
}

Tensor read_tensor_pb(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  onnx::TensorProto proto;
  if (!proto.ParseFromString(buf.str())) throw Error(file.string() + ": malformed TensorProto");
  return tensor_from_proto(proto, ExternalDataContext{"", std::int64_t{1} << 32});
}

std::vector<fs::path> numbered(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> files;
  for (int i = 0;; ++i) {
    fs::path f = dir / (prefix + std::to_string(i) + ".pb");
    if (!fs::exists(f)) break;
    files.push_back(f);
  }
  return files;
}

// Empty when equal within tolerance, else a description of the first mismatch.
std::string compare(const Tensor& actual, const Tensor& expected, double rtol) {
  if (actual.dtype() != expected.dtype())
    return "dtype " + dtype_name(actual.dtype()) + ", expected " + dtype_name(expected.dtype());
  if (actual.shape() != expected.shape())
    return "shape " + shape_to_string(actual.shape()) + ", expected " +
           shape_to_string(expected.shape());
  if (actual.dtype() != DType::f32) {
    if (std::memcmp(actual.raw(), expected.raw(), actual.size_bytes()) != 0) return "values differ";
    return {};
  }
  const float* a = actual.data<float>();
  const float* e = expected.data<float>();
  for (std::int64_t i = 0; i < actual.numel(); ++i) {
    if (std::isnan(e[i]) && std::isnan(a[i])) continue;
    if (std::isinf(e[i]) && a[i] == e[i]) continue;
    const double diff = std::fabs(double(a[i]) - double(e[i]));
    if (!(diff <= kAbsoluteTolerance + rtol * std::fabs(double(e[i]))))
      return "element " + std::to_string(i) + ": " + std::to_string(a[i]) + ", expected " +
             std::to_string(e[i]);
  }
  return {};
}

}  // namespace

const char* status_name(Status s) {
  switch (s) {
    case Status::passed:
      return "passed";
    case Status::failed:
      return "failed";
    case Status::unsupported:
      return "unsupported";
  }
  return "?";
}

NodeTestResult run_node_test(const std::string& dir_string, Device& device) {
  const fs::path dir(dir_string);
  NodeTestResult result;
  result.name = dir.filename().string();
  try {
    Graph g = load_model((dir / "model.onnx").string());
    std::vector<fs::path> sets;
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.is_directory() && entry.path().filename().string().rfind("test_data_set_", 0) == 0)
        sets.push_back(entry.path());
    std::sort(sets.begin(), sets.end());
    if (sets.empty()) throw Error("no test data sets");
    const double rtol = relative_tolerance_for(result.name);
    for (const Placement& p : placement(device, g))
      if (p.device != device.name())
        throw Unsupported("node '" + p.node + "' (" + p.op + ") runs on cpu-ref: " + p.reason);
    std::unique_ptr<CompiledGraph> executor = device.compile(g);
    for (const fs::path& set : sets) {
      std::vector<fs::path> input_files = numbered(set, "input_");
      std::vector<fs::path> output_files = numbered(set, "output_");
      if (input_files.size() > g.inputs.size())
        throw Error(set.filename().string() + ": more input files than model inputs");
      TensorMap inputs;
      for (std::size_t i = 0; i < input_files.size(); ++i)
        inputs[g.inputs[i].name] = read_tensor_pb(input_files[i]);
      TensorMap outputs = executor->run(inputs);
      if (output_files.size() > g.outputs.size())
        throw Error("more output files than model outputs");
      for (std::size_t i = 0; i < output_files.size(); ++i) {
        Tensor expected = read_tensor_pb(output_files[i]);
        std::string problem = compare(outputs.at(g.outputs[i].name), expected, rtol);
        if (!problem.empty())
          throw Error(set.filename().string() + " output '" + g.outputs[i].name + "': " + problem);
      }
    }
    result.status = Status::passed;
  } catch (const Unsupported& e) {
    result.status = Status::unsupported;
    result.detail = e.what();
  } catch (const std::exception& e) {
    result.status = Status::failed;
    result.detail = e.what();
  }
  return result;
}

}  // namespace qs::conformance
