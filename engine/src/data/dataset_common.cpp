// Helpers shared by the datasets: label checks, read-range checks and the `limit` wrapper.
#include <algorithm>

#include "data_internal.h"

namespace qs::data {

std::vector<std::int64_t> labels_from_tensor(const Tensor& t, const std::string& name) {
  const bool column = t.rank() == 2 && t.dim(1) == 1;
  if (t.rank() != 1 && !column)
    throw Error(name + ": labels must be a 1-D array, got shape " + shape_to_string(t.shape()));
  switch (t.dtype()) {
    case DType::i64:
    case DType::i32:
    case DType::u8:
    case DType::i8:
      break;
    default:
      throw Error(name + ": labels must be integers (int64, int32 or uint8), got " +
                  dtype_name(t.dtype()));
  }
  return t.to_i64();
}

void check_label_count(std::int64_t samples, std::size_t labels, const std::string& name,
                       const char* noun) {
  if (static_cast<std::uint64_t>(samples) != labels)
    throw Error(name + ": " + std::to_string(samples) + " " + noun + " but " +
                std::to_string(labels) + " labels");
}

void check_read_range(std::int64_t first, std::int64_t count, std::int64_t size,
                      const std::string& name) {
  if (first < 0 || count < 0 || first > size || count > size - first)
    throw Error(name + ": cannot read samples [" + std::to_string(first) + ", " +
                std::to_string(first) + "+" + std::to_string(count) + ") of " +
                std::to_string(size));
}

std::int64_t class_count(const std::vector<std::int64_t>& labels) {
  std::int64_t m = -1;
  for (std::int64_t l : labels) m = std::max(m, l);
  return m + 1;
}

namespace {

class LimitedDataset : public Dataset {
 public:
  LimitedDataset(std::unique_ptr<Dataset> inner, std::int64_t limit)
      : inner_(std::move(inner)), size_(std::min(limit, inner_->size())) {}
  std::int64_t size() const override { return size_; }
  bool has_labels() const override { return inner_->has_labels(); }
  Shape sample_shape() const override { return inner_->sample_shape(); }
  std::string describe() const override {
    return inner_->describe() + ", first " + std::to_string(size_);
  }
  Batch read(std::int64_t first, std::int64_t count) override {
    check_read_range(first, count, size_, "dataset (limited to " + std::to_string(size_) + ")");
    return inner_->read(first, count);
  }

 private:
  std::unique_ptr<Dataset> inner_;
  std::int64_t size_;
};

}  // namespace

std::unique_ptr<Dataset> limit_dataset(std::unique_ptr<Dataset> inner, std::int64_t limit) {
  if (limit < 0 || limit >= inner->size()) return inner;
  return std::make_unique<LimitedDataset>(std::move(inner), limit);
}

}  // namespace qs::data
