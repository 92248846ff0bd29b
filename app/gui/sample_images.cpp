#include "sample_images.h"

#include <QMutexLocker>
#include <algorithm>

#include "quantscope/error.h"

namespace qs::gui {

std::vector<QImage> images_from_batch(const qs::Batch& batch, const qs::Preprocess& preprocess) {
  const qs::Shape& shape = batch.inputs.shape();
  if (shape.size() != 4 || (shape[1] != 1 && shape[1] != 3))
    throw qs::Error("samples of shape " + qs::shape_to_string(shape) +
                    " are not images (expected [N, 1 or 3, H, W])");
  const std::int64_t count = shape[0], channels = shape[1], height = shape[2], width = shape[3];
  const float* data = batch.inputs.data<float>();
  auto stat = [](const std::vector<float>& v, std::int64_t c, float fallback) {
    if (v.empty()) return fallback;
    return v[static_cast<std::size_t>(std::min<std::int64_t>(c, std::int64_t(v.size()) - 1))];
  };
  std::vector<QImage> images;
  for (std::int64_t n = 0; n < count; ++n) {
    QImage image(int(width), int(height), QImage::Format_RGB32);
    for (std::int64_t y = 0; y < height; ++y) {
      for (std::int64_t x = 0; x < width; ++x) {
        int rgb[3];
        for (std::int64_t c = 0; c < 3; ++c) {
          const std::int64_t src_c = channels == 1 ? 0 : c;
          const float v = data[((n * channels + src_c) * height + y) * width + x];
          const float pixel =
              v * stat(preprocess.std, src_c, 1.0f) + stat(preprocess.mean, src_c, 0.0f);
          rgb[c] = std::clamp(int(pixel * 255.0f + 0.5f), 0, 255);
        }
        image.setPixel(int(x), int(y), qRgb(rgb[0], rgb[1], rgb[2]));
      }
    }
    images.push_back(std::move(image));
  }
  return images;
}

SampleImageProvider::SampleImageProvider() : QQuickImageProvider(QQuickImageProvider::Image) {}

void SampleImageProvider::setImages(std::vector<QImage> images) {
  QMutexLocker lock(&mutex_);
  images_ = std::move(images);
}

QImage SampleImageProvider::requestImage(const QString& id, QSize* size, const QSize& requested) {
  QMutexLocker lock(&mutex_);
  // The id may carry a "?generation" suffix so QML reloads after a new dataset.
  const int index = id.section('?', 0, 0).toInt();
  if (index < 0 || index >= int(images_.size())) return {};
  QImage image = images_[std::size_t(index)];
  if (size) *size = image.size();
  if (requested.isValid() && requested.width() > 0 && requested.height() > 0)
    image = image.scaled(requested, Qt::KeepAspectRatio, Qt::FastTransformation);
  return image;
}

}  // namespace qs::gui
