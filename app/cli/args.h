// Command-line parsing for quantscope-cli subcommands.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

namespace qs::cli {

// Thrown on bad usage; main() prints it with the command's usage and exits with status 2.
struct UsageError {
  std::string message;
};

class Args {
 public:
  // value_options take a value (--limit 10 or --limit=10); flags do not. Options may repeat.
  Args(const std::vector<std::string>& argv, const std::set<std::string>& value_options,
       const std::set<std::string>& flags);

  const std::vector<std::string>& positional() const { return positional_; }
  bool flag(const std::string& name) const { return flags_.count(name) != 0; }
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  std::string get(const std::string& name, const std::string& fallback = "") const;
  std::vector<std::string> all(const std::string& name) const;
  long long get_int(const std::string& name, long long fallback, long long min_value) const;
  // Comma-separated numbers (UsageError naming the option when one is not a finite number).
  std::vector<double> get_doubles(const std::string& name) const;
  std::vector<float> get_floats(const std::string& name) const;
  // One number, in double precision (it may enter a cache key that the workbench also computes).
  double get_double(const std::string& name, double fallback) const;

 private:
  std::vector<std::string> positional_;
  std::set<std::string> flags_;
  std::multimap<std::string, std::string> values_;
};

}  // namespace qs::cli
