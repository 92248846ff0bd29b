// entropy: TensorRT's KL-divergence calibration (Migacz, "8-bit inference with TensorRT", 2017)
// on the |x| histogram: for each i from `levels` to kBins, P = bins[0..i) with the outliers
// bins[i..) added to P's last bin; Q = the unclipped bins[0..i) merged into `levels` groups (the
// last group takes the remainder), each group's sum spread evenly over the bins of the group
// where P is non-zero; the i with the smallest KL(P || Q) gives t = (i + 0.5) * bin_width (the
// last such i on ties). Exact zeros (Relu's) are left out first: they are exact on every grid,
// and their spike in bin 0 would penalise every merge and drag the threshold down. Q is smoothed
// as (1 - 1e-4) Q + 1e-4 uniform over P's support, so a clipped outlier whose group is empty
// costs a finite amount. levels = 2^(bits-1) (symmetric, or data of both signs), 2^bits (data of
// one sign, e.g. after Relu: then the range is [min, t] or [-t, max]); levels >= kBins: max|x|.
// Two passes; range() O(kBins^2).
#include <algorithm>
#include <cmath>
#include <limits>

#include "quant/calibrators/calibrators.h"

namespace qs::calibrators {

namespace {

class Entropy : public Calibrator {
 public:
  std::string text() const override { return "entropy"; }
  bool needs_histogram() const override { return true; }
  bool abs_histogram(const GridTarget&) const override { return true; }
  ClipRange range(const TensorStatistics& s, const GridTarget& target) const override {
    constexpr std::size_t kBins = TensorStatistics::kBins;
    const double m = s.max_abs();  // the |x| histogram spans [0, m]
    const bool nonneg = !target.symmetric && s.min >= 0;
    const bool nonpos = !target.symmetric && s.max <= 0;
    const int level_bits = (nonneg || nonpos) ? target.bits : target.bits - 1;
    const std::size_t levels = std::size_t{1} << level_bits;

    double t = m;
    if (levels < kBins) {
      // Exact zeros (Relu's) are exact on every candidate grid: leave them out, or their spike in
      // bin 0 would make every merge look costly and push the threshold down.
      std::vector<double> h(kBins);
      for (std::size_t k = 0; k < kBins; ++k) h[k] = static_cast<double>(s.bins[k]);
      h[0] -= static_cast<double>(s.zeros);
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
      t = std::min(m, (static_cast<double>(best_i) + 0.5) * s.bin_width);
    }
    const float tf = static_cast<float>(t);
    if (nonneg) return {s.min, tf};
    if (nonpos) return {-tf, s.max};
    return {-tf, tf};
  }
};

}  // namespace

std::unique_ptr<Calibrator> make_entropy(const std::string& parameter) {
  no_parameter("entropy", parameter);
  return std::make_unique<Entropy>();
}

}  // namespace qs::calibrators
