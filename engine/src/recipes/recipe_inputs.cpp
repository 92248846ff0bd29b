#include <deque>
#include <mutex>

#include "quantscope/device.h"
#include "quantscope/error.h"
#include "quantscope/language_model.h"
#include "quantscope/quant.h"
#include "quantscope/registry.h"
#include "quantscope/text_data.h"
#include "quantscope/tokenizer.h"
#include "recipe_key.h"

namespace qs {

const Registry& RecipeInputs::devices() const {
  return registry ? *registry : builtin_registry();
}

namespace {

std::unique_ptr<Dataset> open_data(const RecipeInputs& in, const std::string& spec,
                                   std::int64_t limit) {
  if (!is_text_spec(spec)) return open_dataset(spec, DataOptions{in.preprocess, limit});
  if (in.graph && !decoder_layout(*in.graph))
    throw Error("dataset '" + spec +
                "': text is for a language model (a model with input_ids), not samples for this "
                "model");
  std::unique_ptr<Tokenizer> tokenizer =
      in.tokenizer.empty() ? nullptr : open_tokenizer(in.tokenizer);
  return token_window_dataset(open_token_stream(spec, tokenizer.get()), in.context, limit);
}

}  // namespace

std::unique_ptr<Dataset> RecipeInputs::open_calibration() const {
  if (calibration.empty()) throw Error("no calibration data given");
  return open_data(*this, calibration, limit);
}

std::unique_ptr<Dataset> RecipeInputs::open_evaluation() const {
  if (evaluation.empty()) return open_calibration();
  return open_data(*this, evaluation, eval_limit);
}

std::unique_ptr<Device> RecipeInputs::open_device() const {
  std::unique_ptr<Device> d = devices().create_device(device);
  const DeviceStatus status = d->status();
  if (!status.usable) throw Error("device '" + device + "' is not usable here: " + status.reason);
  return d;
}

namespace recipes {

nlohmann::json model_fields(const RecipeInputs& in) {
  if (in.model_id.empty()) throw Error("a cache key needs the model's identity (its SHA-256)");
  return {{"model", in.model_id},
          {"mean", in.preprocess.mean},
          {"std", in.preprocess.std},
          {"size", {in.preprocess.channels, in.preprocess.height, in.preprocess.width}}};
}

nlohmann::json calibration_fields(const RecipeInputs& in) {
  nlohmann::json j = model_fields(in);
  j["calibration"] = in.calibration;
  j["limit"] = in.limit;
  if (is_text_spec(in.calibration)) {
    // The tokenizer's file by path (its contents decide the ids; a changed file at the same
    // path is the user's to re-run), and the window length.
    j["tokenizer"] = in.tokenizer;
    j["context"] = in.context;
  }
  return j;
}

namespace {

// An evaluation set named the same as the calibration set, or none, is the calibration set.
void add_evaluation(nlohmann::json& j, const RecipeInputs& in) {
  j["evaluation"] = in.evaluation_spec();
  j["eval_limit"] = in.evaluation.empty() ? in.limit : in.eval_limit;
  j["device"] = in.device;
  if (is_text_spec(in.evaluation_spec())) {
    j["tokenizer"] = in.tokenizer;
    j["context"] = in.context;
  }
}

}  // namespace

nlohmann::json evaluation_fields(const RecipeInputs& in) {
  nlohmann::json j = calibration_fields(in);
  add_evaluation(j, in);
  return j;
}

void refuse_language_model(const RecipeInputs& in, const std::string& what) {
  if (in.graph && decoder_layout(*in.graph))
    throw Error(what +
                " does not take language models yet (quantize and eval do, with text: data)");
}

nlohmann::json evaluation_only_fields(const RecipeInputs& in) {
  nlohmann::json j = model_fields(in);
  add_evaluation(j, in);
  return j;
}

nlohmann::json config_fields(const QuantConfig& config) {
  return nlohmann::json::parse(quant_config_to_json(config));
}

std::string content_key(const std::string& json_text) {
  return result_key({json_text});
}

std::string quantized_key(const std::shared_ptr<const QuantizedModel>& quantized) {
  // The last few models' keys, by identity: a shared const model does not change, and the
  // weak pointer tells a model from a later one at the same address. Pages ask for the key of
  // the same quantization several times (restoring Compare, errors and Measure), and a large
  // model's JSON takes long to write and hash.
  struct Memo {
    std::weak_ptr<const QuantizedModel> model;
    const QuantizedModel* address = nullptr;
    std::string key;
  };
  static std::mutex mutex;
  static std::deque<Memo> memos;
  {
    std::lock_guard lock(mutex);
    for (const Memo& m : memos)
      if (m.address == quantized.get() && m.model.lock() == quantized) return m.key;
  }
  std::string key = content_key(quantized_model_to_json(*quantized));
  std::lock_guard lock(mutex);
  memos.push_front({quantized, quantized.get(), key});
  if (memos.size() > 8) memos.pop_back();
  return key;
}

std::string make_key(const char* kind, const nlohmann::json& fields) {
  return result_key({kind, QS_VERSION, fields.dump()});
}

}  // namespace recipes
}  // namespace qs
