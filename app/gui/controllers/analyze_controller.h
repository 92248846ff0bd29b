// The Analyze page: per-layer Hessian traces and the sensitivity sweep (the heat map, and the
// predictions the Tune page and the export's report use), and the trace of the current
// quantization's error through the layers.
#pragma once

#include <QVariantMap>
#include <memory>

#include "controllers/page_controller.h"
#include "quantscope/analysis.h"
#include "sensitivity_table_model.h"

namespace qs::gui {

class AnalyzeController : public PageController {
  Q_OBJECT
  QML_ELEMENT
  QML_UNCREATABLE("Workbench.analyze")
  // The sweep as a heat map (layers x widths).
  Q_PROPERTY(qs::gui::SensitivityTableModel* table READ table CONSTANT)
  // The traces beside the sweep's HAWQ estimate and measured KL: hessian [{name, trace, stderr,
  // params, byBits}], hessianProbes, hessianSamples, hessianLoss, fp32Top1, samples, layers,
  // device, notes; empty before a run.
  Q_PROPERTY(QVariantMap result READ result NOTIFY resultChanged)
  // Each layer's output SQNR with only it quantized (introduced) and with the whole current
  // quantization (accumulated): {config, samples, device, layers [{name, op, introduced,
  // accumulated}]}; empty until traced for the current quantization.
  Q_PROPERTY(QVariantMap layerErrors READ layerErrors NOTIFY layerErrorsChanged)
  // The error trace's own error and job (the page's are the analysis').
  Q_PROPERTY(QString traceError READ traceError NOTIFY errorChanged)
  Q_PROPERTY(bool tracing READ tracing NOTIFY runningChanged)

 public:
  explicit AnalyzeController(Workbench* workbench);

  Q_INVOKABLE void run();
  Q_INVOKABLE void traceErrors();
  void restore() override;

  SensitivityTableModel* table() const { return table_; }
  QVariantMap result() const { return result_; }
  QVariantMap layerErrors() const { return layerErrors_; }
  QString traceError() const;
  bool tracing() const;
  // The last sweep; null before one.
  std::shared_ptr<const qs::SensitivityResult> sweep() const { return sweep_; }

 signals:
  void resultChanged();
  void layerErrorsChanged();

 private:
  qs::HessianRequest tracesRequest() const;
  qs::SensitivityRequest sweepRequest() const;  // its traces are filled in by the job
  bool restoreSweep();
  void install(const QVariantMap& view, std::shared_ptr<const qs::SensitivityResult> r);
  void clear();
  // The error trace of the current quantization, and its cached view.
  qs::ErrorsRequest errorsRequest() const;
  bool restoreErrors();
  void setLayerErrors(const QVariantMap& view);

  SensitivityTableModel* table_;
  QVariantMap result_, layerErrors_;
  std::shared_ptr<const qs::SensitivityResult> sweep_;
};

}  // namespace qs::gui
