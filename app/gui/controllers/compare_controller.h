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
  // A language model's text from a prompt: prompt, text (what it generated), promptTokens,
  // tokens, prefillTokensPerS, decodeTokensPerS, device, model ("float"); empty before one.
  Q_PROPERTY(QVariantMap generation READ generation NOTIFY generationChanged)

 public:
  // `images` serves the pictures (image://compare/...); none in tests.
  CompareController(Workbench* workbench, SampleImageProvider* images);

  // Sample `index` of the evaluation set through the float and the quantized model.
  Q_INVOKABLE void run(int index);

  // Generates up to `tokens` tokens after `prompt` with the float model (greedy), with the
  // tokenizer beside the model, as a job of this page.
  Q_INVOKABLE void generate(const QString& prompt, int tokens);

  QVariantMap result() const { return result_; }
  QVariantMap generation() const { return generation_view_; }

 signals:
  void resultChanged();
  void generationChanged();

 private:
  SampleImageProvider* images_;
  QVariantMap result_, generation_view_;
  int generation_ = 0;
};

}  // namespace qs::gui
