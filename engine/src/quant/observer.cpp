// Activation calibrators; the methods and their costs are described in observer.h.
#include "quant/observer.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>
#include <utility>

#include "quantscope/error.h"
#include "quantscope/quant_format.h"

namespace qs::quant {

namespace {

constexpr const char* kAccepted =
    "accepted: minmax, percentile (99.99), percentile:P with 50 < P <= 100, mse, entropy";

bool valid_percentile(double p) {
  return std::isfinite(p) && p > 50.0 && p <= 100.0;
}

// Squared fake-quantization error of a histogram, each bin's mass at its centre.
struct BinMass {
  float centre;
  double count;
};

double histogram_error(const std::vector<BinMass>& mass, const Grid& g) {
  double err = 0;
  for (const BinMass& m : mass) {
    const double d = static_cast<double>(fake_quantize(m.centre, g)) - m.centre;
    err += m.count * d * d;
  }
  return err;
}

}  // namespace

CalibSpec parse_calibrator(const std::string& text) {
  CalibSpec spec;
  static const std::string kPrefix = "percentile:";
  if (text == "minmax") {
    spec.method = CalibMethod::minmax;
  } else if (text == "percentile") {
    spec.method = CalibMethod::percentile;
  } else if (text == "mse") {
    spec.method = CalibMethod::mse;
  } else if (text == "entropy") {
    spec.method = CalibMethod::entropy;
  } else if (text.compare(0, kPrefix.size(), kPrefix) == 0) {
    const char* first = text.data() + kPrefix.size();
    const char* last = text.data() + text.size();
    double p = 0;
    const auto [ptr, ec] = std::from_chars(first, last, p);
    if (first == last || ec != std::errc() || ptr != last || !valid_percentile(p))
      throw Error("calibrator \"" + text + "\": the percentile must be a number in (50, 100]; " +
                  kAccepted);
    spec.method = CalibMethod::percentile;
    spec.percentile = p;
  } else {
    throw Error("unknown calibrator \"" + text + "\"; " + kAccepted);
  }
  return spec;
}

std::string calibrator_name(const CalibSpec& spec) {
  switch (spec.method) {
    case CalibMethod::minmax:
      return "minmax";
    case CalibMethod::percentile: {
      char buf[64];
      const auto res = std::to_chars(buf, buf + sizeof buf, spec.percentile);  // shortest exact
      return "percentile:" + std::string(buf, res.ptr);
    }
    case CalibMethod::mse:
      return "mse";
    case CalibMethod::entropy:
      return "entropy";
  }
  return "unknown";
}

ActivationObserver::ActivationObserver(CalibSpec spec) : spec_(spec) {
  if (spec_.bits < 2 || spec_.bits > 16)
    throw Error("calibrator " + calibrator_name(spec_) + ": bits must be 2..16, got " +
                std::to_string(spec_.bits));
  if (spec_.method == CalibMethod::percentile && !valid_percentile(spec_.percentile))
    throw Error("calibrator " + calibrator_name(spec_) + ": the percentile must be in (50, 100]");
}

bool ActivationObserver::needs_histogram() const {
  return spec_.method != CalibMethod::minmax;
}

bool ActivationObserver::abs_histogram() const {
  return spec_.symmetric || spec_.method == CalibMethod::entropy;
}

double ActivationObserver::max_abs() const {
  return std::max(std::fabs(static_cast<double>(min_)), std::fabs(static_cast<double>(max_)));
}

float ActivationObserver::min() const {
  return min_;
}
float ActivationObserver::max() const {
  return max_;
}

void ActivationObserver::observe_minmax(const float* data, std::size_t n) {
  float lo = count_ ? min_ : std::numeric_limits<float>::infinity();
  float hi = count_ ? max_ : -std::numeric_limits<float>::infinity();
  std::size_t finite = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const float x = data[i];
    if (!std::isfinite(x)) continue;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
    ++finite;
  }
  if (finite) {
    min_ = lo;
    max_ = hi;
  }
  count_ += finite;
  nan_count_ += n - finite;
}

void ActivationObserver::begin_histogram() {
  if (!needs_histogram()) return;
  abs_ = abs_histogram();
  double lo = 0, hi = 0;
  if (count_) {
    lo = abs_ ? 0.0 : static_cast<double>(min_);
    hi = abs_ ? max_abs() : static_cast<double>(max_);
  }
  hist_lo_ = lo;
  bin_width_ = hi > lo ? (hi - lo) / static_cast<double>(kBins) : 0.0;
  bins_.assign(kBins, 0);
  zeros_ = 0;
  histogram_begun_ = true;
}

void ActivationObserver::observe_histogram(const float* data, std::size_t n) {
  if (!needs_histogram()) return;
  if (!histogram_begun_)
    throw Error("calibrator " + calibrator_name(spec_) +
                ": observe_histogram() before begin_histogram()");
  const double inv = bin_width_ > 0 ? 1.0 / bin_width_ : 0.0;
  const double last = static_cast<double>(kBins - 1);
  for (std::size_t i = 0; i < n; ++i) {
    const float x = data[i];
    if (!std::isfinite(x)) continue;
    const double v = abs_ ? std::fabs(static_cast<double>(x)) : static_cast<double>(x);
    const double pos = (v - hist_lo_) * inv;
    const std::size_t b = pos <= 0 ? 0 : pos >= last ? kBins - 1 : static_cast<std::size_t>(pos);
    ++bins_[b];
    zeros_ += v == 0;
  }
}

Range ActivationObserver::range() const {
  if (count_ == 0) return {};
  if (needs_histogram() && !histogram_begun_)
    throw Error("calibrator " + calibrator_name(spec_) +
                ": range() needs the histogram pass (begin_histogram(), observe_histogram())");
  Range r;
  if (spec_.method == CalibMethod::minmax || min_ == max_ || bin_width_ <= 0) {
    r = minmax_range();
  } else if (spec_.method == CalibMethod::percentile) {
    r = percentile_range();
  } else if (spec_.method == CalibMethod::mse) {
    r = mse_range();
  } else {
    r = entropy_range();
  }
  // Never wider than the data seen (also absorbs float rounding of the thresholds).
  r.lo = std::clamp(r.lo, min_, max_);
  r.hi = std::clamp(r.hi, min_, max_);
  if (r.hi < r.lo) r.hi = r.lo;
  return r;
}

Range ActivationObserver::minmax_range() const {
  return {min_, max_};
}

double ActivationObserver::histogram_quantile(double q) const {
  double total = 0;
  for (std::uint64_t c : bins_) total += static_cast<double>(c);
  const double target = q * total;
  if (target <= 0) return hist_lo_;
  double cum = 0;
  for (std::size_t b = 0; b < kBins; ++b) {
    const double c = static_cast<double>(bins_[b]);
    if (c == 0) continue;
    if (cum + c >= target) {
      const double frac = std::clamp((target - cum) / c, 0.0, 1.0);
      return hist_lo_ + (static_cast<double>(b) + frac) * bin_width_;
    }
    cum += c;
  }
  return hist_lo_ + static_cast<double>(kBins) * bin_width_;
}

Range ActivationObserver::percentile_range() const {
  const double p = spec_.percentile / 100.0;
  if (abs_) {
    const float t = static_cast<float>(histogram_quantile(p));
    return {-t, t};
  }
  return {static_cast<float>(histogram_quantile(1.0 - p)),
          static_cast<float>(histogram_quantile(p))};
}

Range ActivationObserver::mse_range() const {
  std::vector<BinMass> mass;
  for (std::size_t b = 0; b < kBins; ++b)
    if (bins_[b])
      mass.push_back({static_cast<float>(hist_lo_ + (static_cast<double>(b) + 0.5) * bin_width_),
                      static_cast<double>(bins_[b])});
  const int bits = spec_.bits;

  if (abs_) {  // symmetric: the error of a symmetric grid is even in x, so |x| suffices
    constexpr int kSteps = 512;
    const double m = max_abs();
    float best_t = static_cast<float>(m);
    double best_err = histogram_error(mass, symmetric_grid(best_t, bits));
    for (int k = kSteps - 1; k >= 1; --k) {
      const float t = static_cast<float>(m * k / kSteps);
      const double err = histogram_error(mass, symmetric_grid(t, bits));
      if (err < best_err) {
        best_err = err;
        best_t = t;
      }
    }
    return {-best_t, best_t};
  }

  // Asymmetric: shrink each end towards z, the point of [min, max] nearest 0. Factors in units
  // of 1/kFine: a coarse joint search on multiples of kFine/kCoarse, then each end alone.
  constexpr int kFine = 1024;
  constexpr int kCoarse = 32;
  constexpr int kStep = kFine / kCoarse;
  const double mn = min_, mx = max_;
  const double z = std::clamp(0.0, mn, mx);
  auto bounds = [&](int a, int b) {
    return std::pair<float, float>(static_cast<float>(z + (mn - z) * a / kFine),
                                   static_cast<float>(z + (mx - z) * b / kFine));
  };
  auto error = [&](int a, int b) {
    const auto [lo, hi] = bounds(a, b);
    return histogram_error(mass, asymmetric_grid(lo, hi, bits, true));
  };
  const bool move_lo = mn<z, move_hi = mx> z;
  int best_a = kFine, best_b = kFine;
  double best_err = error(best_a, best_b);
  auto consider = [&](int a, int b) {
    const double err = error(a, b);
    if (err < best_err) {
      best_err = err;
      best_a = a;
      best_b = b;
    }
  };
  for (int a = kFine; a >= (move_lo ? 0 : kFine); a -= kStep)
    for (int b = kFine; b >= (move_hi ? 0 : kFine); b -= kStep)
      if (a != kFine || b != kFine) consider(a, b);
  for (int round = 0; round < 2; ++round) {
    if (move_hi) {
      const int a = best_a, centre = best_b;
      for (int b = std::min(kFine, centre + kStep); b >= std::max(0, centre - kStep); --b)
        if (b != centre) consider(a, b);
    }
    if (move_lo) {
      const int b = best_b, centre = best_a;
      for (int a = std::min(kFine, centre + kStep); a >= std::max(0, centre - kStep); --a)
        if (a != centre) consider(a, b);
    }
  }
  const auto [lo, hi] = bounds(best_a, best_b);
  return {lo, hi};
}

Range ActivationObserver::entropy_range() const {
  const double m = max_abs();  // the |x| histogram spans [0, m]
  const bool nonneg = !spec_.symmetric && min_ >= 0;
  const bool nonpos = !spec_.symmetric && max_ <= 0;
  const int level_bits = (nonneg || nonpos) ? spec_.bits : spec_.bits - 1;
  const std::size_t levels = std::size_t{1} << level_bits;

  double t = m;
  if (levels < kBins) {
    // Exact zeros (Relu's) are exact on every candidate grid: leave them out, or their spike in
    // bin 0 would make every merge look costly and push the threshold down.
    std::vector<double> h(kBins);
    for (std::size_t k = 0; k < kBins; ++k) h[k] = static_cast<double>(bins_[k]);
    h[0] -= static_cast<double>(zeros_);
    std::vector<double> prefix(kBins + 1, 0.0);
    for (std::size_t k = 0; k < kBins; ++k) prefix[k + 1] = prefix[k] + h[k];
    const double total = prefix[kBins];
    constexpr double kSmooth = 1e-4;  // weight of the uniform distribution mixed into Q
    std::vector<double> q(kBins);
    double best_kl = std::numeric_limits<double>::infinity();
    std::size_t best_i = kBins;
    for (std::size_t i = levels; i <= kBins; ++i) {
      const double outliers = total - prefix[i];
      auto p_at = [&](std::size_t k) { return h[k] + (k == i - 1 ? outliers : 0.0); };
      // Q: the unclipped bins[0..i) merged into `levels` groups, spread over P's support.
      const std::size_t group = i / levels;
      std::size_t support = 0;
      for (std::size_t j = 0; j < levels; ++j) {
        const std::size_t start = j * group;
        const std::size_t stop = j + 1 == levels ? i : start + group;
        std::size_t nonzero = 0;
        for (std::size_t k = start; k < stop; ++k) nonzero += p_at(k) > 0;
        const double share =
            nonzero ? (prefix[stop] - prefix[start]) / static_cast<double>(nonzero) : 0.0;
        for (std::size_t k = start; k < stop; ++k) q[k] = p_at(k) > 0 ? share : 0.0;
        support += nonzero;
      }
      if (support == 0) continue;
      const double q_total = prefix[i];
      const double uniform = 1.0 / static_cast<double>(support);
      double kl = 0;
      for (std::size_t k = 0; k < i; ++k) {
        const double p = p_at(k) / total;
        if (p <= 0) continue;
        const double qk =
            q_total > 0 ? (1.0 - kSmooth) * q[k] / q_total + kSmooth * uniform : uniform;
        kl += p * std::log(p / qk);
      }
      if (kl <= best_kl) {  // ties: the wider threshold
        best_kl = kl;
        best_i = i;
      }
    }
    t = std::min(m, (static_cast<double>(best_i) + 0.5) * bin_width_);
  }
  const float tf = static_cast<float>(t);
  if (nonneg) return {min_, tf};
  if (nonpos) return {-tf, max_};
  return {-tf, tf};
}

}  // namespace qs::quant
