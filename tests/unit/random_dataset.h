// A dataset of random samples for quantization tests: normal values (mean 0.5, sd 1), no labels.
#pragma once

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "quantscope/dataset.h"

namespace qs::test {

// n values from N(0, sd^2), reproducible from the seed.
inline std::vector<float> random_values(std::size_t n, unsigned seed, float sd = 0.5f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, sd);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

class RandomDataset : public Dataset {
 public:
  RandomDataset(std::int64_t n, Shape sample, unsigned seed) : n_(n), sample_(std::move(sample)) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.5f, 1.0f);
    values_.resize(static_cast<std::size_t>(n * shape_numel(sample_)));
    for (float& v : values_) v = d(rng);
  }
  std::int64_t size() const override { return n_; }
  bool has_labels() const override { return false; }
  Shape sample_shape() const override { return sample_; }
  std::string describe() const override { return "random"; }
  Batch read(std::int64_t first, std::int64_t count) override {
    Shape s{count};
    s.insert(s.end(), sample_.begin(), sample_.end());
    Tensor t(DType::f32, s);
    const std::int64_t per = shape_numel(sample_);
    std::copy(values_.begin() + first * per, values_.begin() + (first + count) * per,
              t.data<float>());
    return {t, {}};
  }

 private:
  std::int64_t n_;
  Shape sample_;
  std::vector<float> values_;
};

}  // namespace qs::test
