// Activation calibrators (observers): one per tensor, streamed over the calibration set in
// batches, giving the clipping range [lo, hi] of the activation grid (grid.h).
//
// Protocol: pass 1 shows every batch through observe_minmax(). When needs_histogram() (every
// method but minmax), the caller then calls begin_histogram() once and shows every batch again
// through observe_histogram(). range() then gives the calibrated range.
//
// Costs, per tensor (n = values per pass, B = kBins = 2048):
//   minmax:     1 pass, O(n) time; O(1) memory.
//   percentile: 2 passes, O(n) each; B bins of memory; range() O(B).
//   mse:        2 passes, O(n) each; B bins; range() O(C * B), C candidate ranges
//               (symmetric: 512; asymmetric: 33 x 33 coarse + ~260 refinement).
//   entropy:    2 passes, O(n) each; B bins; range() O(B^2) (every threshold from the number of
//               levels up to B, each O(B)).
// range() recomputes on every call (nothing is cached), so call it once per tensor.
//
// Histograms: for a symmetric spec, and for entropy always, a histogram of |x| over
// [0, max|x|]; otherwise of x over [min, max]. Both from the pass-1 statistics.
//
// Methods:
//   minmax      [min, max].
//   percentile  P: asymmetric: lo = (100-P)th, hi = Pth percentile of x; symmetric: t = Pth
//               percentile of |x|, [-t, t]. Interpolated linearly within a bin.
//   mse         the range minimising the squared error of fake_quantize(x) (rounding inside,
//               clipping outside), x at the bin centres, on the grid actually used
//               (symmetric_grid(t, bits) or asymmetric_grid(lo, hi, bits, true)). Symmetric:
//               t = max|x| * k/512, k = 1..512. Asymmetric: with z the point of [min, max] nearest
//               0, lo = z + (min - z) * a, hi = z + (max - z) * b; a, b on a coarse grid k/32
//               (k = 0..32) jointly, then each refined alone to steps of 1/1024 within one coarse
//               step of the best (two rounds). Ties keep the wider range.
//   entropy     TensorRT's KL-divergence calibration (Migacz, "8-bit inference with TensorRT",
//               2017) on the |x| histogram: for each i from `levels` to B, P = bins[0..i) with
//               the outliers bins[i..B) added to P's last bin; Q = the unclipped bins[0..i)
//               merged into `levels` groups (the last group takes the remainder), each group's
//               sum spread evenly over the bins of the group where P is non-zero; the i with the
//               smallest KL(P || Q) gives t = (i + 0.5) * bin_width (the last such i on
//               ties). Exact zeros (e.g. Relu's) are left out of the histogram first: they are
//               exact on every grid, and their spike in bin 0 would otherwise penalise every
//               merge and drag the threshold down. Q is smoothed as
//               (1 - 1e-4) Q + 1e-4 uniform over P's support, so a clipped outlier whose group
//               is empty costs a finite amount. levels = 2^(bits-1) (symmetric, or asymmetric
//               data with both signs), 2^bits (asymmetric data of one sign, e.g. after Relu:
//               then the range is [min, t] or [-t, max]). levels >= B: t = max|x|.
//
// Whatever the method, range() is clamped to [min, max] (never wider than the data seen), so a
// symmetric spec's threshold is max(-lo, hi). Non-finite values (NaN, +-Inf) are skipped and
// counted by nan_count() (in pass 1 only). No data at all: min() = max() = 0, range [0, 0].
// Constant data gives [c, c]; all-zero data [0, 0] (grid.h handles a span of 0).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace qs::quant {

struct Range {
  float lo = 0, hi = 0;
};

enum class CalibMethod { minmax, percentile, mse, entropy };

struct CalibSpec {
  CalibMethod method = CalibMethod::minmax;
  double percentile = 99.99;  // for percentile; in (50, 100]
  int bits = 8;               // of the activation grid the range is for; 2..16
  bool symmetric = false;  // symmetric grid (signed, zero point 0) or asymmetric (codes 0..2^b-1)
};

// "minmax", "percentile" (99.99), "percentile:P" (50 < P <= 100), "mse", "entropy". Only the
// method (and P) come from the text; bits and symmetric keep their defaults. Throws qs::Error
// naming the bad text and the accepted forms.
CalibSpec parse_calibrator(const std::string& text);

// "minmax", "percentile:99.99", "mse", "entropy"; parse_calibrator(calibrator_name(s)) gives
// back s's method and percentile.
std::string calibrator_name(const CalibSpec& spec);

// One tensor's statistics over the calibration set. Not thread-safe; one per tensor.
class ActivationObserver {
 public:
  static constexpr std::size_t kBins = 2048;

  // Throws qs::Error for bits outside 2..16 or a percentile outside (50, 100].
  explicit ActivationObserver(CalibSpec spec);

  // Whether the method needs the second (histogram) pass: every method but minmax.
  bool needs_histogram() const;

  // Pass 1: min, max and the non-finite count.
  void observe_minmax(const float* data, std::size_t n);

  // Between the passes: fixes the histogram's range from pass 1 and clears it. Calling it again
  // starts the histogram over. A no-op for minmax.
  void begin_histogram();

  // Pass 2: every batch again. Values outside the pass-1 range go to the end bins. Throws
  // qs::Error before begin_histogram(). A no-op for minmax.
  void observe_histogram(const float* data, std::size_t n);

  // The calibrated range, within [min(), max()]. Throws qs::Error if the method needs the
  // histogram, data was seen, and begin_histogram() was not called.
  Range range() const;

  float min() const;  // 0 when nothing finite was seen
  float max() const;
  std::size_t nan_count() const { return nan_count_; }  // non-finite values skipped in pass 1
  std::size_t count() const { return count_; }          // finite values seen in pass 1
  const CalibSpec& spec() const { return spec_; }

 private:
  Range minmax_range() const;
  Range percentile_range() const;
  Range mse_range() const;
  Range entropy_range() const;
  bool abs_histogram() const;
  double max_abs() const;
  // Value below which a fraction q of the histogram's mass lies.
  double histogram_quantile(double q) const;

  CalibSpec spec_;
  float min_ = 0, max_ = 0;
  std::size_t count_ = 0;
  std::size_t nan_count_ = 0;
  bool histogram_begun_ = false;
  bool abs_ = false;      // histogram of |x| over [0, max|x|], else of x over [min, max]
  double hist_lo_ = 0;    // the histogram's range [hist_lo_, hist_lo_ + kBins * width_)
  double bin_width_ = 0;  // 0: degenerate range, every value in bin 0
  std::vector<std::uint64_t> bins_;
  std::uint64_t zeros_ = 0;  // exact zeros in the |x| histogram (in bin 0)
};

}  // namespace qs::quant
