// The built-in activation calibrators, one file each; register_builtins() lists them.
#pragma once

#include <memory>
#include <string>

#include "quantscope/calibrator.h"

namespace qs::calibrators {

// [min, max].
std::unique_ptr<Calibrator> make_minmax(const std::string& parameter);
// The P-th percentile (parameter P in (50, 100], default 99.99).
std::unique_ptr<Calibrator> make_percentile(const std::string& parameter);
// The range minimising the squared fake-quantization error.
std::unique_ptr<Calibrator> make_mse(const std::string& parameter);
// TensorRT's KL-divergence threshold.
std::unique_ptr<Calibrator> make_entropy(const std::string& parameter);

// Throws qs::Error when a calibrator without parameters is given one.
void no_parameter(const std::string& name, const std::string& parameter);

}  // namespace qs::calibrators
