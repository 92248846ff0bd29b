// One tensor's observer over the calibration set: it collects the statistics a calibrator
// (quantscope/calibrator.h, chosen by name from the registry) turns into the clipping range of
// the tensor's grid, streamed in batches.
//
// Protocol: pass 1 shows every batch through observe_minmax(). When needs_histogram(), the
// caller then calls begin_histogram() once and shows every batch again through
// observe_histogram(). range() then gives the calibrated range.
//
// Histograms: of |x| over [0, max|x|] when the calibrator asks for that for the grid (symmetric
// grids, entropy always), otherwise of x over [min, max]; both from the pass-1 statistics.
// Whatever the calibrator, range() is clamped to [min, max] (never wider than the data seen),
// so a symmetric grid's threshold is max(-lo, hi). Non-finite values (NaN, +-Inf) are skipped
// and counted by nan_count() (in pass 1 only). No data at all: min() = max() = 0, range [0, 0].
// Constant data gives [c, c]; all-zero data [0, 0] (the grid handles a span of 0).
#pragma once

#include <cstddef>
#include <memory>

#include "quantscope/calibrator.h"

namespace qs::quant {

using Range = ClipRange;

// Not thread-safe; one per tensor.
class ActivationObserver {
 public:
  static constexpr std::size_t kBins = TensorStatistics::kBins;

  // Throws qs::Error for bits outside 2..16.
  ActivationObserver(std::shared_ptr<const Calibrator> calibrator, GridTarget target);

  bool needs_histogram() const { return calibrator_->needs_histogram(); }
  // Pass 1: min, max and the non-finite count.
  void observe_minmax(const float* data, std::size_t n);
  // Between the passes: fixes the histogram's range from pass 1 and clears it. Calling it again
  // starts the histogram over. A no-op when the calibrator needs no histogram.
  void begin_histogram();
  // Pass 2: every batch again. Values outside the pass-1 range go to the end bins. Throws
  // qs::Error before begin_histogram(). A no-op when the calibrator needs no histogram.
  void observe_histogram(const float* data, std::size_t n);
  // The calibrated range, within [min(), max()]. Throws qs::Error if the calibrator needs the
  // histogram, data was seen, and begin_histogram() was not called.
  Range range() const;

  float min() const { return stats_.min; }  // 0 when nothing finite was seen
  float max() const { return stats_.max; }
  std::size_t nan_count() const { return nan_count_; }  // non-finite values skipped in pass 1
  std::size_t count() const { return stats_.count; }    // finite values seen in pass 1
  const Calibrator& calibrator() const { return *calibrator_; }
  const GridTarget& target() const { return target_; }

 private:
  std::shared_ptr<const Calibrator> calibrator_;
  GridTarget target_;
  TensorStatistics stats_;
  std::size_t nan_count_ = 0;
  bool histogram_begun_ = false;
};

}  // namespace qs::quant
