// PNG (libpng's simplified API) and JPEG (libjpeg) decoding to 8-bit gray or RGB.
// jpeglib.h needs FILE and size_t declared first.
#include <stdio.h>

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

#include <csetjmp>
#include <cstring>

#include "data_internal.h"

namespace qs::data {
namespace {

constexpr std::uint64_t kMaxImageFileBytes = std::uint64_t{1} << 30;

void check_dimensions(std::int64_t w, std::int64_t h, const std::string& name) {
  if (w <= 0 || h <= 0) throw Error(name + ": image has an empty size");
  if (w > kMaxImagePixels / h)
    throw Error(name + ": image too large (" + std::to_string(w) + "x" + std::to_string(h) + ")");
}

// ---- JPEG: errors leave libjpeg through longjmp; only trivially destructible objects live in
// the frame that calls setjmp.

struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool truncated;
};

void jpeg_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

void jpeg_emit_message(j_common_ptr cinfo, int level) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  if (level < 0) {
    // Warnings: a premature end of data is an error for us; others (extraneous bytes) are not.
    if (cinfo->err->msg_code == JWRN_JPEG_EOF) err->truncated = true;
    cinfo->err->num_warnings++;
  }
}

struct JpegResult {
  JDIMENSION width;
  JDIMENSION height;
  int channels;
};

// Returns false with err->message set on failure. `pixels` is owned by the caller's frame.
bool jpeg_decode_raw(const unsigned char* bytes, std::size_t size,
                     std::vector<unsigned char>* pixels, JpegError* err, JpegResult* result) {
  jpeg_decompress_struct cinfo;
  std::memset(&cinfo, 0, sizeof cinfo);
  cinfo.err = jpeg_std_error(&err->mgr);
  err->mgr.error_exit = jpeg_error_exit;
  err->mgr.emit_message = jpeg_emit_message;
  err->truncated = false;
  err->message[0] = '\0';
  if (setjmp(err->jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    std::strcpy(err->message, "CMYK JPEG images are not supported");
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  const bool gray = cinfo.num_components == 1;
  cinfo.out_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  result->width = cinfo.output_width;
  result->height = cinfo.output_height;
  result->channels = cinfo.output_components;
  if (cinfo.output_width == 0 || cinfo.output_height == 0 ||
      static_cast<std::int64_t>(cinfo.output_width) >
          kMaxImagePixels / static_cast<std::int64_t>(cinfo.output_height) ||
      (result->channels != 1 && result->channels != 3)) {
    std::strcpy(err->message, "unsupported or too large image dimensions");
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  const std::size_t stride = static_cast<std::size_t>(cinfo.output_width) * result->channels;
  try {
    pixels->resize(stride * cinfo.output_height);
  } catch (...) {
    jpeg_destroy_decompress(&cinfo);
    throw;
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = pixels->data() + stride * cinfo.output_scanline;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

}  // namespace

Image decode_jpeg(const unsigned char* bytes, std::size_t size, const std::string& name) {
  Image img;
  JpegError err;
  JpegResult res{};
  if (!jpeg_decode_raw(bytes, size, &img.pixels, &err, &res))
    throw Error(name + ": cannot decode JPEG: " + err.message);
  if (err.truncated) throw Error(name + ": truncated JPEG data");
  img.width = res.width;
  img.height = res.height;
  img.channels = res.channels;
  return img;
}

Image decode_png(const unsigned char* bytes, std::size_t size, const std::string& name) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes, size)) {
    std::string msg = image.message;
    png_image_free(&image);
    throw Error(name + ": cannot decode PNG: " + msg);
  }
  try {
    check_dimensions(image.width, image.height, name);
    // Deflate expands at most ~1032:1 and a pixel takes at least one bit: anything larger
    // cannot come from this file.
    if (static_cast<std::uint64_t>(image.width) * image.height > std::uint64_t{size} * 8 * 1100)
      throw Error(name + ": PNG claims " + std::to_string(image.width) + "x" +
                  std::to_string(image.height) + " pixels, impossible for a file of " +
                  std::to_string(size) + " bytes");
  } catch (...) {
    png_image_free(&image);
    throw;
  }
  const bool color = (image.format & PNG_FORMAT_FLAG_COLOR) != 0;
  // Read with alpha and drop it afterwards (as PIL's convert("RGB") does) rather than
  // compositing.
  image.format = color ? PNG_FORMAT_RGBA : PNG_FORMAT_GA;
  const int read_channels = color ? 4 : 2;
  std::vector<unsigned char> raw;
  try {
    raw.resize(static_cast<std::size_t>(image.width) * image.height * read_channels);
  } catch (...) {
    png_image_free(&image);
    throw;
  }
  if (!png_image_finish_read(&image, nullptr, raw.data(), 0, nullptr)) {
    std::string msg = image.message;
    png_image_free(&image);
    throw Error(name + ": cannot decode PNG: " + msg);
  }
  Image img;
  img.width = image.width;
  img.height = image.height;
  img.channels = color ? 3 : 1;
  const std::size_t n = static_cast<std::size_t>(img.width) * img.height;
  img.pixels.resize(n * img.channels);
  for (std::size_t i = 0; i < n; ++i)
    for (int c = 0; c < img.channels; ++c)
      img.pixels[i * img.channels + c] = raw[i * read_channels + c];
  png_image_free(&image);
  return img;
}

Image decode_image_file(const std::string& path) {
  std::vector<unsigned char> bytes = read_file_bytes(path, kMaxImageFileBytes);
  static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), png_sig, 8) == 0)
    return decode_png(bytes.data(), bytes.size(), path);
  if (bytes.size() >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff)
    return decode_jpeg(bytes.data(), bytes.size(), path);
  throw Error(path + ": not a PNG or JPEG image (unrecognized file signature)");
}

}  // namespace qs::data
