// PNG pictures for `quantscope-cli compare`: images (input, outputs, error maps) and
// histogram charts (float vs quantized, with a weight grid).
#pragma once

#include <string>
#include <vector>

#include "quantscope/compare.h"
#include "quantscope/tensor.h"

namespace qs::cli {

// A [1, C, H, W] (C = 1 or 3) or [1, H, W] tensor as a picture, values mapped linearly from
// [lo, hi] to 0..255 and each pixel enlarged to `zoom` x `zoom`.
void write_image_png(const std::string& path, const Tensor& image, double lo, double hi, int zoom);
// An error map in a heat scale: 0 black, through red, to yellow at `max_error`.
void write_error_png(const std::string& path, const Tensor& error, double max_error, int zoom);
// Two histograms over the same bins: float as light blue bars, quantized as narrower dark
// orange bars in front; `grid` values as thin gray lines. Bar heights are sqrt(count), so that
// tails stay visible.
void write_histogram_png(const std::string& path, const Histogram& float_hist,
                         const Histogram& quant_hist, const std::vector<double>& grid = {});

// Whether a tensor can be drawn as an image: [1, C, H, W] with C 1 or 3, or [1, H, W].
bool is_image(const Tensor& t);

}  // namespace qs::cli
