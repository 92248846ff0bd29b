// Thumbnails of dataset samples for the Data page, served to QML as image://samples/<index>.
// Images are made from the preprocessed tensors (de-normalized), so they show what the model
// sees: size, channel count and orientation after preprocessing.
#pragma once

#include <QImage>
#include <QMutex>
#include <QQuickImageProvider>
#include <vector>

#include "quantscope/dataset.h"

namespace qs::gui {

// Images from a batch of [count, C, H, W] samples (C = 1 or 3), pixels as (x * std + mean).
// Throws qs::Error when the samples are not images.
std::vector<QImage> images_from_batch(const qs::Batch& batch, const qs::Preprocess& preprocess);

class SampleImageProvider : public QQuickImageProvider {
 public:
  SampleImageProvider();
  void setImages(std::vector<QImage> images);  // any thread
  QImage requestImage(const QString& id, QSize* size, const QSize& requested) override;

 private:
  QMutex mutex_;
  std::vector<QImage> images_;
};

}  // namespace qs::gui
