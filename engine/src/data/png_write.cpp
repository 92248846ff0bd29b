// PNG encoding with libpng's simplified API, into memory, then an atomic write.
#include "quantscope/png_write.h"

#include <png.h>

#include <cstring>

#include "quantscope/atomic_file.h"
#include "quantscope/error.h"

namespace qs {

void write_png(const std::string& path, std::int64_t width, std::int64_t height, int channels,
               const std::vector<std::uint8_t>& pixels) {
  if (width <= 0 || height <= 0 || width > 1 << 16 || height > 1 << 16 ||
      (channels != 1 && channels != 3) ||
      pixels.size() != static_cast<std::size_t>(width * height * channels))
    throw Error(path + ": cannot write a " + std::to_string(width) + "x" + std::to_string(height) +
                " PNG with " + std::to_string(channels) + " channels from " +
                std::to_string(pixels.size()) + " bytes");
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(width);
  image.height = static_cast<png_uint_32>(height);
  image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&image, nullptr, &size, 0, pixels.data(), 0, nullptr))
    throw Error(path + ": PNG encoding failed: " + image.message);
  std::vector<std::uint8_t> bytes(size);
  if (!png_image_write_to_memory(&image, bytes.data(), &size, 0, pixels.data(), 0, nullptr))
    throw Error(path + ": PNG encoding failed: " + image.message);
  write_file_atomically(path, [&](const ByteSink& sink) { sink(bytes.data(), size); });
}

}  // namespace qs
