// Unary math ops.
#include <cmath>
#include <cstdlib>

#include "runtime/kernels/kernels.h"
#include "runtime/kernels/unary_util.h"

namespace qs::kernels {

void sqrt(KernelContext& c) {
  unary_float(c, [](float x) { return std::sqrt(x); });
}
void erf(KernelContext& c) {
  unary_float(c, [](float x) { return std::erf(x); });
}
void exp(KernelContext& c) {
  unary_float(c, [](float x) { return std::exp(x); });
}
void log(KernelContext& c) {
  unary_float(c, [](float x) { return std::log(x); });
}
void reciprocal(KernelContext& c) {
  unary_float(c, [](float x) { return 1.0f / x; });
}
void floor(KernelContext& c) {
  unary_float(c, [](float x) { return std::floor(x); });
}
void ceil(KernelContext& c) {
  unary_float(c, [](float x) { return std::ceil(x); });
}

void neg(KernelContext& c) {
  unary_numeric(c, [](auto x) { return -x; });
}

void abs(KernelContext& c) {
  unary_numeric(c, [](auto x) { return x < 0 ? -x : x; });
}

}  // namespace qs::kernels
