// The Analyze page's heat map: rows are quantizable layers, columns are bit widths, each cell the
// sweep's measure for that layer alone at that width (SQNR in dB or KL in nats). `severity` maps
// either measure onto one 0..1 scale (0: harmless, 1: the output is ruined) so one colour scale
// means the same everywhere.
#pragma once

#include <QtQml/qqmlregistration.h>
#include <QAbstractTableModel>
#include <QVariantList>

#include "quantscope/analysis.h"

namespace qs::gui {

class SensitivityTableModel : public QAbstractTableModel {
  Q_OBJECT
  QML_ANONYMOUS
  Q_PROPERTY(QString metric READ metric WRITE setMetric NOTIFY metricChanged)

 public:
  enum Role { kValueRole = Qt::UserRole, kSeverityRole };

  explicit SensitivityTableModel(QObject* parent = nullptr);
  void setResult(const qs::SensitivityResult& result);
  QString metric() const { return metric_; }
  void setMetric(const QString& metric);  // "sqnr" or "kl"

  // Per layer at `bits`: {name, value, severity} for the bar chart.
  Q_INVOKABLE QVariantList barsAt(int bits) const;
  Q_INVOKABLE QVariantList bitWidths() const;

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation,
                      int role = Qt::DisplayRole) const override;
  QHash<int, QByteArray> roleNames() const override;

 signals:
  void metricChanged();

 private:
  double value(const qs::BitSensitivity& s) const;
  double severity(double value) const;

  qs::SensitivityResult result_;
  std::vector<int> bits_;
  QString metric_ = QStringLiteral("sqnr");
};

}  // namespace qs::gui
