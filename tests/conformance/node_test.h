// One ONNX backend node test: a model.onnx and test_data_set_*/{input,output}_*.pb.
#pragma once

#include <string>

#include "quantscope/device.h"

namespace qs::conformance {

enum class Status { passed, failed, unsupported };

struct NodeTestResult {
  std::string name;
  Status status = Status::failed;
  std::string detail;  // why it failed or is unsupported; empty when passed
};

// Tolerances of ONNX's backend test runner (numpy.testing.assert_allclose).
constexpr double kRelativeTolerance = 1e-3;
constexpr double kAbsoluteTolerance = 1e-5;

// Loads the model in `dir`, runs every data set on `device` and compares outputs. A test is
// unsupported when a node would fall back to the reference kernels (the device must run every
// node itself to be tested), or the model needs an op or dtype the engine lacks.
// Never throws: problems become the result's status and detail.
NodeTestResult run_node_test(const std::string& dir, Device& device);

const char* status_name(Status s);

}  // namespace qs::conformance
