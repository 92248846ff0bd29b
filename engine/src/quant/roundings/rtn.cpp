// Round to nearest: each weight to the nearest code of its grid.
#include "quantscope/error.h"
#include "roundings.h"

namespace qs::roundings {

namespace {

class Rtn : public Rounding {
 public:
  std::string text() const override { return "rtn"; }
  quant::QuantizedMatrix round(const RoundingInput& in) const override {
    return quant::quantize_rtn(in.weights, in.rows, in.cols, in.spec);
  }
};

}  // namespace

std::unique_ptr<Rounding> make_rtn(const std::string& parameter) {
  if (!parameter.empty())
    throw Error("rounding \"rtn\" takes no parameter, got '" + parameter + "'");
  return std::make_unique<Rtn>();
}

}  // namespace qs::roundings
