#include "controllers/keyed_cache.h"

#include <QJsonDocument>

namespace qs::gui {

std::string resultKey(const Workbench& wb, const QString& kind, const QVariantMap& settings) {
  const QByteArray canonical =
      QJsonDocument(QJsonObject::fromVariantMap(settings)).toJson(QJsonDocument::Compact);
  const LoadedModel& m = wb.loaded();
  const DataSpecs& d = wb.dataSpecs();
  // A package folder has no digest: its path stands in for it.
  const QString model = m.sha.isEmpty() ? QStringLiteral("path:") + m.path : m.sha;
  return qs::result_key({kind.toStdString(), QS_VERSION, model.toStdString(), d.calibration,
                         d.evaluation, std::to_string(d.limit), wb.device().toStdString(),
                         canonical.toStdString()});
}

std::optional<QJsonObject> findPayload(const Workbench& wb, const QString& kind,
                                       const std::string& key) {
  const qs::CachedResult* hit = qs::find_cached(wb.store(), kind.toStdString(), key);
  if (!hit) return std::nullopt;
  QJsonParseError error;
  const QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromStdString(hit->json), &error);
  if (error.error != QJsonParseError::NoError || !doc.isObject()) return std::nullopt;
  return doc.object();
}

void storePayload(Workbench& wb, const QString& kind, const std::string& key,
                  const QJsonObject& payload) {
  qs::store_cached(wb.store(),
                   {kind.toStdString(),
                    key,
                    {},
                    QJsonDocument(payload).toJson(QJsonDocument::Compact).toStdString()});
  wb.markModified();
}

}  // namespace qs::gui
