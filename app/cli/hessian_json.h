// The JSON form of Hessian traces, written by `hessian --json` and read back by `sensitivity
// --hessian` and `search --hessian` (the HAWQ estimate).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "quantscope/analysis.h"

namespace qs::cli {

nlohmann::json hessian_to_json(const HessianResult& r);
// Throws Error naming `where` and the field that is wrong.
HessianResult hessian_from_json(const nlohmann::json& j, const std::string& where);
HessianResult load_hessian(const std::string& path);

}  // namespace qs::cli
