// folder:DIR — PNG/JPEG images in one subfolder per class; decoded lazily in read().
#include <algorithm>
#include <cctype>
#include <filesystem>

#include "data_internal.h"

namespace fs = std::filesystem;

namespace qs::data {
namespace {

bool is_image_name(const std::string& name) {
  auto dot = name.rfind('.');
  if (dot == std::string::npos) return false;
  std::string ext = name.substr(dot + 1);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == "png" || ext == "jpg" || ext == "jpeg";
}

class FolderDataset : public Dataset {
 public:
  FolderDataset(const std::string& dir, const Preprocess& p) : dir_(dir) {
    std::error_code ec;
    if (!fs::exists(dir, ec)) throw Error(dir + ": folder not found");
    if (!fs::is_directory(dir, ec)) throw Error(dir + ": not a folder");

    std::vector<std::string> classes;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (!name.empty() && name[0] != '.' && it->is_directory(ec)) classes.push_back(name);
    }
    if (ec) throw Error(dir + ": cannot list folder (" + ec.message() + ")");
    std::sort(classes.begin(), classes.end());
    classes_ = classes;
    for (std::size_t label = 0; label < classes.size(); ++label) {
      const fs::path class_dir = fs::path(dir) / classes[label];
      std::vector<std::string> names;
      for (fs::directory_iterator it(class_dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (!name.empty() && name[0] != '.' && is_image_name(name) && it->is_regular_file(ec))
          names.push_back(name);
      }
      if (ec) throw Error(class_dir.string() + ": cannot list folder (" + ec.message() + ")");
      std::sort(names.begin(), names.end());
      for (const std::string& n : names) {
        files_.push_back((class_dir / n).string());
        labels_.push_back(static_cast<std::int64_t>(label));
      }
    }
    if (files_.empty())
      throw Error(dir + ": no PNG or JPEG images found in class subfolders (expected " + dir +
                  "/<class>/<image>.png)");

    if (p.channels != 0 && p.channels != 1 && p.channels != 3)
      throw Error(dir + ": unsupported channel count " + std::to_string(p.channels) +
                  " for images (1 or 3)");
    resize_ = p.height > 0 || p.width > 0;
    channels_ = p.channels;
    out_h_ = p.height;
    out_w_ = p.width;
    if (channels_ == 0 || out_h_ == 0 || out_w_ == 0) {
      // Take what is not set from the first image.
      const Image first = decode_image_file(files_[0]);
      if (channels_ == 0) channels_ = first.channels;
      if (out_h_ == 0) out_h_ = first.height;
      if (out_w_ == 0) out_w_ = first.width;
    }
    norm_ = make_normalizer(p, channels_, dir);
  }

  std::int64_t size() const override { return static_cast<std::int64_t>(files_.size()); }
  bool has_labels() const override { return true; }
  Shape sample_shape() const override { return {channels_, out_h_, out_w_}; }
  std::string describe() const override {
    return "folder:" + dir_ + " (" + std::to_string(files_.size()) + " images " +
           std::to_string(out_h_) + "x" + std::to_string(out_w_) + ", " +
           std::to_string(classes_.size()) + " classes)";
  }

  Batch read(std::int64_t first, std::int64_t count) override {
    check_read_range(first, count, size(), dir_);
    Batch b;
    b.inputs = Tensor(DType::f32, {count, channels_, out_h_, out_w_});
    float* out = b.inputs.data<float>();
    const std::int64_t sample = channels_ * out_h_ * out_w_;
    for (std::int64_t i = 0; i < count; ++i) {
      const std::string& file = files_[static_cast<std::size_t>(first + i)];
      const Image img = decode_image_file(file);
      if (!resize_ && (img.height != out_h_ || img.width != out_w_))
        throw Error(file + ": image is " + std::to_string(img.height) + "x" +
                    std::to_string(img.width) + " (height x width) but the dataset's images are " +
                    std::to_string(out_h_) + "x" + std::to_string(out_w_) +
                    " (set the preprocessing height and width to resize)");
      image_to_chw(img.pixels.data(), img.height, img.width, img.channels,
                   static_cast<int>(channels_), out_h_, out_w_, norm_, out + i * sample);
      b.labels.push_back(labels_[static_cast<std::size_t>(first + i)]);
    }
    return b;
  }

 private:
  std::string dir_;
  std::vector<std::string> classes_;
  std::vector<std::string> files_;
  std::vector<std::int64_t> labels_;
  bool resize_ = false;
  std::int64_t channels_ = 0, out_h_ = 0, out_w_ = 0;
  PixelNormalizer norm_;
};

}  // namespace

std::unique_ptr<Dataset> open_folder_dataset(const std::string& dir, const Preprocess& p) {
  return std::make_unique<FolderDataset>(dir, p);
}

}  // namespace qs::data
