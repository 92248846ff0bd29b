// The built-in rounding methods (registered in plugin/builtins.cpp), one file each.
#pragma once

#include <memory>
#include <string>

#include "quantscope/rounding.h"

namespace qs::roundings {

std::unique_ptr<Rounding> make_rtn(const std::string& parameter);
std::unique_ptr<Rounding> make_gptq(const std::string& parameter);

}  // namespace qs::roundings
