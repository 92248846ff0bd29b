#include "controllers/search_controller.h"

#include <QStringList>

#include "workbench_util.h"

namespace qs::gui {

namespace {

QVariantMap pointMap(const qs::SearchPoint& p) {
  QStringList bits;
  QVariantMap config;
  for (const auto& [layer, b] : p.bits) {
    bits.append(QStringLiteral("%1=%2").arg(layer.c_str()).arg(b));
    config[QString::fromStdString(layer)] = b;
  }
  return {{"label", QString::fromStdString(p.label)},
          {"costBytes", p.cost},
          {"predictedKl", p.predicted_loss},
          {"measured", p.measured.measured},
          {"measuredKl", p.measured.kl},
          {"top1", p.measured.top1},
          {"agreement", p.measured.agreement},
          {"sqnrDb", finiteOrNull(p.measured.sqnr_db)},
          {"bits", bits.join(QStringLiteral("  "))},
          {"config", config}};
}

QVariantMap searchView(const qs::SearchResult& r, const std::string& device) {
  QVariantList front, baselines;
  for (const qs::SearchPoint& p : r.front) front.append(pointMap(p));
  for (const qs::SearchPoint& p : r.baselines) baselines.append(pointMap(p));
  return {{"front", front},
          {"baselines", baselines},
          {"fp32Bytes", r.fp32_cost},
          {"fp32Top1", r.fp32_top1},
          {"rankCorrelation", finiteOrNull(r.rank_correlation)},
          {"device", QString::fromStdString(device)},
          {"notes", notesList(r.notes)}};
}

}  // namespace

SearchController::SearchController(Workbench* workbench)
    : PageController(workbench, QStringLiteral("search")) {
  connect(workbench, &Workbench::modelChanged, this, [this] { install(nullptr, {}); });
}

qs::SearchRequest SearchController::request() const {
  qs::SearchRequest r;
  r.in = wb().recipeInputs();
  r.options.verify = 5;
  return r;
}

void SearchController::install(std::shared_ptr<const qs::SearchResult> r, const QVariantMap& view) {
  raw_ = std::move(r);
  result_ = view;
  emit resultChanged();
}

bool SearchController::restoreResult() {
  const qs::SearchRequest req = request();
  const auto r = qs::find_result(wb().store(), req);
  if (!r) return false;
  install(std::make_shared<const qs::SearchResult>(*r), searchView(*r, req.in.device));
  wb().jobs()->drop(page());
  return true;
}

void SearchController::run() {
  if (!ready()) return;
  setError({});
  if (restoreResult()) return;
  const qs::SearchRequest req = request();
  Workbench* w = &wb();
  wb().jobs()->start(page(), [this, w, req](const qs::JobControl& job) -> JobRunner::Deliver {
    auto r = std::make_shared<const qs::SearchResult>(req.run(job));
    const QVariantMap view = searchView(*r, req.in.device);
    const qs::CachedResult entry = qs::cache_entry(req, *r);
    return [this, w, r, view, entry] {
      install(r, view);
      qs::store_cached(w->store(), entry);
      w->markModified();
    };
  });
}

}  // namespace qs::gui
