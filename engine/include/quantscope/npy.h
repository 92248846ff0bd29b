// NumPy .npy and .npz files.
#pragma once

#include <map>
#include <string>

#include "quantscope/tensor.h"

namespace qs {

// Reads a .npy file (little-endian float32, float64 (converted to float32), int64, int32, int8,
// uint8, bool; C order). Throws Error naming the file on anything else or on corrupt data.
Tensor read_npy(const std::string& path);
// Reads every array of a .npz archive (stored or deflated entries), keyed by name without ".npy".
std::map<std::string, Tensor> read_npz(const std::string& path);
// Writes a tensor as .npy (version 1.0). Throws Error when the file cannot be written.
void write_npy(const std::string& path, const Tensor& tensor);

}  // namespace qs
