// The Export page: the deployment package of the current quantization (QDQ ONNX, manifest,
// report with the analysis and search when there are), as a folder or a .zip, evaluated per
// class on the evaluation set.
#pragma once

#include <QVariantMap>

#include "controllers/page_controller.h"

namespace qs::gui {

class ExportController : public PageController {
  Q_OBJECT
  QML_ELEMENT
  QML_UNCREATABLE("Workbench.exporter")
  // path, zip, files, opset, evaluated, floatTop1, quantTop1, agreement, samples, classes
  // [{label, samples, floatTop1, quantTop1, flagged}], flagged, threshold, notes; empty before
  // an export of the current quantization.
  Q_PROPERTY(QVariantMap result READ result NOTIFY resultChanged)
  // ~/quantscope-export/<model>-w<bits>a<bits>.
  Q_PROPERTY(QString suggestedPath READ suggestedPath NOTIFY suggestedPathChanged)

 public:
  explicit ExportController(Workbench* workbench);

  // Writes the package to `output` (a folder, or a file ending in .zip); the "export" error
  // says why when it cannot.
  Q_INVOKABLE void run(const QString& output);

  QVariantMap result() const { return result_; }
  QString suggestedPath() const;

 signals:
  void resultChanged();
  void suggestedPathChanged();

 private:
  void setResult(const QVariantMap& result);

  QVariantMap result_;
};

}  // namespace qs::gui
