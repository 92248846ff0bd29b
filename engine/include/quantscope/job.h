// Progress and cancellation for long operations (evaluation, calibration, sweeps).
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "quantscope/error.h"

namespace qs {

// Thrown by a long operation when its JobControl was cancelled.
class Cancelled : public Error {
 public:
  Cancelled() : Error("cancelled") {}
};

struct JobControl {
  // Called from the working thread with the fraction done (0..1) and a short message.
  std::function<void(double fraction, const std::string& message)> progress;
  // Set from any thread to stop the operation at the next batch.
  const std::atomic<bool>* cancel = nullptr;

  void report(double fraction, const std::string& message) const {
    if (progress) progress(fraction, message);
  }
  // Throws Cancelled when cancellation was requested.
  void check() const {
    if (cancel && cancel->load()) throw Cancelled();
  }
};

}  // namespace qs
