// The Tune page: one width per layer in a table whose predictions (KL from the sensitivity
// sweep, bytes, BOPs, latency from the Measure page's table) update as widths change; measuring
// the table's configuration quantizes with it and makes it the current quantization.
#pragma once

#include <QVariantMap>

#include "controllers/page_controller.h"
#include "tune_model.h"

namespace qs::gui {

class TuneController : public PageController {
  Q_OBJECT
  QML_ELEMENT
  QML_UNCREATABLE("Workbench.tune")
  Q_PROPERTY(qs::gui::TuneModel* table READ table CONSTANT)
  // The last measurement: the Quantize page's view plus bits {layer: width}, predictedKl,
  // predictedBytes and stale (the table's widths changed since); empty before one.
  Q_PROPERTY(QVariantMap result READ result NOTIFY resultChanged)

 public:
  explicit TuneController(Workbench* workbench);

  // Quantizes with the table's widths and evaluates.
  Q_INVOKABLE void measure();
  // A configuration {layer: bits} (a search point) into the table; kept for when the table
  // exists when there is none yet.
  Q_INVOKABLE void loadConfiguration(const QVariantMap& bits);
  // The project's tuned configuration into the table, and its measurement when cached.
  void restore() override;

  TuneModel* table() const { return table_; }
  QVariantMap result() const { return result_; }

 signals:
  void resultChanged();

 private:
  // The table's options from the last sweep (and latency table, when one fits).
  void rebuild();
  void onBitsChanged();
  qs::QuantizeRequest request() const;
  QVariantMap extras() const;  // what the view adds to the Quantize view
  void install(const QVariantMap& view, std::shared_ptr<const qs::QuantizedModel> q);
  void setResult(const QVariantMap& view);
  QVariantMap storedBits() const;  // the project's "tuned" configuration

  TuneModel* table_;
  QVariantMap result_;
};

}  // namespace qs::gui
