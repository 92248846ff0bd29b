// percentile:P: asymmetric grids clip at the (100-P)th and Pth percentiles of x; symmetric ones
// at t = the Pth percentile of |x|, [-t, t]. Interpolated linearly within a histogram bin. Two
// passes; the histogram's kBins bins.
#include <charconv>
#include <cmath>
#include <system_error>

#include "quant/calibrators/calibrators.h"
#include "quantscope/error.h"

namespace qs::calibrators {

namespace {

class Percentile : public Calibrator {
 public:
  explicit Percentile(double p) : p_(p) {}
  std::string text() const override {
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof buf, p_);  // shortest exact
    return "percentile:" + std::string(buf, res.ptr);
  }
  bool needs_histogram() const override { return true; }
  ClipRange range(const TensorStatistics& s, const GridTarget&) const override {
    const double q = p_ / 100.0;
    if (s.abs) {
      const float t = static_cast<float>(s.quantile(q));
      return {-t, t};
    }
    return {static_cast<float>(s.quantile(1.0 - q)), static_cast<float>(s.quantile(q))};
  }

 private:
  double p_;
};

}  // namespace

std::unique_ptr<Calibrator> make_percentile(const std::string& parameter) {
  double p = 99.99;
  if (!parameter.empty()) {
    const char* first = parameter.data();
    const char* last = first + parameter.size();
    const auto [ptr, ec] = std::from_chars(first, last, p);
    if (ec != std::errc() || ptr != last || !std::isfinite(p) || p <= 50.0 || p > 100.0)
      throw Error("calibrator \"percentile:" + parameter +
                  "\": the percentile must be a number in (50, 100]");
  }
  return std::make_unique<Percentile>(p);
}

}  // namespace qs::calibrators
