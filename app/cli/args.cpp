#include "args.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace qs::cli {

Args::Args(const std::vector<std::string>& argv, const std::set<std::string>& value_options,
           const std::set<std::string>& flags) {
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    // "--name" options; "-x" for one-letter names ("-o FILE").
    const bool short_option = a.size() == 2 && a[0] == '-' && a[1] != '-' &&
                              (value_options.count(a.substr(1)) || flags.count(a.substr(1)));
    if (!short_option && (a.size() < 3 || a.rfind("--", 0) != 0)) {
      positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(short_option ? 1 : 2), value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    if (flags.count(name)) {
      if (inline_value) throw UsageError{"--" + name + " takes no value"};
      flags_.insert(name);
    } else if (value_options.count(name)) {
      if (!inline_value) {
        if (i + 1 >= argv.size()) throw UsageError{"--" + name + " needs a value"};
        value = argv[++i];
      }
      values_.emplace(name, value);
    } else {
      throw UsageError{"unknown option --" + name};
    }
  }
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
