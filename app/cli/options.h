// The options of quantscope-cli's commands, declared with their help: the one list that both
// parses a command line (args.h, with CLI11) and prints `quantscope-cli COMMAND --help`, so the
// help cannot drift from what is accepted.
#pragma once

#include <string>
#include <vector>

namespace qs::cli {

struct Option {
  std::string name;   // "data" for --data; one letter for -o
  std::string value;  // what it takes ("SPEC"); empty for a flag
  std::string help;
};

// An option several commands share, with the one meaning it has in all of them (--data,
// --limit, --device, --json, ...).
Option common(const std::string& name);
// Each option's line(s) of help, wrapped, in the order given.
std::string format_options(const std::vector<Option>& options);

}  // namespace qs::cli
