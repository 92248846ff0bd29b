// The Compare page: one evaluation sample through the float and the current quantized model:
// top-k, output images and error map, activation and weight histograms.
#pragma once

#include <QVariantMap>

#include "controllers/page_controller.h"

namespace qs::gui {

class SampleImageProvider;

class CompareController : public PageController {
  Q_OBJECT
  QML_ELEMENT
  QML_UNCREATABLE("Workbench.compare")
  // sample, samples, label, classifier, floatTopk and quantTopk [{index, name, probability}],
  // sqnrDb, kl, maxAbsError, images (served as image://compare/<i>), activations and weights
  // (histograms), generation (changes with each result, for the images' URLs); empty before one.
  Q_PROPERTY(QVariantMap result READ result NOTIFY resultChanged)

 public:
  // `images` serves the pictures (image://compare/...); none in tests.
  CompareController(Workbench* workbench, SampleImageProvider* images);

  // Sample `index` of the evaluation set through the float and the quantized model.
  Q_INVOKABLE void run(int index);

  QVariantMap result() const { return result_; }

 signals:
  void resultChanged();

 private:
  SampleImageProvider* images_;
  QVariantMap result_;
  int generation_ = 0;
};

}  // namespace qs::gui
