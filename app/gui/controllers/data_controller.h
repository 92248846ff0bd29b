// The Data page: opens the calibration and evaluation sets for the open model (again whenever
// the model changes, since its preprocessing may) and shows the first evaluation samples.
#pragma once

#include <QVariantList>

#include "controllers/page_controller.h"

namespace qs::gui {

class SampleImageProvider;

// The data sets as opened: specs, what each is, and the preprocessing applied.
class DataInfo {
  Q_GADGET
  QML_VALUE_TYPE(dataInfo)
  Q_PROPERTY(QString calibration MEMBER calibration)
  Q_PROPERTY(QString evaluation MEMBER evaluation)
  Q_PROPERTY(int limit MEMBER limit)  // samples taken from each (0: all)
  Q_PROPERTY(QString calibrationInfo MEMBER calibrationInfo)
  Q_PROPERTY(QString evaluationInfo MEMBER evaluationInfo)
  Q_PROPERTY(double calibrationSamples MEMBER calibrationSamples)  // numbers as QML has them
  Q_PROPERTY(double evaluationSamples MEMBER evaluationSamples)
  Q_PROPERTY(QString sampleShape MEMBER sampleShape)
  Q_PROPERTY(QString preprocess MEMBER preprocess)
  // Text for a language model: samples are documents ({html}: its tokens, boundaries shown).
  Q_PROPERTY(bool text MEMBER text)

 public:
  QString calibration, evaluation, calibrationInfo, evaluationInfo, sampleShape, preprocess;
  int limit = 0;
  bool text = false;
  double calibrationSamples = 0, evaluationSamples = 0;
  bool operator==(const DataInfo&) const = default;
};

class DataController : public PageController {
  Q_OBJECT
  QML_ELEMENT
  QML_UNCREATABLE("Workbench.data")
  Q_PROPERTY(qs::gui::DataInfo info READ info NOTIFY changed)
  // The first evaluation samples: {source (an image:// URL), label}; for text, the first
  // documents: {html (each token on a background of its own), tokens}.
  Q_PROPERTY(QVariantList samples READ samples NOTIFY changed)

 public:
  DataController(Workbench* workbench, SampleImageProvider* images);

  // Opens the calibration and evaluation sets (first `limit` samples each, all when < 1); on
  // failure the "data" error says why.
  Q_INVOKABLE bool open(const QString& calibration, const QString& evaluation, int limit);

  DataInfo info() const { return info_; }
  QVariantList samples() const { return samples_; }

 signals:
  void changed();

 private:
  void reopen();
  // A language model's text: the tokenizer beside the model, documents with token boundaries.
  void openText(const DataSpecs& specs);
  void textBesideModel(DataSpecs& specs) const;

  SampleImageProvider* images_;
  DataInfo info_;
  QVariantList samples_;
  int generation_ = 0;  // in the samples' URLs, so QML reloads the images
};

}  // namespace qs::gui
