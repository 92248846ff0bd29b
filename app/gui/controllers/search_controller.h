// The Search page: the Pareto front of predicted KL against model size over per-layer widths,
// its best points verified by measurement, beside the uniform-width baselines.
#pragma once

#include <QVariantMap>
#include <memory>

#include "controllers/page_controller.h"
#include "quantscope/search.h"

namespace qs::gui {

class SearchController : public PageController {
  Q_OBJECT
  QML_ELEMENT
  QML_UNCREATABLE("Workbench.search")
  // front and baselines [{label, costBytes, predictedKl, measured, measuredKl, top1, agreement,
  // sqnrDb, bits, config}], fp32Bytes, fp32Top1, rankCorrelation, device, notes; empty before a
  // run.
  Q_PROPERTY(QVariantMap result READ result NOTIFY resultChanged)

 public:
  explicit SearchController(Workbench* workbench);

  Q_INVOKABLE void run();
  void restore() override { restoreResult(); }

  QVariantMap result() const { return result_; }
  // The last search; null before one (the export's report includes it).
  std::shared_ptr<const qs::SearchResult> raw() const { return raw_; }

 signals:
  void resultChanged();

 private:
  qs::SearchRequest request() const;
  bool restoreResult();
  void install(std::shared_ptr<const qs::SearchResult> r, const QVariantMap& view);

  QVariantMap result_;
  std::shared_ptr<const qs::SearchResult> raw_;
};

}  // namespace qs::gui
