#include "sensitivity_table_model.h"

#include <QVariantMap>
#include <algorithm>
#include <cmath>
#include <set>

namespace qs::gui {

SensitivityTableModel::SensitivityTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void SensitivityTableModel::setResult(const qs::SensitivityResult& result) {
  beginResetModel();
  result_ = result;
  std::set<int> bits;
  for (const qs::LayerSensitivity& l : result_.layers)
    for (const auto& [b, s] : l.bits) bits.insert(b);
  bits_.assign(bits.begin(), bits.end());
  endResetModel();
}

void SensitivityTableModel::setMetric(const QString& metric) {
  if (metric == metric_) return;
  beginResetModel();
  metric_ = metric;
  endResetModel();
  emit metricChanged();
}

double SensitivityTableModel::value(const qs::BitSensitivity& s) const {
  if (metric_ == QLatin1String("hawq")) return s.hawq;
  return metric_ == QLatin1String("kl") ? s.kl : s.sqnr_db;
}

double SensitivityTableModel::severity(double v) const {
  if (metric_ == QLatin1String("kl") || metric_ == QLatin1String("hawq")) {
    // 1e-4 nats and below: harmless; 1 nat and above: ruined (HAWQ estimates a loss increase
    // in nats too).
    if (!std::isfinite(v)) return 0.0;
    const double log_kl = std::log10(std::max(v, 1e-12));
    return std::clamp((log_kl + 4.0) / 4.0, 0.0, 1.0);
  }
  // 40 dB and above: harmless; 0 dB: the error is as large as the signal.
  if (!std::isfinite(v)) return 0.0;
  return std::clamp((40.0 - v) / 40.0, 0.0, 1.0);
}

QVariantList SensitivityTableModel::barsAt(int bits) const {
  QVariantList bars;
  for (const qs::LayerSensitivity& l : result_.layers) {
    auto it = l.bits.find(bits);
    if (it == l.bits.end()) continue;
    const double v = value(it->second);
    if (std::isnan(v)) continue;  // HAWQ without a trace
    bars.append(QVariantMap{{"name", QString::fromStdString(l.name)},
                            {"value", std::isfinite(v) ? v : 99.0},
                            {"severity", severity(v)}});
  }
  return bars;
}

QVariantList SensitivityTableModel::bitWidths() const {
  QVariantList list;
  for (int b : bits_) list.append(b);
  return list;
}

int SensitivityTableModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(result_.layers.size());
}

int SensitivityTableModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(bits_.size());
}

QVariant SensitivityTableModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid)) return {};
  const qs::LayerSensitivity& l = result_.layers[static_cast<std::size_t>(index.row())];
  auto it = l.bits.find(bits_[static_cast<std::size_t>(index.column())]);
  if (it == l.bits.end()) return {};
  const double v = value(it->second);
  switch (role) {
    case Qt::DisplayRole:
      if (std::isnan(v)) return QStringLiteral("–");
      if (!std::isfinite(v)) return QStringLiteral("∞");
      return metric_ == QLatin1String("sqnr") ? QString::number(v, 'f', 1)
                                              : QString::number(v, 'g', 2);
    case kValueRole:
      return v;
    case kSeverityRole:
      return severity(v);
    case Qt::ToolTipRole:
      return QStringLiteral("%1 at %2 bits: SQNR %3 dB, KL %4 nats, agreement %5 %%6")
          .arg(QString::fromStdString(l.name))
          .arg(it->first)
          .arg(it->second.sqnr_db, 0, 'f', 1)
          .arg(it->second.kl, 0, 'g', 3)
          .arg(it->second.agreement, 0, 'f', 1)
          .arg(std::isfinite(it->second.hawq)
                   ? QStringLiteral(", HAWQ %1").arg(it->second.hawq, 0, 'g', 3)
                   : QString());
    default:
      return {};
  }
}

QVariant SensitivityTableModel::headerData(int section, Qt::Orientation orientation,
                                           int role) const {
  if (role != Qt::DisplayRole) return {};
  if (orientation == Qt::Horizontal)
    return section >= 0 && section < columnCount()
               ? QVariant(QStringLiteral("%1 bits").arg(bits_[static_cast<std::size_t>(section)]))
               : QVariant();
  return section >= 0 && section < rowCount()
             ? QVariant(
                   QString::fromStdString(result_.layers[static_cast<std::size_t>(section)].name))
             : QVariant();
}

QHash<int, QByteArray> SensitivityTableModel::roleNames() const {
  return {{Qt::DisplayRole, "display"},
          {Qt::ToolTipRole, "toolTip"},
          {kValueRole, "value"},
          {kSeverityRole, "severity"}};
}

}  // namespace qs::gui
