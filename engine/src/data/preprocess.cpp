// Preprocessing: settings from model metadata, normalization, channel conversion and bilinear
// resizing.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

#include "data_internal.h"

namespace qs {

namespace {

constexpr const char* kMetadataKey = "quantscope.preprocess";
constexpr std::int64_t kMaxSide = 1 << 16;

std::vector<float> json_floats(const nlohmann::json& v, const std::string& key) {
  const std::string where = std::string("model metadata ") + kMetadataKey + ": '" + key + "'";
  std::vector<float> out;
  if (v.is_number()) {
    out.push_back(v.get<float>());
  } else if (v.is_array()) {
    if (v.empty()) throw Error(where + " is an empty array");
    for (const auto& e : v) {
      if (!e.is_number()) throw Error(where + " must contain only numbers");
      out.push_back(e.get<float>());
    }
  } else {
    throw Error(where + " must be a number or an array of numbers");
  }
  for (float f : out)
    if (!std::isfinite(f)) throw Error(where + " must contain finite numbers");
  return out;
}

std::int64_t json_size(const nlohmann::json& v, const std::string& key) {
  const std::string where = std::string("model metadata ") + kMetadataKey + ": '" + key + "'";
  if (!v.is_number_integer()) throw Error(where + " must be an integer");
  const std::int64_t n = v.get<std::int64_t>();
  if (n < 0 || n > kMaxSide) throw Error(where + " is out of range (" + std::to_string(n) + ")");
  return n;
}

}  // namespace

Preprocess preprocess_from_model(const Graph& graph) {
  Preprocess p;
  if (!graph.inputs.empty()) {
    const ValueInfo& in = graph.inputs[0];
    if (in.has_shape && in.shape.size() == 4) {
      if (in.shape[1] > 0) p.channels = in.shape[1];
      if (in.shape[2] > 0) p.height = in.shape[2];
      if (in.shape[3] > 0) p.width = in.shape[3];
    }
  }
  auto it = graph.metadata.find(kMetadataKey);
  if (it == graph.metadata.end()) return p;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(it->second);
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("model metadata ") + kMetadataKey + ": malformed JSON (" + e.what() +
                ")");
  }
  if (!j.is_object())
    throw Error(std::string("model metadata ") + kMetadataKey + ": expected a JSON object");
  if (j.contains("mean")) p.mean = json_floats(j["mean"], "mean");
  if (j.contains("std")) p.std = json_floats(j["std"], "std");
  for (float s : p.std)
    if (s == 0.0f)
      throw Error(std::string("model metadata ") + kMetadataKey + ": 'std' contains 0");
  if (j.contains("channels")) p.channels = json_size(j["channels"], "channels");
  if (j.contains("height")) p.height = json_size(j["height"], "height");
  if (j.contains("width")) p.width = json_size(j["width"], "width");
  if (p.channels > 0) {
    const auto c = static_cast<std::size_t>(p.channels);
    if (p.mean.size() != 1 && p.mean.size() != c)
      throw Error(std::string("model metadata ") + kMetadataKey + ": 'mean' has " +
                  std::to_string(p.mean.size()) + " values for " + std::to_string(c) + " channels");
    if (p.std.size() != 1 && p.std.size() != c)
      throw Error(std::string("model metadata ") + kMetadataKey + ": 'std' has " +
                  std::to_string(p.std.size()) + " values for " + std::to_string(c) + " channels");
  }
  return p;
}

namespace data {

PixelNormalizer make_normalizer(const Preprocess& p, std::int64_t channels,
                                const std::string& where) {
  if (channels <= 0) throw Error(where + ": no channels");
  auto expand = [&](const std::vector<float>& v, const char* what) {
    if (v.size() == 1) return std::vector<float>(static_cast<std::size_t>(channels), v[0]);
    if (v.size() == static_cast<std::size_t>(channels)) return v;
    throw Error(where + ": preprocessing " + what + " has " + std::to_string(v.size()) +
                " values but the data has " + std::to_string(channels) + " channels");
  };
  PixelNormalizer n;
  n.mean = expand(p.mean, "mean");
  n.std = expand(p.std, "std");
  for (float s : n.std)
    if (s == 0.0f || !std::isfinite(s))
      throw Error(where + ": preprocessing std must be finite and non-zero");
  return n;
}

void resize_bilinear(const float* in, std::int64_t in_h, std::int64_t in_w, float* out,
                     std::int64_t out_h, std::int64_t out_w) {
  struct Tap {
    std::int64_t i0, i1;
    float f;
  };
  auto taps = [](std::int64_t in_n, std::int64_t out_n) {
    std::vector<Tap> t(static_cast<std::size_t>(out_n));
    const double scale = static_cast<double>(in_n) / static_cast<double>(out_n);
    for (std::int64_t o = 0; o < out_n; ++o) {
      double s = (static_cast<double>(o) + 0.5) * scale - 0.5;
      if (s < 0) s = 0;
      std::int64_t i0 = static_cast<std::int64_t>(s);
      if (i0 > in_n - 1) i0 = in_n - 1;
      const std::int64_t i1 = std::min(i0 + 1, in_n - 1);
      t[o] = {i0, i1, static_cast<float>(s - static_cast<double>(i0))};
      if (i0 == i1) t[o].f = 0.0f;
    }
    return t;
  };
  const std::vector<Tap> ty = taps(in_h, out_h), tx = taps(in_w, out_w);
  for (std::int64_t y = 0; y < out_h; ++y) {
    const Tap& a = ty[y];
    const float* r0 = in + a.i0 * in_w;
    const float* r1 = in + a.i1 * in_w;
    float* o = out + y * out_w;
    for (std::int64_t x = 0; x < out_w; ++x) {
      const Tap& b = tx[x];
      const float top = r0[b.i0] + (r0[b.i1] - r0[b.i0]) * b.f;
      const float bottom = r1[b.i0] + (r1[b.i1] - r1[b.i0]) * b.f;
      o[x] = top + (bottom - top) * a.f;
    }
  }
}

void image_to_chw(const unsigned char* pixels, std::int64_t h, std::int64_t w, int in_channels,
                  int out_channels, std::int64_t out_h, std::int64_t out_w,
                  const PixelNormalizer& norm, float* out) {
  const std::size_t plane = static_cast<std::size_t>(h * w);
  std::vector<float> planes(plane * out_channels);
  for (std::size_t i = 0; i < plane; ++i) {
    const unsigned char* px = pixels + i * in_channels;
    if (out_channels == in_channels) {
      for (int c = 0; c < out_channels; ++c) planes[c * plane + i] = px[c] / 255.0f;
    } else if (out_channels == 1) {  // RGB -> gray
      planes[i] = (0.299f * px[0] + 0.587f * px[1] + 0.114f * px[2]) / 255.0f;
    } else {  // gray -> RGB
      for (int c = 0; c < out_channels; ++c) planes[c * plane + i] = px[0] / 255.0f;
    }
  }
  const std::size_t out_plane = static_cast<std::size_t>(out_h * out_w);
  if (out_h != h || out_w != w) {
    std::vector<float> resized(out_plane * out_channels);
    for (int c = 0; c < out_channels; ++c)
      resize_bilinear(planes.data() + c * plane, h, w, resized.data() + c * out_plane, out_h,
                      out_w);
    planes.swap(resized);
  }
  for (int c = 0; c < out_channels; ++c)
    for (std::size_t i = 0; i < out_plane; ++i)
      out[c * out_plane + i] = norm(c, planes[c * out_plane + i]);
}

}  // namespace data
}  // namespace qs
