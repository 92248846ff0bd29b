// The Measure page: latency on the chosen device, float and 8-bit, end to end and per layer, and
// the latency table of every width (which the Tune page then uses to predict latency).
#pragma once

#include <QVariantList>
#include <QVariantMap>
#include <memory>

#include "controllers/page_controller.h"
#include "quantscope/recipes.h"
#include "quantscope/search.h"

namespace qs::gui {

class MeasureController : public PageController {
  Q_OBJECT
  QML_ELEMENT
  QML_UNCREATABLE("Workbench.measure")
  // Every registered device as {name, usable, reason}.
  Q_PROPERTY(QVariantList deviceStatus READ deviceStatus CONSTANT)
  // device, integerKernels, float and quant {median, p90, p99, min, max, mean, cv, runs, cold,
  // threads, throughput, unstable}, layers [{name, op, floatMs, quantMs}], widths [{bits, ms}],
  // environment; empty before a measurement.
  Q_PROPERTY(QVariantMap result READ result NOTIFY resultChanged)

 public:
  explicit MeasureController(Workbench* workbench);

  Q_INVOKABLE void run();
  void restore() override { restoreResult(); }

  QVariantList deviceStatus() const { return wb().deviceStatus(); }
  QVariantMap result() const { return result_; }
  // The last latency table; null before a measurement.
  std::shared_ptr<const qs::LatencyTable> table() const { return table_; }

 signals:
  void resultChanged();

 private:
  // What the page's job runs (shared with the CLI's bench, quantize and latency-table).
  struct Requests {
    qs::BenchRequest fp32, int8;  // int8's quantized model is `quantize`'s result
    qs::QuantizeRequest quantize;
    qs::LatencyTableRequest table;
  };
  Requests requests() const;
  bool restoreResult();
  void install(const QVariantMap& view, std::shared_ptr<const qs::LatencyTable> t);

  QVariantMap result_;
  std::shared_ptr<const qs::LatencyTable> table_;
};

}  // namespace qs::gui
