// minmax: the range of the values seen, [min, max]. One pass, O(1) memory.
#include "quant/calibrators/calibrators.h"
#include "quantscope/error.h"

namespace qs::calibrators {

namespace {

class MinMax : public Calibrator {
 public:
  std::string text() const override { return "minmax"; }
  bool needs_histogram() const override { return false; }
  ClipRange range(const TensorStatistics& s, const GridTarget&) const override {
    return {s.min, s.max};
  }
};

}  // namespace

void no_parameter(const std::string& name, const std::string& parameter) {
  if (!parameter.empty())
    throw Error("calibrator \"" + name + ":" + parameter + "\": " + name + " takes no parameter");
}

std::unique_ptr<Calibrator> make_minmax(const std::string& parameter) {
  no_parameter("minmax", parameter);
  return std::make_unique<MinMax>();
}

}  // namespace qs::calibrators
