// The JSON form of a sensitivity sweep, written by `sensitivity --json` and read back by
// `merge` (shards of one sweep into the whole).
#pragma once

#include <nlohmann/json.hpp>

#include "quantscope/analysis.h"

namespace qs::cli {

nlohmann::json sensitivity_to_json(const SensitivityResult& r);
// Reads the "layers", "samples", "fp32_top1" and "classifier" fields; throws Error naming what
// is wrong.
SensitivityResult sensitivity_from_json(const nlohmann::json& j, const std::string& where);

}  // namespace qs::cli
