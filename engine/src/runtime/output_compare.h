// How far a candidate model's outputs are from a reference's, accumulated over batches: SQNR
// over all values; for classifier outputs [batch, classes] also top-1 agreement and the mean
// KL divergence between the softmax distributions. Shared by evaluation and analysis.
#pragma once

#include <cstdint>

#include "quantscope/tensor.h"

namespace qs {

class OutputComparison {
 public:
  // `classifier`: outputs are [batch, classes] logits.
  void add(const Tensor& reference, const Tensor& candidate, bool classifier);
  bool classifier() const { return compared_ > 0; }
  double agreement() const;  // percent
  double kl() const;         // nats, mean over samples
  double sqnr_db() const;    // +inf when equal

 private:
  double signal_ = 0, noise_ = 0, kl_ = 0;
  std::int64_t agree_ = 0, compared_ = 0;
};

// Whether an output of `shape` for a batch of `count` samples whose inputs have `input_shape`
// holds classifier logits: [count, classes] and not an image of the input's shape.
bool is_classifier_output(const Shape& shape, std::int64_t count, const Shape& input_shape);

}  // namespace qs
