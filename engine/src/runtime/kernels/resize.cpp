// Reference kernels for Resize (opsets 10 to 19+) and the older Upsample.
//
// Both are separable: along every axis each output coordinate is mapped back to a source
// coordinate, which gives a few (input index, weight) taps per axis (1 for nearest, 2 for linear,
// 4 for cubic). An output element is the weighted sum over the product of its axes' taps.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/kernel_util.h"
#include "runtime/kernels/kernels.h"

namespace qs::kernels {

namespace {

enum class Mode { nearest, linear, cubic };

// How an output coordinate maps to an input coordinate (coordinate_transformation_mode).
enum class Transform {
  half_pixel,
  half_pixel_symmetric,
  pytorch_half_pixel,
  align_corners,
  asymmetric,
  tf_half_pixel_for_nn,
  tf_crop_and_resize,
};

// How nearest mode rounds the source coordinate. `legacy` is Resize-10/Upsample behaviour: floor
// when upsampling, ceil when downsampling.
enum class Rounding { round_prefer_floor, round_prefer_ceil, floor, ceil, legacy };

struct ResizeSpec {
  Mode mode = Mode::nearest;
  Transform transform = Transform::asymmetric;
  Rounding rounding = Rounding::legacy;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  float extrapolation = 0.f;
  Shape out_shape;
  std::vector<double> scales;  // per axis, the scale used by the coordinate transform
  // Per axis, the "length_resized" of the coordinate transforms: scale * input length, not
  // floored (the ONNX reference does so; e.g. align_corners with scale 0.6 on 4 uses 2.4).
  std::vector<double> resized;
  std::vector<double> roi_start;  // per axis, tf_crop_and_resize only
  std::vector<double> roi_end;
};

struct Tap {
  std::int64_t index;
  double weight;
};

// The taps of one output coordinate along one axis; `outside` marks a tf_crop_and_resize source
// beyond the input, which yields extrapolation_value instead.
struct AxisSample {
  std::vector<Tap> taps;
  bool outside = false;
};

double source_coordinate(const ResizeSpec& s, int axis, std::int64_t x, std::int64_t in_len) {
  const double scale = s.scales[axis];
  const double out_len = s.resized[axis];
  const double xr = static_cast<double>(x);
  switch (s.transform) {
    case Transform::half_pixel:
      return (xr + 0.5) / scale - 0.5;
    case Transform::half_pixel_symmetric: {
      // Centres the sampled region when floor() shortened the output.
      const double adjustment = static_cast<double>(s.out_shape[axis]) / out_len;
      const double center = static_cast<double>(in_len) / 2;
      const double offset = center * (1 - adjustment);
      return offset + (xr + 0.5) / scale - 0.5;
    }
    case Transform::pytorch_half_pixel:
      return out_len > 1 ? (xr + 0.5) / scale - 0.5 : 0.0;
    case Transform::align_corners:
      return out_len == 1 ? 0.0 : xr * static_cast<double>(in_len - 1) / (out_len - 1);
    case Transform::asymmetric:
      return xr / scale;
    case Transform::tf_half_pixel_for_nn:
      return (xr + 0.5) / scale;
    case Transform::tf_crop_and_resize: {
      const double start = s.roi_start[axis], end = s.roi_end[axis];
      const double last = static_cast<double>(in_len - 1);
      return out_len > 1 ? start * last + xr * (end - start) * last / (out_len - 1)
                         : 0.5 * (start + end) * last;
    }
  }
  return 0;
}

std::int64_t nearest_index(const ResizeSpec& s, int axis, double x) {
  const double fl = std::floor(x);
  const bool half = x - fl == 0.5;
  switch (s.rounding) {
    case Rounding::round_prefer_floor:
      return static_cast<std::int64_t>(half ? fl : std::round(x));
    case Rounding::round_prefer_ceil:
      return static_cast<std::int64_t>(half ? fl + 1 : std::round(x));
    case Rounding::floor:
      return static_cast<std::int64_t>(fl);
    case Rounding::ceil:
      return static_cast<std::int64_t>(std::ceil(x));
    case Rounding::legacy:
      return static_cast<std::int64_t>(s.scales[axis] < 1 ? std::ceil(x) : fl);
  }
  return 0;
}

// ONNX's cubic convolution weights for the taps at floor(x) - 1 .. floor(x) + 2, t = x - floor(x).
std::vector<double> cubic_weights(double t, double a) {
  auto far = [a](double d) { return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a; };  // 1 <= d < 2
  auto near = [a](double d) { return ((a + 2) * d - (a + 3)) * d * d + 1; };       // 0 <= d < 1
  return {far(t + 1), near(t), near(1 - t), far(2 - t)};
}

AxisSample sample_axis(const ResizeSpec& s, int axis, std::int64_t x, std::int64_t in_len) {
  AxisSample out;
  double src = source_coordinate(s, axis, x, in_len);
  // Keep the coordinate finite and within a sane distance so the integer casts are defined.
  const double bound = static_cast<double>(in_len) + 8;
  if (!std::isfinite(src)) src = 0;
  if (s.transform == Transform::tf_crop_and_resize &&
      (src < 0 || src > static_cast<double>(in_len - 1))) {
    out.outside = true;
    return out;
  }
  src = std::clamp(src, -bound, bound);
  auto clamp_index = [in_len](std::int64_t i) {
    return std::clamp<std::int64_t>(i, 0, in_len - 1);
  };

  if (s.mode == Mode::nearest) {
    out.taps.push_back({clamp_index(nearest_index(s, axis, src)), 1.0});
    return out;
  }
  const double fl = std::floor(src);
  const std::int64_t i0 = static_cast<std::int64_t>(fl);
  const double t = src - fl;
  if (s.mode == Mode::linear) {
    // Neighbours beyond the edge repeat the edge element.
    if (1 - t != 0) out.taps.push_back({clamp_index(i0), 1 - t});
    if (t != 0) out.taps.push_back({clamp_index(i0 + 1), t});
    return out;
  }
  const std::vector<double> w = cubic_weights(t, s.cubic_a);
  double kept = 0;
  std::vector<Tap> raw;
  for (int k = 0; k < 4; ++k) {
    const std::int64_t i = i0 - 1 + k;
    const bool in_range = i >= 0 && i < in_len;
    // exclude_outside drops taps beyond the input and renormalizes the rest.
    if (s.exclude_outside && !in_range) continue;
    raw.push_back({clamp_index(i), w[k]});
    kept += w[k];
  }
  for (Tap& tap : raw) {
    if (s.exclude_outside && kept != 0) tap.weight /= kept;
    if (tap.weight != 0) out.taps.push_back(tap);
  }
  if (out.taps.empty()) out.taps.push_back({clamp_index(i0), 0.0});  // all weights vanished
  return out;
}

// Fills the output from the per-axis samples.
// Linear and cubic weights are a product over the axes, so the output is the input resampled
// one axis at a time: per axis a pass over contiguous rows (LR-ASPP's 28x28 -> 224x224 bilinear
// upsampling: 18 ms -> under 1 ms). Axes that map every coordinate to itself are skipped.
void resample_separable(Tensor& y, const Tensor& x,
                        const std::vector<std::vector<AxisSample>>& samples) {
  const int rank = x.rank();
  std::vector<float> current(x.data<float>(), x.data<float>() + x.numel());
  Shape shape = x.shape();
  for (int d = 0; d < rank; ++d) {
    const std::int64_t in_len = shape[d], out_len = static_cast<std::int64_t>(samples[d].size());
    bool identity = in_len == out_len;
    for (std::int64_t o = 0; identity && o < out_len; ++o)
      identity = samples[d][o].taps.size() == 1 && samples[d][o].taps[0].index == o &&
                 samples[d][o].taps[0].weight == 1.0;
    if (identity) continue;
    std::int64_t outer = 1, inner = 1;
    for (int k = 0; k < d; ++k) outer *= shape[k];
    for (int k = d + 1; k < rank; ++k) inner *= shape[k];
    std::vector<float> next(static_cast<std::size_t>(outer * out_len * inner), 0.0f);
    std::vector<double> acc(static_cast<std::size_t>(inner));
    if (inner == 1) {  // the last axis: a dot product of the taps per output element
      for (std::int64_t b = 0; b < outer; ++b) {
        const float* row = current.data() + b * in_len;
        float* out = next.data() + b * out_len;
        for (std::int64_t o = 0; o < out_len; ++o) {
          double sum = 0;
          for (const Tap& t : samples[d][o].taps) sum += t.weight * row[t.index];
          out[o] = static_cast<float>(sum);
        }
      }
      current = std::move(next);
      shape[d] = out_len;
      continue;
    }
    for (std::int64_t b = 0; b < outer; ++b)
      for (std::int64_t o = 0; o < out_len; ++o) {
        std::fill(acc.begin(), acc.end(), 0.0);
        for (const Tap& t : samples[d][o].taps) {
          const float* row = current.data() + (b * in_len + t.index) * inner;
          for (std::int64_t i = 0; i < inner; ++i) acc[i] += t.weight * row[i];
        }
        float* out = next.data() + (b * out_len + o) * inner;
        for (std::int64_t i = 0; i < inner; ++i) out[i] = static_cast<float>(acc[i]);
      }
    current = std::move(next);
    shape[d] = out_len;
  }
  std::copy(current.begin(), current.end(), y.data<float>());
}

void resample(KernelContext& c, const ResizeSpec& s) {
  const Tensor& x = c.in(0);
  Tensor& y = c.outputs[0];
  const int rank = x.rank();
  std::vector<std::vector<AxisSample>> samples(rank);
  bool any_outside = false;
  for (int d = 0; d < rank; ++d) {
    samples[d].reserve(s.out_shape[d]);
    for (std::int64_t o = 0; o < s.out_shape[d]; ++o) {
      samples[d].push_back(sample_axis(s, d, o, x.dim(d)));
      any_outside = any_outside || samples[d].back().outside;
    }
  }
  if (s.mode != Mode::nearest && !any_outside && x.numel() > 0) {
    resample_separable(y, x, samples);
    return;
  }
  const std::vector<std::int64_t> xs = strides_of(x.shape());
  const std::int64_t total = y.numel();
  std::vector<std::int64_t> idx(rank, 0);
  std::vector<const AxisSample*> cur(rank);
  std::vector<std::size_t> tap(rank);
  const std::size_t es = dtype_size(x.dtype());
  const auto* src = static_cast<const std::byte*>(x.raw());
  auto* dst = static_cast<std::byte*>(y.raw());
  const float* xf = s.mode == Mode::nearest ? nullptr : x.data<float>();
  float* yf = s.mode == Mode::nearest ? nullptr : y.data<float>();

  for (std::int64_t k = 0; k < total; ++k) {
    bool outside = false;
    for (int d = 0; d < rank; ++d) {
      cur[d] = &samples[d][idx[d]];
      outside = outside || cur[d]->outside;
    }
    if (s.mode == Mode::nearest) {
      if (outside) {
        // Only f32 reaches tf_crop_and_resize with extrapolation (checked by the caller).
        std::memcpy(dst + k * es, &s.extrapolation, es);
      } else {
        std::int64_t off = 0;
        for (int d = 0; d < rank; ++d) off += cur[d]->taps[0].index * xs[d];
        std::memcpy(dst + k * es, src + off * es, es);
      }
    } else if (outside) {
      yf[k] = s.extrapolation;
    } else {
      // Sum over every combination of the axes' taps.
      double acc = 0;
      std::fill(tap.begin(), tap.end(), 0);
      for (;;) {
        double w = 1;
        std::int64_t off = 0;
        for (int d = 0; d < rank; ++d) {
          const Tap& t = cur[d]->taps[tap[d]];
          w *= t.weight;
          off += t.index * xs[d];
        }
        acc += w * static_cast<double>(xf[off]);
        int d = rank - 1;
        for (; d >= 0; --d) {
          if (++tap[d] < cur[d]->taps.size()) break;
          tap[d] = 0;
        }
        if (d < 0) break;
      }
      yf[k] = static_cast<float>(acc);
    }
    for (int d = rank - 1; d >= 0; --d) {
      if (++idx[d] < s.out_shape[d]) break;
      idx[d] = 0;
    }
  }
}

// Checks the spec against the input, declares the output and computes it unless shape_only.
void run_resize(KernelContext& c, ResizeSpec& s) {
  const Tensor& x = c.in(0);
  if (s.resized.empty()) {
    for (int d = 0; d < x.rank(); ++d)
      s.resized.push_back(s.scales[d] * static_cast<double>(x.dim(d)));
  }
  for (int d = 0; d < x.rank(); ++d) {
    if (s.out_shape[d] > 0 && x.dim(d) == 0)
      c.fail("cannot resize an empty dimension " + std::to_string(d) + " to " +
             std::to_string(s.out_shape[d]));
    if (!(s.scales[d] > 0) || !std::isfinite(s.scales[d]))
      c.fail("scales must be positive and finite");
  }
  if (s.mode != Mode::nearest && x.dtype() != DType::f32)
    c.unsupported("linear or cubic resizing of dtype " + dtype_name(x.dtype()));
  if (s.transform == Transform::tf_crop_and_resize && x.dtype() != DType::f32)
    c.unsupported("tf_crop_and_resize of dtype " + dtype_name(x.dtype()));
  c.output(0, x.dtype(), s.out_shape);
  if (c.shape_only) return;
  resample(c, s);
}

Mode parse_mode(const KernelContext& c, const std::string& name) {
  if (name == "nearest") return Mode::nearest;
  if (name == "linear" || name == "bilinear") return Mode::linear;
  if (name == "cubic") return Mode::cubic;
  c.fail("unknown mode '" + name + "'");
}

Transform parse_transform(const KernelContext& c, const std::string& name) {
  if (name == "half_pixel") return Transform::half_pixel;
  if (name == "half_pixel_symmetric") return Transform::half_pixel_symmetric;
  if (name == "pytorch_half_pixel") return Transform::pytorch_half_pixel;
  if (name == "align_corners") return Transform::align_corners;
  if (name == "asymmetric") return Transform::asymmetric;
  if (name == "tf_half_pixel_for_nn") return Transform::tf_half_pixel_for_nn;
  if (name == "tf_crop_and_resize") return Transform::tf_crop_and_resize;
  c.fail("unknown coordinate_transformation_mode '" + name + "'");
}

Rounding parse_rounding(const KernelContext& c, const std::string& name) {
  if (name == "round_prefer_floor") return Rounding::round_prefer_floor;
  if (name == "round_prefer_ceil") return Rounding::round_prefer_ceil;
  if (name == "floor") return Rounding::floor;
  if (name == "ceil") return Rounding::ceil;
  c.fail("unknown nearest_mode '" + name + "'");
}

// Float values of an input that determines the output shape (scales, roi).
std::vector<float> shape_floats(const KernelContext& c, int i) {
  if (c.in(i).dtype() != DType::f32) c.fail("input '" + c.node.inputs[i] + "' must be float32");
  return c.in_floats(i);  // signals a data-dependent shape while inferring shapes
}

// floor(len * scale) in double, as the reference does; fails when absurdly large.
std::int64_t scaled_length(const KernelContext& c, std::int64_t len, double scale) {
  const double v = std::floor(static_cast<double>(len) * scale);
  if (!(v >= 0) || v > 4e15) c.fail("scale " + std::to_string(scale) + " gives an invalid size");
  return static_cast<std::int64_t>(v);
}

}  // namespace

void resize(KernelContext& c) {
  const Tensor& x = c.in(0);
  const int rank = x.rank();
  ResizeSpec s;
  s.mode = parse_mode(c, c.node.attr_string("mode", "nearest"));
  s.scales.assign(rank, 1.0);
  s.out_shape = x.shape();

  if (c.opset < 11) {
    // Resize-10: X, scales; asymmetric coordinates, legacy nearest rounding.
    if (s.mode == Mode::cubic) c.fail("mode 'cubic' needs opset 11");
    const std::vector<float> scales = shape_floats(c, 1);
    if (static_cast<int>(scales.size()) != rank)
      c.fail("scales has " + std::to_string(scales.size()) + " values for rank " +
             std::to_string(rank));
    for (int d = 0; d < rank; ++d) {
      s.scales[d] = scales[d];
      if (!(s.scales[d] > 0)) c.fail("scales must be positive");
      s.out_shape[d] = scaled_length(c, x.dim(d), s.scales[d]);
    }
    run_resize(c, s);
    return;
  }

  s.transform =
      parse_transform(c, c.node.attr_string("coordinate_transformation_mode", "half_pixel"));
  if (s.transform == Transform::half_pixel_symmetric && c.opset < 19)
    c.fail("coordinate_transformation_mode 'half_pixel_symmetric' needs opset 19");
  s.rounding = parse_rounding(c, c.node.attr_string("nearest_mode", "round_prefer_floor"));
  s.cubic_a = c.node.attr_float("cubic_coeff_a", -0.75f);
  s.exclude_outside = c.node.attr_int("exclude_outside", 0) != 0;
  s.extrapolation = c.node.attr_float("extrapolation_value", 0.f);
  for (int d = 0; d < rank; ++d) s.resized.push_back(static_cast<double>(x.dim(d)));

  // The axes that scales/sizes/roi refer to: all, or the opset-18 axes attribute.
  std::vector<int> axes;
  if (c.opset >= 18 && c.node.has_attr("axes")) {
    std::vector<bool> seen(rank, false);
    for (std::int64_t a : c.node.attr_ints("axes")) {
      const int n = normalize_axis(c, a, rank);
      if (rank == 0 || seen[n]) c.fail("axes must be distinct axes of the input");
      seen[n] = true;
      axes.push_back(n);
    }
  } else {
    for (int d = 0; d < rank; ++d) axes.push_back(d);
  }
  const std::size_t na = axes.size();

  const bool has_scales = c.has(2) && c.in(2).numel() > 0;
  const bool has_sizes = c.has(3) && c.in(3).numel() > 0;
  if (has_scales == has_sizes) c.fail("exactly one of scales and sizes must be given");

  if (s.transform == Transform::tf_crop_and_resize) {
    s.roi_start.assign(rank, 0.0);
    s.roi_end.assign(rank, 1.0);
    // The roi only shapes the output when scales are given; with sizes, a roi known only at
    // run time does not stop shape inference.
    if (c.has(1) && c.in(1).numel() > 0 && (has_scales || c.in(1).has_data())) {
      const std::vector<float> roi = shape_floats(c, 1);
      if (roi.size() != 2 * na)
        c.fail("roi has " + std::to_string(roi.size()) + " values, expected " +
               std::to_string(2 * na));
      for (std::size_t i = 0; i < na; ++i) {
        s.roi_start[axes[i]] = roi[i];
        s.roi_end[axes[i]] = roi[i + na];
      }
    }
  }

  if (has_scales) {
    const std::vector<float> scales = shape_floats(c, 2);
    if (scales.size() != na)
      c.fail("scales has " + std::to_string(scales.size()) + " values, expected " +
             std::to_string(na));
    for (std::size_t i = 0; i < na; ++i) {
      const int d = axes[i];
      s.scales[d] = scales[i];
      if (!(s.scales[d] > 0) || !std::isfinite(s.scales[d]))
        c.fail("scales must be positive and finite");
      // tf_crop_and_resize samples only the region of interest.
      const double extent =
          s.transform == Transform::tf_crop_and_resize ? s.roi_end[d] - s.roi_start[d] : 1.0;
      s.resized[d] = static_cast<double>(x.dim(d)) * s.scales[d] * extent;
      s.out_shape[d] = scaled_length(c, x.dim(d), s.scales[d] * extent);
    }
  } else {
    const std::vector<std::int64_t> sizes = c.in_ints(3);
    if (sizes.size() != na)
      c.fail("sizes has " + std::to_string(sizes.size()) + " values, expected " +
             std::to_string(na));
    for (std::int64_t v : sizes)
      if (v < 0) c.fail("sizes must not be negative");
    const std::string policy =
        c.opset >= 18 ? c.node.attr_string("keep_aspect_ratio_policy", "stretch") : "stretch";
    if (policy == "stretch") {
      for (std::size_t i = 0; i < na; ++i) {
        const int d = axes[i];
        s.out_shape[d] = sizes[i];
        s.resized[d] = static_cast<double>(sizes[i]);
        if (x.dim(d) > 0)
          s.scales[d] = static_cast<double>(sizes[i]) / static_cast<double>(x.dim(d));
      }
    } else if (policy == "not_larger" || policy == "not_smaller") {
      // One common scale: the largest that fits (not_larger) or the smallest that covers.
      double scale = policy == "not_larger" ? HUGE_VAL : 0.0;
      for (std::size_t i = 0; i < na; ++i) {
        const int d = axes[i];
        if (x.dim(d) == 0) c.fail("cannot keep the aspect ratio of an empty dimension");
        const double r = static_cast<double>(sizes[i]) / static_cast<double>(x.dim(d));
        scale = policy == "not_larger" ? std::min(scale, r) : std::max(scale, r);
      }
      for (std::size_t i = 0; i < na; ++i) {
        const int d = axes[i];
        s.scales[d] = scale;
        s.resized[d] = static_cast<double>(x.dim(d)) * scale;
        // Rounds halfway cases up, as the spec's round_int.
        s.out_shape[d] = scaled_length(c, 1, static_cast<double>(x.dim(d)) * scale + 0.5);
      }
    } else {
      c.fail("unknown keep_aspect_ratio_policy '" + policy + "'");
    }
    for (int d = 0; d < rank; ++d)
      if (s.out_shape[d] > 0 && x.dim(d) > 0 && !(s.scales[d] > 0))
        c.fail("sizes give a zero scale");
  }

  if (c.opset >= 18 && c.node.attr_int("antialias", 0) != 0 && s.mode != Mode::nearest) {
    for (int d = 0; d < rank; ++d)
      if (s.scales[d] < 1) c.unsupported("antialias=1 when downsampling");
  }
  // A zero-length output axis has no coordinates to map; keep its scale valid for the checks.
  for (int d = 0; d < rank; ++d)
    if (!(s.scales[d] > 0)) s.scales[d] = 1.0;
  run_resize(c, s);
}

void upsample(KernelContext& c) {
  const Tensor& x = c.in(0);
  const int rank = x.rank();
  ResizeSpec s;
  s.mode = parse_mode(c, c.node.attr_string("mode", "nearest"));
  if (s.mode == Mode::cubic) c.fail("Upsample has no cubic mode");
  // Scales: an attribute up to opset 8, input 1 from opset 9.
  std::vector<float> scales = c.opset >= 9 ? shape_floats(c, 1) : c.node.attr_floats("scales");
  if (static_cast<int>(scales.size()) != rank)
    c.fail("scales has " + std::to_string(scales.size()) + " values for rank " +
           std::to_string(rank));
  s.scales.resize(rank);
  s.out_shape.resize(rank);
  for (int d = 0; d < rank; ++d) {
    s.scales[d] = scales[d];
    if (!(s.scales[d] > 0) || !std::isfinite(s.scales[d]))
      c.fail("scales must be positive and finite");
    s.out_shape[d] = scaled_length(c, x.dim(d), s.scales[d]);
  }
  run_resize(c, s);
}

}  // namespace qs::kernels
