// Text as calibration samples: windows of a token stream, each a row of ids a decoder reads
// from position 0 (decoder_inputs makes the rest of its inputs).
#include <algorithm>
#include <cstring>

#include "quantscope/dataset.h"
#include "quantscope/error.h"
#include "quantscope/language_model.h"
#include "quantscope/text_data.h"

namespace qs {

namespace {

class TokenWindowDataset : public Dataset {
 public:
  TokenWindowDataset(TokenStream stream, std::int64_t context, std::int64_t limit)
      : stream_(std::move(stream)) {
    const auto tokens = static_cast<std::int64_t>(stream_.ids.size());
    if (tokens < 1) throw Error(stream_.description + ": no tokens");
    // Side by side and all of one length, so that any of them batch together; a text shorter
    // than one window is one shorter window.
    length_ = std::min(context, tokens);
    count_ = tokens / length_;
    if (limit >= 0) count_ = std::min(count_, limit);
  }
  std::int64_t size() const override { return count_; }
  bool has_labels() const override { return false; }
  Shape sample_shape() const override { return {length_}; }
  std::string describe() const override {
    return stream_.description + ", " + std::to_string(count_) + " windows of " +
           std::to_string(length_) + " tokens";
  }
  Batch read(std::int64_t first, std::int64_t count) override {
    if (first < 0 || count < 0 || first + count > count_)
      throw Error("windows [" + std::to_string(first) + ", " + std::to_string(first + count) +
                  ") of " + std::to_string(count_));
    Batch b;
    b.inputs = Tensor(DType::i64, {count, length_});
    std::memcpy(b.inputs.data<std::int64_t>(), stream_.ids.data() + first * length_,
                static_cast<std::size_t>(count * length_) * sizeof(std::int64_t));
    return b;
  }

 private:
  TokenStream stream_;
  std::int64_t length_ = 0, count_ = 0;
};

}  // namespace

std::unique_ptr<Dataset> token_window_dataset(TokenStream stream, std::int64_t context,
                                              std::int64_t limit) {
  if (context < 1) throw Error("a window needs at least one token");
  return std::make_unique<TokenWindowDataset>(std::move(stream), context, limit);
}

TensorMap decoder_inputs(const DecoderLayout& layout, const Tensor& ids) {
  if (ids.dtype() != DType::i64 || ids.rank() != 2)
    throw Error("a decoder reads token ids as int64 [batch, sequence], not " +
                dtype_name(ids.dtype()) + " " + shape_to_string(ids.shape()));
  const std::int64_t batch = ids.dim(0), n = ids.dim(1);
  TensorMap in;
  in[layout.input_ids] = ids;
  if (!layout.attention_mask.empty())
    in[layout.attention_mask] = Tensor::from_vector<std::int64_t>(
        {batch, n}, std::vector<std::int64_t>(static_cast<std::size_t>(batch * n), 1));
  if (!layout.position_ids.empty()) {
    std::vector<std::int64_t> positions(static_cast<std::size_t>(batch * n));
    for (std::int64_t i = 0; i < batch * n; ++i) positions[i] = i % n;
    in[layout.position_ids] = Tensor::from_vector<std::int64_t>({batch, n}, positions);
  }
  for (const DecoderLayout::CacheEntry& entry : layout.cache)
    in[entry.past] = Tensor(DType::f32, {batch, entry.shape[1], 0, entry.shape[3]});
  return in;
}

}  // namespace qs
