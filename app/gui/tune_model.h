// The Tune page's table: one row per quantizable layer with its chosen weight width and what
// that width is predicted to cost (the layer's KL alone at that width from the sensitivity
// sweep, its bytes, BOPs and, with a latency table, its time). Changing a width updates the
// row and the totals at once: no engine call, only sums over the precomputed options.
#pragma once

#include <QtQml/qqmlregistration.h>
#include <QAbstractTableModel>
#include <QVariantMap>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "quantscope/search.h"

namespace qs::gui {

class TuneModel : public QAbstractTableModel {
  Q_OBJECT
  QML_ANONYMOUS
  Q_PROPERTY(QVariantMap totals READ totals NOTIFY totalsChanged)

 public:
  // kValueRole is the cell's number; the others describe the whole row (any column), for
  // list views.
  enum Role {
    kValueRole = Qt::UserRole,
    kBitsRole,
    kChoicesRole,
    kSeverityRole,
    kNameRole,
    kOpRole,
    kParamsRole,
    kKlRole,
    kBytesRole,
    kBopsRole,
    kMsRole
  };
  enum Column { kLayer, kOp, kParams, kBits, kKl, kBytes, kBops, kLatency, kColumns };

  // What one width of one layer costs, by each measure.
  struct Choice {
    int bits = 8;
    double kl = 0, bytes = 0, bops = 0, ms = -1;
  };
  struct Layer {
    std::string name, op;
    std::int64_t params = 0;
    std::vector<Choice> choices;  // ascending bits
  };
  struct Fixed {
    double bytes = 0, bops = 0, ms = -1;  // what the layers do not cover (ms: -1 without a table)
    double fp32_bytes = 0;
    std::string latency_device;
  };

  explicit TuneModel(QObject* parent = nullptr);
  // Keeps the widths already chosen for layers that remain; new layers start at 8 bits.
  void setLayers(std::vector<Layer> layers, Fixed fixed);
  void clear();
  bool empty() const { return layers_.empty(); }

  Q_INVOKABLE bool setBits(int row, int bits);
  Q_INVOKABLE void setAllBits(int bits);  // the nearest width each layer has
  // Sets the listed layers (others keep theirs); unknown layers and widths are ignored.
  void setBitsMap(const std::map<std::string, int>& bits);
  std::map<std::string, int> bitsMap() const;
  // {predictedKl, bytes, fp32Bytes, bops, latencyMs (-1 without a table), latencyDevice,
  //  averageBits (weighted by parameters), layers}
  QVariantMap totals() const { return totals_; }

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  bool setData(const QModelIndex& index, const QVariant& value, int role = Qt::EditRole) override;
  Qt::ItemFlags flags(const QModelIndex& index) const override;
  QVariant headerData(int section, Qt::Orientation orientation,
                      int role = Qt::DisplayRole) const override;
  QHash<int, QByteArray> roleNames() const override;

 signals:
  void totalsChanged();
  void bitsChanged();  // a width was changed (not emitted by setLayers)

 private:
  const Choice* chosen(std::size_t row) const;
  void updateTotals();

  std::vector<Layer> layers_;
  std::vector<int> bits_;  // per row
  Fixed fixed_;
  QVariantMap totals_;
};

}  // namespace qs::gui
