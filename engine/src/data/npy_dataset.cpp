// npy:INPUTS.npy[,LABELS.npy] (streamed by file offset) and npz:FILE.npz[:INPUT_KEY[,LABEL_KEY]]
// (held in memory). float32 inputs are taken as they are, float64 converted, uint8 taken as
// image pixels and preprocessed.
#include <algorithm>
#include <cstring>

#include "data_internal.h"
#include "quantscope/npy.h"

namespace qs::data {
namespace {

// Converts raw samples of one input type to float, preprocessing uint8 pixels.
class SampleConverter {
 public:
  SampleConverter() = default;
  SampleConverter(NpyType type, const Shape& sample_shape, const Preprocess& p,
                  const std::string& name)
      : type_(type), numel_(shape_numel(sample_shape)) {
    if (type != NpyType::f32 && type != NpyType::f64 && type != NpyType::u8)
      throw Error(name + ": unsupported input dtype (expected float32, float64 or uint8)");
    if (type == NpyType::u8) {
      // Pixels: [C,H,W] samples have C channels, anything else one.
      channels_ = sample_shape.size() == 3 ? sample_shape[0] : 1;
      if (channels_ <= 0) channels_ = 1;
      norm_ = make_normalizer(p, channels_, name);
    }
  }
  std::int64_t sample_numel() const { return numel_; }
  void convert(const unsigned char* raw, std::int64_t count, float* out) const {
    const std::int64_t n = count * numel_;
    if (type_ == NpyType::f32) {
      std::memcpy(out, raw, static_cast<std::size_t>(n) * 4);
    } else if (type_ == NpyType::f64) {
      npy_convert(type_, raw, n, out);
    } else {
      const std::int64_t plane = numel_ / channels_;
      for (std::int64_t i = 0; i < n; ++i) {
        const int c = static_cast<int>((i % numel_) / plane);
        out[i] = norm_(c, raw[i] / 255.0f);
      }
    }
  }

 private:
  NpyType type_ = NpyType::f32;
  std::int64_t numel_ = 0;
  std::int64_t channels_ = 1;
  PixelNormalizer norm_;
};

Shape drop_first(const Shape& s) {
  return Shape(s.begin() + 1, s.end());
}

std::string labels_describe(bool has, const std::vector<std::int64_t>& labels) {
  return has ? ", " + std::to_string(class_count(labels)) + " classes" : std::string(", no labels");
}

class NpyDataset : public Dataset {
 public:
  NpyDataset(const std::string& inputs, const std::string& labels, const Preprocess& p)
      : path_(inputs), file_(inputs) {
    header_ = read_npy_header(file_);
    if (header_.shape.empty())
      throw Error(inputs + ": inputs must have a sample dimension, got a scalar");
    n_ = header_.shape[0];
    sample_shape_ = drop_first(header_.shape);
    conv_ = SampleConverter(header_.type, sample_shape_, p, inputs);
    sample_bytes_ = static_cast<std::uint64_t>(conv_.sample_numel()) * header_.item_size;
    if (!labels.empty()) {
      labels_ = labels_from_tensor(read_npy(labels), labels);
      check_label_count(n_, labels_.size(), labels, "samples");
      has_labels_ = true;
    }
  }
  std::int64_t size() const override { return n_; }
  bool has_labels() const override { return has_labels_; }
  Shape sample_shape() const override { return sample_shape_; }
  std::string describe() const override {
    return "npy:" + path_ + " (" + std::to_string(n_) + " samples " +
           shape_to_string(sample_shape_) + labels_describe(has_labels_, labels_) + ")";
  }
  Batch read(std::int64_t first, std::int64_t count) override {
    check_read_range(first, count, n_, path_);
    Shape shape = sample_shape_;
    shape.insert(shape.begin(), count);
    Batch b;
    b.inputs = Tensor(DType::f32, shape);
    if (has_labels_) b.labels.assign(labels_.begin() + first, labels_.begin() + first + count);
    if (count == 0 || sample_bytes_ == 0) return b;
    // Read in chunks of about 16 MiB.
    const std::int64_t chunk =
        std::max<std::int64_t>(1, static_cast<std::int64_t>((16u << 20) / sample_bytes_));
    std::vector<unsigned char> raw;
    float* out = b.inputs.data<float>();
    for (std::int64_t i = 0; i < count; i += chunk) {
      const std::int64_t n = std::min(chunk, count - i);
      raw.resize(static_cast<std::size_t>(n * sample_bytes_));
      file_.read_at(header_.data_offset + static_cast<std::uint64_t>(first + i) * sample_bytes_,
                    raw.data(), raw.size(), "array data");
      conv_.convert(raw.data(), n, out + i * conv_.sample_numel());
    }
    return b;
  }

 private:
  std::string path_;
  InputFile file_;
  NpyHeader header_;
  std::int64_t n_ = 0;
  Shape sample_shape_;
  SampleConverter conv_;
  std::uint64_t sample_bytes_ = 0;
  std::vector<std::int64_t> labels_;
  bool has_labels_ = false;
};

class TensorDataset : public Dataset {
 public:
  TensorDataset(std::string name, Tensor inputs, std::vector<std::int64_t> labels, bool has_labels,
                const Preprocess& p)
      : name_(std::move(name)),
        inputs_(std::move(inputs)),
        labels_(std::move(labels)),
        has_labels_(has_labels) {
    if (inputs_.rank() == 0)
      throw Error(name_ + ": inputs must have a sample dimension, got a scalar");
    n_ = inputs_.dim(0);
    sample_shape_ = drop_first(inputs_.shape());
    NpyType type;
    if (inputs_.dtype() == DType::f32)
      type = NpyType::f32;
    else if (inputs_.dtype() == DType::u8)
      type = NpyType::u8;
    else
      throw Error(name_ + ": unsupported input dtype " + dtype_name(inputs_.dtype()) +
                  " (expected float32, float64 or uint8)");
    conv_ = SampleConverter(type, sample_shape_, p, name_);
    if (has_labels_) check_label_count(n_, labels_.size(), name_, "samples");
  }
  std::int64_t size() const override { return n_; }
  bool has_labels() const override { return has_labels_; }
  Shape sample_shape() const override { return sample_shape_; }
  std::string describe() const override {
    return name_ + " (" + std::to_string(n_) + " samples " + shape_to_string(sample_shape_) +
           labels_describe(has_labels_, labels_) + ")";
  }
  Batch read(std::int64_t first, std::int64_t count) override {
    check_read_range(first, count, n_, name_);
    Shape shape = sample_shape_;
    shape.insert(shape.begin(), count);
    Batch b;
    b.inputs = Tensor(DType::f32, shape);
    if (has_labels_) b.labels.assign(labels_.begin() + first, labels_.begin() + first + count);
    if (count == 0 || conv_.sample_numel() == 0) return b;
    const std::size_t item = dtype_size(inputs_.dtype());
    const auto* raw = static_cast<const unsigned char*>(inputs_.raw()) +
                      static_cast<std::size_t>(first * conv_.sample_numel()) * item;
    conv_.convert(raw, count, b.inputs.data<float>());
    return b;
  }

 private:
  std::string name_;
  Tensor inputs_;
  std::vector<std::int64_t> labels_;
  bool has_labels_;
  std::int64_t n_ = 0;
  Shape sample_shape_;
  SampleConverter conv_;
};

}  // namespace

std::unique_ptr<Dataset> open_npy_dataset(const std::string& inputs, const std::string& labels,
                                          const Preprocess& p) {
  return std::make_unique<NpyDataset>(inputs, labels, p);
}

std::unique_ptr<Dataset> open_npz_dataset(const std::string& path, const std::string& input_key,
                                          const std::string& label_key, const Preprocess& p) {
  auto arrays = read_npz_ordered(path);
  auto find = [&](const std::string& key) -> Tensor* {
    for (auto& [name, t] : arrays)
      if (name == key) return &t;
    return nullptr;
  };
  auto keys = [&] {
    std::string s;
    for (auto& [name, t] : arrays) s += (s.empty() ? "" : ", ") + name;
    return s.empty() ? std::string("none") : s;
  };
  std::string lkey = label_key;
  if (lkey.empty()) {
    if (find("labels") && input_key != "labels")
      lkey = "labels";
    else if (find("y") && input_key != "y")
      lkey = "y";
  } else if (!find(lkey)) {
    throw Error(path + ": no array '" + lkey + "' (arrays: " + keys() + ")");
  }
  std::string ikey = input_key;
  if (ikey.empty()) {
    for (auto& [name, t] : arrays)
      if (name != lkey) {
        ikey = name;
        break;
      }
    if (ikey.empty()) throw Error(path + ": no input array (arrays: " + keys() + ")");
  } else if (!find(ikey)) {
    throw Error(path + ": no array '" + ikey + "' (arrays: " + keys() + ")");
  }
  std::vector<std::int64_t> labels;
  if (!lkey.empty()) labels = labels_from_tensor(*find(lkey), path + ":" + lkey);
  return std::make_unique<TensorDataset>("npz:" + path + ":" + ikey, *find(ikey), std::move(labels),
                                         !lkey.empty(), p);
}

}  // namespace qs::data
