#include "args.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <stdexcept>

namespace qs::cli {

Args::Args(const std::vector<std::string>& argv, const std::vector<Option>& options) {
  for (const std::string& a : argv)
    if (a == "--help" || a == "-h") throw HelpRequested{format_options(options)};
  CLI::App app;
  app.set_help_flag();  // handled above, with our usage text
  std::map<std::string, std::vector<std::string>> values;
  std::map<std::string, std::int64_t> counts;
  for (const Option& o : options) {
    const std::string spelled = (o.name.size() == 1 ? "-" : "--") + o.name;
    if (o.value.empty())
      app.add_flag(spelled, counts[o.name], o.help);
    else
      app.add_option(spelled, values[o.name], o.help)
          ->type_name(o.value)
          ->allow_extra_args(false)  // one value per occurrence: --bits 2,3 is one
          ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  }
  app.add_option("positional", positional_);
  // CLI11 takes the arguments last first.
  std::vector<std::string> reversed(argv.rbegin(), argv.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    throw UsageError{e.what()};
  }
  for (const auto& [name, count] : counts)
    if (count > 0) flags_.insert(name);
  for (const auto& [name, list] : values)
    for (const std::string& v : list) values_.emplace(name, v);
}

std::string Args::get(const std::string& name, const std::string& fallback) const {
  auto range = values_.equal_range(name);
  if (range.first == range.second) return fallback;
  return std::prev(range.second)->second;  // the last one wins
}

std::vector<std::string> Args::all(const std::string& name) const {
  std::vector<std::string> out;
  auto range = values_.equal_range(name);
  for (auto it = range.first; it != range.second; ++it) out.push_back(it->second);
  return out;
}

long long Args::get_int(const std::string& name, long long fallback, long long min_value) const {
  if (!has(name)) return fallback;
  const std::string text = get(name);
  std::size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty())
    throw UsageError{"--" + name + " expects an integer, got '" + text + "'"};
  if (v < min_value)
    throw UsageError{"--" + name + " must be at least " + std::to_string(min_value)};
  return v;
}

std::vector<double> Args::get_doubles(const std::string& name) const {
  std::vector<double> out;
  const std::string text = get(name);
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    std::string item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    std::size_t used = 0;
    double v = 0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || !std::isfinite(v))
      throw UsageError{"--" + name + " expects numbers separated by commas, got '" + text + "'"};
    out.push_back(v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

double Args::get_double(const std::string& name, double fallback) const {
  if (!has(name)) return fallback;
  const std::vector<double> v = get_doubles(name);
  if (v.size() != 1) throw UsageError{"--" + name + " expects one number, got '" + get(name) + "'"};
  return v[0];
}

std::vector<float> Args::get_floats(const std::string& name) const {
  std::vector<float> out;
  for (double v : get_doubles(name)) {
    if (!std::isfinite(static_cast<float>(v)))
      throw UsageError{"--" + name + " has a number out of range: '" + get(name) + "'"};
    out.push_back(static_cast<float>(v));
  }
  return out;
}

}  // namespace qs::cli
