// Errors the engine reports. Every message names what is wrong and where (file, node, op),
// so a user can act on it without a debugger.
#pragma once

#include <stdexcept>
#include <string>

namespace qs {

// Thrown by every engine function on bad input or an unsupported model. what() is one line.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Thrown when a model uses an op, attribute value or dtype the engine does not implement.
// Conformance runs report these as "unsupported" rather than as failures.
class Unsupported : public Error {
 public:
  explicit Unsupported(const std::string& message) : Error(message) {}
};

}  // namespace qs
