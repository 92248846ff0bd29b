// Evaluating a model on a dataset: accuracy for classifiers, PSNR for image-to-image models.
#pragma once

#include <cstdint>
#include <string>

#include "quantscope/dataset.h"
#include "quantscope/device.h"
#include "quantscope/graph.h"
#include "quantscope/job.h"

namespace qs {

struct EvalOptions {
  std::int64_t batch = 64;
};

struct EvalResult {
  std::int64_t samples = 0;
  bool has_labels = false;
  double top1 = 0;  // percent, when has_labels and the model is a classifier
  double top5 = 0;
  bool image_output = false;  // output has the input's shape: psnr_db is set
  double psnr_db = 0;         // output vs input, pixels de-normalized to [0,1]
  double seconds = 0;         // wall time of the forward passes
  std::string device;
};

// Runs the model over the whole dataset in batches on `device`. The model's first
// input receives the samples; its first output is scored. Throws Error when the sample shape
// does not fit the model input, Cancelled when job.cancel is set.
EvalResult evaluate(const Graph& graph, Dataset& data, Device& device, const EvalOptions& options,
                    const JobControl& job = {});

}  // namespace qs
