// GPTQ (Frantar et al. 2022): columns rounded in turn, each one's error fed back to the columns
// not yet rounded through the inverse of the inputs' Hessian (quant/gptq.cpp). Parameters:
// "gptq:damp=D" (dampening, a fraction of mean(diag H); default 0.01) and "order=act|natural"
// (columns by decreasing diag H, the default, or as they come), comma-separated.
#include <sstream>

#include "quant/weight_quant.h"
#include "quantscope/error.h"
#include "roundings.h"

namespace qs::roundings {

namespace {

constexpr double kDefaultDamp = 0.01;

class Gptq : public Rounding {
 public:
  Gptq(double damp, bool act_order) : damp_(damp), act_order_(act_order) {}
  std::string text() const override {
    std::string t = "gptq";
    std::string params;
    if (damp_ != kDefaultDamp) {
      std::ostringstream d;
      d << damp_;
      params += "damp=" + d.str();
    }
    if (!act_order_) params += std::string(params.empty() ? "" : ",") + "order=natural";
    return params.empty() ? t : t + ":" + params;
  }
  bool needs_hessian() const override { return true; }
  quant::QuantizedMatrix round(const RoundingInput& in) const override {
    if (!in.hessian) throw Error("GPTQ needs the layer's input Hessian");
    return quant::quantize_gptq(in.weights, in.rows, in.cols, *in.hessian, in.spec,
                                quant::GptqOptions{damp_, 128, act_order_}, in.job);
  }

 private:
  double damp_;
  bool act_order_;
};

}  // namespace

std::unique_ptr<Rounding> make_gptq(const std::string& parameter) {
  double damp = kDefaultDamp;
  bool act_order = true;
  std::istringstream items(parameter);
  std::string item;
  while (std::getline(items, item, ',')) {
    const std::size_t eq = item.find('=');
    const std::string key = item.substr(0, eq),
                      value = eq == std::string::npos ? "" : item.substr(eq + 1);
    if (key == "damp") {
      std::size_t used = 0;
      try {
        damp = std::stod(value, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != value.size() || !(damp > 0 && damp < 1))
        throw Error("rounding \"gptq\": damp takes a number between 0 and 1, got '" + value + "'");
    } else if (key == "order" && (value == "act" || value == "natural")) {
      act_order = value == "act";
    } else {
      throw Error("rounding \"gptq\": unknown parameter '" + item +
                  "' (damp=D between 0 and 1, order=act or natural)");
    }
  }
  return std::make_unique<Gptq>(damp, act_order);
}

}  // namespace qs::roundings
