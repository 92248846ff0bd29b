// Activation calibrators (quantscope/calibrator.h, the registry's built-ins) through the observer
// (quant/observer.h): each method against values computed here, the streaming protocol, NaNs and
// degenerate tensors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <charconv>

#include "quant/observer.h"
#include "quantscope/error.h"
#include "quantscope/quant_format.h"
#include "quantscope/registry.h"

using namespace qs;
using namespace qs::quant;

namespace {

// A calibrator by method, as the registry names it, and the grid it calibrates for.
enum class CalibMethod { minmax, percentile, mse, entropy };
struct CalibSpec {
  CalibMethod method = CalibMethod::minmax;
  double percentile = 99.99;
  int bits = 8;
  bool symmetric = false;
};

std::string text_of(const CalibSpec& s) {
  switch (s.method) {
    case CalibMethod::minmax:
      return "minmax";
    case CalibMethod::mse:
      return "mse";
    case CalibMethod::entropy:
      return "entropy";
    case CalibMethod::percentile: {
      char buf[64];
      const auto res = std::to_chars(buf, buf + sizeof buf, s.percentile);
      return "percentile:" + std::string(buf, res.ptr);
    }
  }
  return "";
}

ActivationObserver make_observer(const CalibSpec& s) {
  return ActivationObserver(builtin_registry().create_calibrator(text_of(s)),
                            GridTarget{s.bits, s.symmetric});
}

CalibSpec spec_of(CalibMethod method, bool symmetric, int bits = 8) {
  CalibSpec s;
  s.method = method;
  s.symmetric = symmetric;
  s.bits = bits;
  return s;
}

// Runs the two-pass protocol over `x` in batches of `batch` values (0: one batch).
ActivationObserver observe(const CalibSpec& spec, const std::vector<float>& x,
                           std::size_t batch = 0) {
  ActivationObserver obs = make_observer(spec);
  const std::size_t step = batch ? batch : std::max<std::size_t>(x.size(), 1);
  auto feed = [&](bool histogram) {
    for (std::size_t i = 0; i < x.size(); i += step) {
      const std::size_t n = std::min(step, x.size() - i);
      if (histogram)
        obs.observe_histogram(x.data() + i, n);
      else
        obs.observe_minmax(x.data() + i, n);
    }
  };
  feed(false);
  if (obs.needs_histogram()) {
    obs.begin_histogram();
    feed(true);
  }
  return obs;
}

Range calibrate(const CalibSpec& spec, const std::vector<float>& x, std::size_t batch = 0) {
  return observe(spec, x, batch).range();
}

// The grid a quantizer would build from the range.
Grid grid_of(const Range& r, int bits, bool symmetric) {
  return symmetric ? symmetric_grid(std::max(-r.lo, r.hi), bits)
                   : asymmetric_grid(r.lo, r.hi, bits, true);
}

double measured_mse(const std::vector<float>& x, const Grid& g) {
  double err = 0;
  for (float v : x) {
    const double d = static_cast<double>(fake_quantize(v, g)) - v;
    err += d * d;
  }
  return err / static_cast<double>(x.size());
}

std::vector<float> gaussian(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(n);
  for (float& v : x) v = dist(rng);
  return x;
}

std::vector<float> laplacian(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::exponential_distribution<float> dist(1.0f);
  std::bernoulli_distribution sign(0.5);
  std::vector<float> x(n);
  for (float& v : x) v = sign(rng) ? dist(rng) : -dist(rng);
  return x;
}

std::vector<float> uniform(std::size_t n, float lo, float hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> x(n);
  for (float& v : x) v = dist(rng);
  return x;
}

float max_abs_of(const std::vector<float>& x) {
  float m = 0;
  for (float v : x) m = std::max(m, std::fabs(v));
  return m;
}

// Linear-interpolated quantile of sorted values (numpy's default).
double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const std::size_t k = static_cast<std::size_t>(pos);
  if (k + 1 >= v.size()) return v.back();
  return v[k] + (pos - static_cast<double>(k)) * (v[k + 1] - v[k]);
}

const CalibMethod kMethods[] = {CalibMethod::minmax, CalibMethod::percentile, CalibMethod::mse,
                                CalibMethod::entropy};

}  // namespace

TEST(QuantObserver, MinmaxIsExact) {
  const std::vector<float> x = {-3.5f, 2.0f, 0.25f, 7.75f, -1.0f};
  for (bool symmetric : {false, true}) {
    ActivationObserver obs = observe(spec_of(CalibMethod::minmax, symmetric), x, 2);
    EXPECT_FALSE(obs.needs_histogram());
    EXPECT_EQ(obs.min(), -3.5f);
    EXPECT_EQ(obs.max(), 7.75f);
    EXPECT_EQ(obs.count(), 5u);
    EXPECT_EQ(obs.nan_count(), 0u);
    EXPECT_EQ(obs.range().lo, -3.5f);
    EXPECT_EQ(obs.range().hi, 7.75f);
  }
}

TEST(QuantObserver, PercentileOnARampIsWithinOneBin) {
  constexpr int kN = 100001;
  std::vector<float> ramp(kN);
  std::vector<double> ramp_d(kN), centred_abs(kN);
  for (int k = 0; k < kN; ++k) {
    ramp[k] = static_cast<float>(k);
    ramp_d[k] = k;
    centred_abs[k] = std::fabs(k - 50000.0);
  }
  // The ramp in a shuffled order: the histogram must not care.
  std::mt19937 rng(7);
  std::shuffle(ramp.begin(), ramp.end(), rng);

  for (double p : {99.99, 99.9, 99.0, 75.0}) {
    CalibSpec s = spec_of(CalibMethod::percentile, false);
    s.percentile = p;
    const double bin = 100000.0 / ActivationObserver::kBins;
    const Range r = calibrate(s, ramp);
    EXPECT_NEAR(r.hi, quantile(ramp_d, p / 100), bin) << p;
    EXPECT_NEAR(r.lo, quantile(ramp_d, 1 - p / 100), bin) << p;

    // Symmetric: the percentile of |x| on a ramp centred at 0.
    std::vector<float> centred(ramp);
    for (float& v : centred) v -= 50000.0f;
    s.symmetric = true;
    const double t = quantile(centred_abs, p / 100);
    const Range rs = calibrate(s, centred);
    EXPECT_NEAR(rs.hi, t, 50000.0 / ActivationObserver::kBins) << p;
    EXPECT_EQ(rs.lo, -rs.hi) << p;
  }

  // 100: the whole range.
  CalibSpec all = spec_of(CalibMethod::percentile, false);
  all.percentile = 100;
  const Range r = calibrate(all, ramp);
  EXPECT_EQ(r.lo, 0.0f);
  EXPECT_EQ(r.hi, 100000.0f);
}

TEST(QuantObserver, MseBeatsMinmaxAt4Bits) {
  struct Case {
    const char* name;
    std::vector<float> x;
  };
  const Case cases[] = {{"gaussian", gaussian(100000, 1)}, {"laplacian", laplacian(100000, 2)}};
  for (const Case& c : cases) {
    for (bool symmetric : {false, true}) {
      SCOPED_TRACE(std::string(c.name) + (symmetric ? " symmetric" : " asymmetric"));
      const Range mm = calibrate(spec_of(CalibMethod::minmax, symmetric, 4), c.x);
      const Range r = calibrate(spec_of(CalibMethod::mse, symmetric, 4), c.x);
      EXPECT_GE(r.lo, mm.lo);
      EXPECT_LE(r.hi, mm.hi);
      if (symmetric)
        EXPECT_LT(std::max(-r.lo, r.hi), 0.8f * max_abs_of(c.x));
      else
        EXPECT_LT(r.hi - r.lo, 0.8f * (mm.hi - mm.lo));
      const double mse = measured_mse(c.x, grid_of(r, 4, symmetric));
      const double mse_minmax = measured_mse(c.x, grid_of(mm, 4, symmetric));
      EXPECT_LT(mse, 0.5 * mse_minmax);

      // Near the best threshold a brute-force sweep on the samples themselves finds.
      if (symmetric) {
        double best = std::numeric_limits<double>::infinity();
        const float m = max_abs_of(c.x);
        for (int k = 1; k <= 200; ++k)
          best = std::min(best, measured_mse(c.x, symmetric_grid(m * k / 200, 4)));
        EXPECT_LT(mse, 1.02 * best);
      }
    }
  }
}

TEST(QuantObserver, EntropyClipsOutliers) {
  std::vector<float> x = gaussian(100000, 3);
  const float body = max_abs_of(x);
  for (float v : {100.0f, -100.0f, 99.0f, 98.5f, -97.0f}) x.push_back(v);

  const Range r = calibrate(spec_of(CalibMethod::entropy, true), x);
  EXPECT_EQ(r.lo, -r.hi);
  EXPECT_LT(r.hi, 0.25f * 100.0f);  // well below the outliers
  EXPECT_GT(r.hi, 0.5f * body);     // but not into the Gaussian

  // Asymmetric data with both signs: the symmetric threshold, clamped to [min, max].
  const Range ra = calibrate(spec_of(CalibMethod::entropy, false), x);
  EXPECT_EQ(ra.lo, -r.hi);
  EXPECT_EQ(ra.hi, r.hi);

  // One sign (after Relu): 256 levels on x, lo = min.
  std::vector<float> relu;
  for (float v : x) relu.push_back(std::fabs(v));
  const Range rr = calibrate(spec_of(CalibMethod::entropy, false), relu);
  EXPECT_EQ(rr.lo, *std::min_element(relu.begin(), relu.end()));
  EXPECT_LT(rr.hi, 0.25f * 100.0f);
  EXPECT_GT(rr.hi, 0.5f * body);
}

TEST(QuantObserver, EntropyIsNotDraggedDownByReluZeros) {
  // Half the values exactly 0: the spike must not pull the threshold below the symmetric one.
  const std::vector<float> x = gaussian(100000, 11);
  std::vector<float> relu;
  for (float v : x) relu.push_back(std::max(v, 0.0f));
  const Range sym = calibrate(spec_of(CalibMethod::entropy, true), x);
  const Range r = calibrate(spec_of(CalibMethod::entropy, false), relu);
  EXPECT_EQ(r.lo, 0.0f);
  EXPECT_GT(r.hi, 0.8f * sym.hi);
  EXPECT_GT(r.hi, 3.0f);
}

TEST(QuantObserver, EntropyKeepsTheRangeOfUniformData) {
  const std::vector<float> x = uniform(1 << 18, -1.0f, 1.0f, 4);
  const float m = max_abs_of(x);
  const Range r = calibrate(spec_of(CalibMethod::entropy, true), x);
  EXPECT_GT(r.hi, 0.95f * m);
  EXPECT_LE(r.hi, m);

  const std::vector<float> pos = uniform(1 << 18, 0.0f, 3.0f, 5);
  const Range rp = calibrate(spec_of(CalibMethod::entropy, false), pos);
  EXPECT_EQ(rp.lo, *std::min_element(pos.begin(), pos.end()));
  EXPECT_GT(rp.hi, 0.95f * max_abs_of(pos));
}

TEST(QuantObserver, EntropyAt16BitsIsTheFullRange) {
  std::vector<float> x = gaussian(20000, 6);
  x.push_back(50.0f);
  x.push_back(-40.0f);
  for (bool symmetric : {false, true}) {
    const Range r = calibrate(spec_of(CalibMethod::entropy, symmetric, 16), x);
    EXPECT_EQ(r.hi, 50.0f);
    EXPECT_EQ(r.lo, -40.0f);  // clamped to min
  }
}

TEST(QuantObserver, NamesRoundTripAndBadTextIsRejected) {
  const Registry& r = builtin_registry();
  EXPECT_EQ(r.calibrator_names(),
            (std::vector<std::string>{"minmax", "percentile", "mse", "entropy"}));
  EXPECT_EQ(r.create_calibrator("percentile")->text(), "percentile:99.99");
  for (const char* text : {"minmax", "percentile:99.9", "percentile:99.999", "percentile:100",
                           "percentile:50.5", "mse", "entropy"}) {
    EXPECT_EQ(r.create_calibrator(text)->text(), text);
    EXPECT_EQ(r.create_calibrator(r.create_calibrator(text)->text())->text(), text);
  }
  EXPECT_TRUE(r.create_calibrator("percentile:99.9")->needs_histogram());
  EXPECT_FALSE(r.create_calibrator("minmax")->needs_histogram());

  // Unknown names list the known ones; bad parameters name the text and what is accepted.
  for (const char* bad : {"foo", "MINMAX", ""}) {
    try {
      r.create_calibrator(bad);
      ADD_FAILURE() << "accepted \"" << bad << "\"";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("\"" + std::string(bad) + "\""), std::string::npos) << what;
      for (const char* name : {"minmax", "percentile", "mse", "entropy"})
        EXPECT_NE(what.find(name), std::string::npos) << what;
    }
  }
  for (const char* bad :
       {"percentile:0", "percentile:abc", "percentile:", "percentile:50", "percentile:100.5",
        "percentile:99.9x", "percentile:nan", "mse:3", "minmax:x"}) {
    try {
      r.create_calibrator(bad);
      ADD_FAILURE() << "accepted \"" << bad << "\"";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("\"" + std::string(bad) + "\""), std::string::npos)
          << e.what();
    }
  }
}

TEST(QuantObserver, StreamingInBatchesMatchesOneBatch) {
  std::vector<float> x = laplacian(10007, 8);
  for (float& v : x) v = v > 0 ? v : 0.1f * v;  // skewed, both signs
  for (CalibMethod method : kMethods) {
    for (bool symmetric : {false, true}) {
      for (int bits : {4, 8}) {
        const CalibSpec s = spec_of(method, symmetric, bits);
        SCOPED_TRACE(text_of(s) + (symmetric ? " symmetric " : " asymmetric ") +
                     std::to_string(bits));
        const Range one = calibrate(s, x);
        for (std::size_t batch : {1000, 333, 1}) {
          const Range many = calibrate(s, x, batch);
          EXPECT_EQ(many.lo, one.lo);
          EXPECT_EQ(many.hi, one.hi);
        }
      }
    }
  }
}

TEST(QuantObserver, NonFiniteValuesAreSkippedAndCounted) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> clean = gaussian(5000, 9);
  std::vector<float> dirty;
  for (std::size_t i = 0; i < clean.size(); ++i) {
    if (i % 100 == 0) dirty.push_back(nan);
    if (i % 1000 == 0) dirty.push_back(i % 2000 ? inf : -inf);
    dirty.push_back(clean[i]);
  }
  for (CalibMethod method : kMethods) {
    for (bool symmetric : {false, true}) {
      const CalibSpec s = spec_of(method, symmetric);
      SCOPED_TRACE(text_of(s) + (symmetric ? " symmetric" : " asymmetric"));
      const ActivationObserver obs = observe(s, dirty, 64);
      EXPECT_EQ(obs.nan_count(), 55u);
      EXPECT_EQ(obs.count(), clean.size());
      EXPECT_EQ(obs.min(), *std::min_element(clean.begin(), clean.end()));
      EXPECT_EQ(obs.max(), *std::max_element(clean.begin(), clean.end()));
      const Range r = obs.range();
      const Range want = calibrate(s, clean);
      EXPECT_EQ(r.lo, want.lo);
      EXPECT_EQ(r.hi, want.hi);
    }
  }

  // Nothing but NaNs: an empty range.
  const std::vector<float> nans(10, nan);
  for (CalibMethod method : kMethods) {
    const ActivationObserver obs = observe(spec_of(method, false), nans);
    EXPECT_EQ(obs.nan_count(), 10u);
    EXPECT_EQ(obs.range().lo, 0.0f);
    EXPECT_EQ(obs.range().hi, 0.0f);
  }
}

TEST(QuantObserver, DegenerateTensorsGiveValidRanges) {
  const std::vector<std::vector<float>> tensors = {{},
                                                   {0.0f},
                                                   {2.5f},
                                                   {-1.5f},
                                                   std::vector<float>(1000, 0.0f),
                                                   std::vector<float>(1000, 3.0f),
                                                   std::vector<float>(1000, -0.75f)};
  for (const std::vector<float>& x : tensors) {
    for (CalibMethod method : kMethods) {
      for (bool symmetric : {false, true}) {
        for (int bits : {2, 4, 8, 16}) {
          const CalibSpec s = spec_of(method, symmetric, bits);
          SCOPED_TRACE(text_of(s) + " n=" + std::to_string(x.size()));
          const Range r = calibrate(s, x);
          const float c = x.empty() ? 0.0f : x[0];
          EXPECT_EQ(r.lo, c);
          EXPECT_EQ(r.hi, c);
          const Grid g = grid_of(r, bits, symmetric);
          EXPECT_TRUE(std::isfinite(g.scale) && g.scale > 0);
          EXPECT_TRUE(std::isfinite(fake_quantize(c, g)));
        }
      }
    }
  }
}

TEST(QuantObserver, RangesStayWithinTheDataSeen) {
  // One-sided data under symmetric specs and vice versa.
  std::vector<float> pos = gaussian(20000, 10);
  for (float& v : pos) v = std::fabs(v) + 0.5f;
  std::vector<float> neg(pos);
  for (float& v : neg) v = -v;
  for (const std::vector<float>* x : {&pos, &neg}) {
    const float mn = *std::min_element(x->begin(), x->end());
    const float mx = *std::max_element(x->begin(), x->end());
    for (CalibMethod method : kMethods) {
      for (bool symmetric : {false, true}) {
        const CalibSpec s = spec_of(method, symmetric, 4);
        SCOPED_TRACE(text_of(s) + (symmetric ? " symmetric" : " asymmetric"));
        const Range r = calibrate(s, *x);
        EXPECT_GE(r.lo, mn);
        EXPECT_LE(r.hi, mx);
        EXPECT_LE(r.lo, r.hi);
      }
    }
  }
}

TEST(QuantObserver, ProtocolErrors) {
  const float x[] = {1.0f, -2.0f};
  ActivationObserver obs = make_observer(spec_of(CalibMethod::mse, false));
  obs.observe_minmax(x, 2);
  EXPECT_THROW(obs.observe_histogram(x, 2), Error);
  EXPECT_THROW(obs.range(), Error);
  obs.begin_histogram();
  obs.observe_histogram(x, 2);
  EXPECT_NO_THROW(obs.range());

  CalibSpec bad_bits = spec_of(CalibMethod::minmax, false, 1);
  EXPECT_THROW(make_observer(bad_bits), Error);
  CalibSpec bad_p = spec_of(CalibMethod::percentile, false);
  bad_p.percentile = 40;
  EXPECT_THROW(make_observer(bad_p), Error);
}
