// Command-line parsing for quantscope-cli subcommands, with CLI11, from the command's declared
// options (options.h).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "options.h"

namespace qs::cli {

// Thrown on bad usage; main() prints it with the command's usage and exits with status 2.
struct UsageError {
  std::string message;
};

// Thrown for --help (or -h); main() prints the command's usage and description, then these
// options, and exits with status 0.
struct HelpRequested {
  std::string options;
};

class Args {
 public:
  // Options with a value take it as --limit 10 or --limit=10 (one-letter ones as -o FILE);
  // flags take none. Options may repeat; everything else is positional.
  Args(const std::vector<std::string>& argv, const std::vector<Option>& options);

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
