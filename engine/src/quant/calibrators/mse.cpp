// mse: the range minimising the squared error of fake_quantize(x) (rounding inside, clipping
// outside), x at the histogram's bin centres, on the grid actually used. Symmetric:
// t = max|x| * k/512, k = 1..512. Asymmetric: with z the point of [min, max] nearest 0,
// lo = z + (min - z) * a, hi = z + (max - z) * b; a, b on a coarse grid k/32 (k = 0..32)
// jointly, then each refined alone to steps of 1/1024 within one coarse step of the best (two
// rounds). Ties keep the wider range. Two passes; range() O(C * kBins) for C candidates.
#include <algorithm>
#include <utility>

#include "quant/calibrators/calibrators.h"
#include "quantscope/quant_format.h"

namespace qs::calibrators {

namespace {

// Each bin's mass at its centre.
struct BinMass {
  float centre;
  double count;
};

double histogram_error(const std::vector<BinMass>& mass, const quant::Grid& g) {
  double err = 0;
  for (const BinMass& m : mass) {
    const double d = static_cast<double>(quant::fake_quantize(m.centre, g)) - m.centre;
    err += m.count * d * d;
  }
  return err;
}

class Mse : public Calibrator {
 public:
  std::string text() const override { return "mse"; }
  bool needs_histogram() const override { return true; }
  ClipRange range(const TensorStatistics& s, const GridTarget& target) const override {
    std::vector<BinMass> mass;
    for (std::size_t b = 0; b < TensorStatistics::kBins; ++b)
      if (s.bins[b])
        mass.push_back({static_cast<float>(s.lo + (static_cast<double>(b) + 0.5) * s.bin_width),
                        static_cast<double>(s.bins[b])});
    return s.abs ? symmetric(s, mass, target.bits) : asymmetric(s, mass, target.bits);
  }

 private:
  // The error of a symmetric grid is even in x, so the |x| histogram suffices.
  static ClipRange symmetric(const TensorStatistics& s, const std::vector<BinMass>& mass,
                             int bits) {
    constexpr int kSteps = 512;
    const double m = s.max_abs();
    float best_t = static_cast<float>(m);
    double best_err = histogram_error(mass, quant::symmetric_grid(best_t, bits));
    for (int k = kSteps - 1; k >= 1; --k) {
      const float t = static_cast<float>(m * k / kSteps);
      const double err = histogram_error(mass, quant::symmetric_grid(t, bits));
      if (err < best_err) {
        best_err = err;
        best_t = t;
      }
    }
    return {-best_t, best_t};
  }

  // Each end shrinks towards z; factors in units of 1/kFine.
  static ClipRange asymmetric(const TensorStatistics& s, const std::vector<BinMass>& mass,
                              int bits) {
    constexpr int kFine = 1024;
    constexpr int kCoarse = 32;
    constexpr int kStep = kFine / kCoarse;
    const double mn = s.min, mx = s.max;
    const double z = std::clamp(0.0, mn, mx);
    auto bounds = [&](int a, int b) {
      return std::pair<float, float>(static_cast<float>(z + (mn - z) * a / kFine),
                                     static_cast<float>(z + (mx - z) * b / kFine));
    };
    auto error = [&](int a, int b) {
      const auto [lo, hi] = bounds(a, b);
      return histogram_error(mass, quant::asymmetric_grid(lo, hi, bits, true));
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
};

}  // namespace

std::unique_ptr<Calibrator> make_mse(const std::string& parameter) {
  no_parameter("mse", parameter);
  return std::make_unique<Mse>();
}

}  // namespace qs::calibrators
