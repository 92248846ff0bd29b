// Activation calibrators: given what one tensor held over the calibration set, the clipping
// range [lo, hi] of its grid. A calibrator is a registry entry (registry.h) chosen by name,
// "mse" or "percentile:99.9" (a name and a parameter); a new one is one file and one line in
// register_builtins(), or a plugin.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace qs {

// One tensor's statistics over the calibration set. Pass 1 gives min, max and the count of
// finite values; pass 2 (when the calibrator asks for it) a histogram of kBins bins, of |x| over
// [0, max|x|] (`abs`) or of x over [min, max], values outside in the end bins.
struct TensorStatistics {
  static constexpr std::size_t kBins = 2048;
  float min = 0, max = 0;  // 0 when nothing finite was seen
  std::size_t count = 0;   // finite values seen
  bool abs = false;
  double lo = 0;         // the histogram covers [lo, lo + kBins * bin_width)
  double bin_width = 0;  // 0: a degenerate range, every value in bin 0
  std::vector<std::uint64_t> bins;
  std::uint64_t zeros = 0;  // exact zeros (in bin 0)
  double max_abs() const;
  // The value below which a fraction q of the histogram's mass lies, interpolated in a bin.
  double quantile(double q) const;
};

// The grid the range is for.
struct GridTarget {
  int bits = 8;            // 2..16
  bool symmetric = false;  // signed, zero point 0; else codes 0..2^bits-1
};

struct ClipRange {
  float lo = 0, hi = 0;
};

class Calibrator {
 public:
  virtual ~Calibrator() = default;
  // The canonical text that names this calibrator and its parameter ("percentile:99.99").
  virtual std::string text() const = 0;
  // Whether range() needs the histogram pass; whether that histogram is of |x| for this grid.
  virtual bool needs_histogram() const = 0;
  virtual bool abs_histogram(const GridTarget& target) const { return target.symmetric; }
  // The range for `target`; the caller clamps it to [min, max]. Called once per tensor, with
  // count > 0, min < max and a histogram of positive bin width when needs_histogram().
  virtual ClipRange range(const TensorStatistics& stats, const GridTarget& target) const = 0;
};

// Makes a calibrator from the text after the name's colon ("" when there is none); throws
// qs::Error naming what is wrong with the parameter.
using CalibratorFactory = std::function<std::unique_ptr<Calibrator>(const std::string& parameter)>;

}  // namespace qs
