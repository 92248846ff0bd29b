// Evaluating a model on a dataset: accuracy for classifiers, PSNR for image-to-image models.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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
  // Per class (indexed by label), when has_labels and the model is a classifier.
  std::vector<std::int64_t> class_samples, class_correct;
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

// A model against a reference (the float model against its quantized simulation, or against
// the integer kernels): both scored, and how far the candidate's outputs are from the
// reference's.
struct PairEvalResult {
  EvalResult reference, candidate;
  bool classifier = false;  // outputs [batch, classes]: agreement and kl are set
  double agreement = 0;     // percent of samples whose top-1 class is the reference's
  double kl = 0;            // mean KL(softmax(reference) || softmax(candidate)), nats
  double sqnr_db = 0;       // 10 log10(sum ref^2 / sum (ref - cand)^2) over all outputs
  // With labels: the samples only the reference gets right (top-1), and only the candidate.
  // A top-1 difference between the two is their difference over the sample count.
  std::int64_t only_reference = 0, only_candidate = 0;
  // McNemar's statistic (only_candidate - only_reference) / sqrt(their sum): on the same
  // samples, |z| < 1.96 means the top-1 difference is within chance (95 %). 0 when both are 0.
  double mcnemar_z() const;
};

// Runs both models over the dataset, batch by batch. Throws like evaluate(), and when the two
// outputs differ in shape.
PairEvalResult evaluate_pair(const Graph& reference, const Graph& candidate, Dataset& data,
                             Device& reference_device, Device& candidate_device,
                             const EvalOptions& options, const JobControl& job = {});

}  // namespace qs
