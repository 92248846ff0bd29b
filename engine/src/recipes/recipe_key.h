// What the recipes' cache keys are made of: each request writes the fields that change its result
// into a JSON object, and the key is the SHA-256 of its kind, the program's version and that text.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "quantscope/recipes.h"

namespace qs::recipes {

// The model and its preprocessing (every recipe reads them).
nlohmann::json model_fields(const RecipeInputs& in);
// The above with the calibration set.
nlohmann::json calibration_fields(const RecipeInputs& in);
// The above with the evaluation set and the device: both sets are read.
nlohmann::json evaluation_fields(const RecipeInputs& in);
// The model, the evaluation set and the device: only the evaluation set is read.
nlohmann::json evaluation_only_fields(const RecipeInputs& in);
nlohmann::json config_fields(const QuantConfig& config);
// SHA-256 of a result's JSON form: inputs such as traces or a latency table are keyed by content.
std::string content_key(const std::string& json_text);
// content_key of a quantized model's JSON, remembered for the last few shared models.
std::string quantized_key(const std::shared_ptr<const QuantizedModel>& quantized);
std::string make_key(const char* kind, const nlohmann::json& fields);

// Error when the model is a language model and `what` (a recipe's analysis) does not take one
// yet; quantize and eval do.
void refuse_language_model(const RecipeInputs& in, const std::string& what);

}  // namespace qs::recipes
