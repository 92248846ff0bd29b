// Datasets for calibration and evaluation, named by one spec syntax in every command:
//   fashion-mnist:test | fashion-mnist:train      Debian's dataset-fashion-mnist
//   idx:IMAGES[,LABELS]                           IDX files, gzipped or not
//   folder:DIR                                    PNG/JPEG, one subfolder per class (the label)
//   npy:INPUTS.npy[,LABELS.npy]                   tensors already preprocessed
// Samples are read in batches; large files are not loaded whole.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "quantscope/graph.h"
#include "quantscope/tensor.h"

namespace qs {

// Image preprocessing: pixels are scaled to [0,1], then (x - mean[c]) / std[c].
// Images are resized to height x width (folder images) and converted to `channels` channels.
struct Preprocess {
  std::vector<float> mean{0.0f};
  std::vector<float> std{1.0f};
  std::int64_t channels = 0;  // 0: take from the model input or the data
  std::int64_t height = 0;
  std::int64_t width = 0;
};

// Preprocessing from the model: metadata_props key "quantscope.preprocess" (JSON with mean,
// std, channels, height, width) when present, sizes from the first input's NCHW shape.
// Throws Error naming the key when the JSON is malformed.
Preprocess preprocess_from_model(const Graph& graph);

struct Batch {
  Tensor inputs;                     // f32, [count, ...sample shape]
  std::vector<std::int64_t> labels;  // one per sample, empty when the dataset has none
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual std::int64_t size() const = 0;
  virtual bool has_labels() const = 0;
  // Shape of one preprocessed sample, e.g. {1, 28, 28}.
  virtual Shape sample_shape() const = 0;
  // Human-readable description: "fashion-mnist:test (10000 images 28x28, 10 classes)".
  virtual std::string describe() const = 0;
  // Samples [first, first + count), preprocessed. Throws Error on corrupt data, naming the file.
  // Not thread-safe.
  virtual Batch read(std::int64_t first, std::int64_t count) = 0;
};

struct DataOptions {
  Preprocess preprocess;
  std::int64_t limit = -1;  // take only the first N samples when >= 0
};

// Opens a dataset from a spec (see above). Throws Error with the spec and the reason when the
// spec is malformed, a file is missing or corrupt, or labels do not match the samples.
std::unique_ptr<Dataset> open_dataset(const std::string& spec, const DataOptions& options);

}  // namespace qs
