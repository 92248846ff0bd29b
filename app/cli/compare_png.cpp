#include "compare_png.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "quantscope/png_write.h"

namespace qs::cli {

namespace {

struct Rgb {
  std::uint8_t r, g, b;
};

std::uint8_t to_byte(double v) {
  return static_cast<std::uint8_t>(std::clamp(v, 0.0, 1.0) * 255.0 + 0.5);
}

// [C, H, W] of the image tensor.
void image_dims(const Tensor& t, std::int64_t& c, std::int64_t& h, std::int64_t& w) {
  c = t.rank() == 4 ? t.dim(1) : 1;
  h = t.dim(t.rank() - 2);
  w = t.dim(t.rank() - 1);
}

void write_rgb(const std::string& path, std::int64_t h, std::int64_t w, int zoom,
               const std::vector<Rgb>& px) {
  const std::int64_t H = h * zoom, W = w * zoom;
  std::vector<std::uint8_t> out(static_cast<std::size_t>(H * W * 3));
  for (std::int64_t y = 0; y < H; ++y)
    for (std::int64_t x = 0; x < W; ++x) {
      const Rgb& p = px[static_cast<std::size_t>((y / zoom) * w + x / zoom)];
      std::uint8_t* o = out.data() + (y * W + x) * 3;
      o[0] = p.r;
      o[1] = p.g;
      o[2] = p.b;
    }
  write_png(path, W, H, 3, out);
}

}  // namespace

bool is_image(const Tensor& t) {
  if (t.dtype() != DType::f32 || t.rank() < 3 || t.rank() > 4 || t.dim(0) != 1) return false;
  const std::int64_t c = t.rank() == 4 ? t.dim(1) : 1;
  return (c == 1 || c == 3) && t.dim(t.rank() - 1) >= 4 && t.dim(t.rank() - 2) >= 4;
}

void write_image_png(const std::string& path, const Tensor& image, double lo, double hi, int zoom) {
  std::int64_t c, h, w;
  image_dims(image, c, h, w);
  const double span = hi > lo ? hi - lo : 1.0;
  const float* p = image.data<float>();
  std::vector<Rgb> px(static_cast<std::size_t>(h * w));
  for (std::int64_t i = 0; i < h * w; ++i) {
    auto at = [&](std::int64_t ch) { return to_byte((p[ch * h * w + i] - lo) / span); };
    px[static_cast<std::size_t>(i)] = c == 3 ? Rgb{at(0), at(1), at(2)} : Rgb{at(0), at(0), at(0)};
  }
  write_rgb(path, h, w, zoom, px);
}

void write_error_png(const std::string& path, const Tensor& error, double max_error, int zoom) {
  std::int64_t c, h, w;
  image_dims(error, c, h, w);
  const float* p = error.data<float>();
  std::vector<Rgb> px(static_cast<std::size_t>(h * w));
  for (std::int64_t i = 0; i < h * w; ++i) {
    double e = 0;  // the largest error over the channels
    for (std::int64_t ch = 0; ch < c; ++ch) e = std::max(e, double(p[ch * h * w + i]));
    const double v = max_error > 0 ? e / max_error : 0.0;
    px[static_cast<std::size_t>(i)] = {to_byte(2 * v), to_byte(2 * v - 1), 0};
  }
  write_rgb(path, h, w, zoom, px);
}

void write_histogram_png(const std::string& path, const Histogram& float_hist,
                         const Histogram& quant_hist, const std::vector<double>& grid) {
  const int W = 640, H = 240, margin = 10;
  std::vector<std::uint8_t> img(static_cast<std::size_t>(W * H * 3), 255);
  auto put = [&](int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= W || y >= H) return;
    std::uint8_t* o = img.data() + (y * W + x) * 3;
    o[0] = c.r;
    o[1] = c.g;
    o[2] = c.b;
  };
  const int plot_w = W - 2 * margin, plot_h = H - 2 * margin, base = H - margin;
  const double span = float_hist.hi > float_hist.lo ? float_hist.hi - float_hist.lo : 1.0;
  auto x_of = [&](double v) {
    return margin + static_cast<int>(std::lround((v - float_hist.lo) / span * plot_w));
  };
  for (double g : grid) {
    if (g < float_hist.lo || g > float_hist.hi) continue;
    for (int y = margin; y < base; ++y) put(x_of(g), y, {190, 190, 190});
  }
  std::int64_t top = 1;
  for (std::int64_t v : float_hist.counts) top = std::max(top, v);
  for (std::int64_t v : quant_hist.counts) top = std::max(top, v);
  const std::size_t bins = float_hist.counts.size();
  auto draw = [&](const Histogram& h, double inset, Rgb color) {
    for (std::size_t b = 0; b < bins && b < h.counts.size(); ++b) {
      const int x0 = margin + static_cast<int>(std::floor((b + inset) * plot_w / double(bins)));
      const int x1 = margin + static_cast<int>(std::ceil((b + 1 - inset) * plot_w / double(bins)));
      const int height =
          static_cast<int>(std::lround(std::sqrt(double(h.counts[b]) / double(top)) * plot_h));
      for (int x = x0; x < std::max(x0 + 1, x1); ++x)
        for (int y = base - height; y < base; ++y) put(x, y, color);
    }
  };
  draw(float_hist, 0.0, {150, 190, 235});
  draw(quant_hist, 0.3, {215, 110, 20});
  for (int x = margin; x < W - margin; ++x) put(x, base, {60, 60, 60});
  write_png(path, W, H, 3, img);
}

}  // namespace qs::cli
