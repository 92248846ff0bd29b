// Activation observers: the two passes over the calibration set; the calibrators themselves are
// in calibrators/, one file each.
#include "quant/observer.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "quantscope/error.h"

namespace qs {

double TensorStatistics::max_abs() const {
  return std::max(std::fabs(static_cast<double>(min)), std::fabs(static_cast<double>(max)));
}

double TensorStatistics::quantile(double q) const {
  double total = 0;
  for (std::uint64_t c : bins) total += static_cast<double>(c);
  const double target = q * total;
  if (target <= 0) return lo;
  double cum = 0;
  for (std::size_t b = 0; b < bins.size(); ++b) {
    const double c = static_cast<double>(bins[b]);
    if (c == 0) continue;
    if (cum + c >= target) {
      const double frac = std::clamp((target - cum) / c, 0.0, 1.0);
      return lo + (static_cast<double>(b) + frac) * bin_width;
    }
    cum += c;
  }
  return lo + static_cast<double>(bins.size()) * bin_width;
}

namespace quant {

ActivationObserver::ActivationObserver(std::shared_ptr<const Calibrator> calibrator,
                                       GridTarget target)
    : calibrator_(std::move(calibrator)), target_(target) {
  if (!calibrator_) throw Error("an activation observer needs a calibrator");
  if (target_.bits < 2 || target_.bits > 16)
    throw Error("calibrator " + calibrator_->text() + ": bits must be 2..16, got " +
                std::to_string(target_.bits));
}

void ActivationObserver::observe_minmax(const float* data, std::size_t n) {
  float lo = stats_.count ? stats_.min : std::numeric_limits<float>::infinity();
  float hi = stats_.count ? stats_.max : -std::numeric_limits<float>::infinity();
  std::size_t finite = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const float x = data[i];
    if (!std::isfinite(x)) continue;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
    ++finite;
  }
  if (finite) {
    stats_.min = lo;
    stats_.max = hi;
  }
  stats_.count += finite;
  nan_count_ += n - finite;
}

void ActivationObserver::begin_histogram() {
  if (!needs_histogram()) return;
  TensorStatistics& s = stats_;
  s.abs = calibrator_->abs_histogram(target_);
  double lo = 0, hi = 0;
  if (s.count) {
    lo = s.abs ? 0.0 : static_cast<double>(s.min);
    hi = s.abs ? s.max_abs() : static_cast<double>(s.max);
  }
  s.lo = lo;
  s.bin_width = hi > lo ? (hi - lo) / static_cast<double>(kBins) : 0.0;
  s.bins.assign(kBins, 0);
  s.zeros = 0;
  histogram_begun_ = true;
}

void ActivationObserver::observe_histogram(const float* data, std::size_t n) {
  if (!needs_histogram()) return;
  if (!histogram_begun_)
    throw Error("calibrator " + calibrator_->text() +
                ": observe_histogram() before begin_histogram()");
  TensorStatistics& s = stats_;
  const double inv = s.bin_width > 0 ? 1.0 / s.bin_width : 0.0;
  const double last = static_cast<double>(kBins - 1);
  for (std::size_t i = 0; i < n; ++i) {
    const float x = data[i];
    if (!std::isfinite(x)) continue;
    const double v = s.abs ? std::fabs(static_cast<double>(x)) : static_cast<double>(x);
    const double pos = (v - s.lo) * inv;
    const std::size_t b = pos <= 0 ? 0 : pos >= last ? kBins - 1 : static_cast<std::size_t>(pos);
    ++s.bins[b];
    s.zeros += v == 0;
  }
}

Range ActivationObserver::range() const {
  const TensorStatistics& s = stats_;
  if (s.count == 0) return {};
  if (needs_histogram() && !histogram_begun_)
    throw Error("calibrator " + calibrator_->text() +
                ": range() needs the histogram pass (begin_histogram(), observe_histogram())");
  const bool degenerate = s.min == s.max || (needs_histogram() && s.bin_width <= 0);
  Range r = degenerate ? Range{s.min, s.max} : calibrator_->range(s, target_);
  // Never wider than the data seen (also absorbs float rounding of the thresholds).
  r.lo = std::clamp(r.lo, s.min, s.max);
  r.hi = std::clamp(r.hi, s.min, s.max);
  if (r.hi < r.lo) r.hi = r.lo;
  return r;
}

}  // namespace quant
}  // namespace qs
