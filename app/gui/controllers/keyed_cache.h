// The project's cache for the pages whose jobs are not engine recipes yet (the error trace and
// the latency measurement): a key from the page's kind, the model, data, device and the job's
// settings; a JSON payload with the page's view and what else it needs.
#pragma once

#include <QJsonObject>
#include <QVariantMap>
#include <optional>
#include <string>

#include "workbench.h"

namespace qs::gui {

std::string resultKey(const Workbench& wb, const QString& kind, const QVariantMap& settings);
// The payload stored under `key`, when there is one and it parses.
std::optional<QJsonObject> findPayload(const Workbench& wb, const QString& kind,
                                       const std::string& key);
void storePayload(Workbench& wb, const QString& kind, const std::string& key,
                  const QJsonObject& payload);

}  // namespace qs::gui
