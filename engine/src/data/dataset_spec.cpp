// open_dataset: parses a dataset spec and opens the dataset it names.
#include <cstdlib>
#include <filesystem>

#include "data_internal.h"

namespace qs {
namespace {

constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// Splits "A,B" at the first comma; B is empty when there is none.
std::pair<std::string, std::string> split_comma(const std::string& s) {
  auto comma = s.find(',');
  if (comma == std::string::npos) return {s, ""};
  return {s.substr(0, comma), s.substr(comma + 1)};
}

// The file, or its name without ".gz" when only that exists.
std::string existing_variant(const std::string& gz_path) {
  std::error_code ec;
  if (std::filesystem::exists(gz_path, ec)) return gz_path;
  std::string plain = gz_path.substr(0, gz_path.size() - 3);
  if (std::filesystem::exists(plain, ec)) return plain;
  return gz_path;
}

std::unique_ptr<Dataset> open_fashion_mnist(const std::string& split, const Preprocess& p) {
  std::string prefix;
  if (split == "test")
    prefix = "t10k";
  else if (split == "train")
    prefix = "train";
  else
    throw Error("unknown fashion-mnist split '" + split + "' (expected test or train)");
  const char* env = std::getenv("QUANTSCOPE_FASHION_MNIST_DIR");
  const std::string dir = env && *env ? env : kFashionMnistDir;
  const std::string images = existing_variant(dir + "/" + prefix + "-images-idx3-ubyte.gz");
  const std::string labels = existing_variant(dir + "/" + prefix + "-labels-idx1-ubyte.gz");
  std::error_code ec;
  if (!std::filesystem::exists(images, ec))
    throw Error(images + ": file not found (install the Debian package dataset-fashion-mnist)");
  return data::open_idx_dataset(images, labels, p, "fashion-mnist:" + split);
}

std::unique_ptr<Dataset> open_npz_spec(const std::string& rest, const Preprocess& p) {
  // FILE.npz[:INPUT_KEY[,LABEL_KEY]]; a colon belongs to the path when the whole exists.
  std::string path = rest, keys;
  std::error_code ec;
  if (!std::filesystem::exists(rest, ec)) {
    auto colon = rest.rfind(':');
    if (colon != std::string::npos && rest.find('/', colon) == std::string::npos) {
      path = rest.substr(0, colon);
      keys = rest.substr(colon + 1);
    }
  }
  auto [input_key, label_key] = split_comma(keys);
  if (!keys.empty() && input_key.empty() && label_key.empty())
    throw Error("empty array keys after ':'");
  return data::open_npz_dataset(path, input_key, label_key, p);
}

std::unique_ptr<Dataset> open_unlimited(const std::string& spec, const Preprocess& p) {
  const auto colon = spec.find(':');
  if (colon == std::string::npos)
    throw Error(
        "expected SCHEME:ARGS (fashion-mnist:test, idx:IMAGES[,LABELS], folder:DIR, "
        "npy:INPUTS.npy[,LABELS.npy], npz:FILE.npz[:INPUT_KEY[,LABEL_KEY]])");
  const std::string scheme = spec.substr(0, colon);
  const std::string rest = spec.substr(colon + 1);
  if (rest.empty()) throw Error("nothing after '" + scheme + ":'");
  if (scheme == "fashion-mnist") return open_fashion_mnist(rest, p);
  if (scheme == "idx") {
    auto [images, labels] = split_comma(rest);
    if (images.empty()) throw Error("missing the IDX image file");
    return data::open_idx_dataset(images, labels, p, "idx:" + images);
  }
  if (scheme == "folder") return data::open_folder_dataset(rest, p);
  if (scheme == "npy") {
    auto [inputs, labels] = split_comma(rest);
    if (inputs.empty()) throw Error("missing the inputs .npy file");
    return data::open_npy_dataset(inputs, labels, p);
  }
  if (scheme == "npz") return open_npz_spec(rest, p);
  if (scheme == "text" || scheme == "tokens")
    throw Error("'" + scheme +
                ":' is text for a language model (a model with input_ids), not samples for this "
                "model");
  throw Error("unknown scheme '" + scheme + "' (expected fashion-mnist, idx, folder, npy or npz)");
}

}  // namespace

std::unique_ptr<Dataset> open_dataset(const std::string& spec, const DataOptions& options) {
  try {
    return data::limit_dataset(open_unlimited(spec, options.preprocess), options.limit);
  } catch (const Error& e) {
    throw Error("dataset '" + spec + "': " + e.what());
  } catch (const std::bad_alloc&) {
    throw Error("dataset '" + spec + "': out of memory while opening");
  } catch (const std::exception& e) {
    // e.g. std::filesystem errors
    throw Error("dataset '" + spec + "': " + e.what());
  }
}

}  // namespace qs
