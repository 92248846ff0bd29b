// The Model page's layer table: one row per node with its op, parameters, MACs, output shape and
// the device that runs it. Qt::DisplayRole gives text, Qt::UserRole the raw value to sort by.
#pragma once

#include <QAbstractTableModel>
#include <QVariantList>
#include <vector>

#include "quantscope/device.h"
#include "quantscope/model_info.h"

namespace qs::gui {

class LayerTableModel : public QAbstractTableModel {
  Q_OBJECT

 public:
  enum Column { kName, kOp, kParams, kMacs, kOutput, kRunsOn, kColumnCount };

  explicit LayerTableModel(QObject* parent = nullptr);
  // Replaces the rows; `placements` may be empty (device unknown).
  void setLayers(const std::vector<qs::LayerInfo>& layers,
                 const std::vector<qs::Placement>& placements);

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation,
                      int role = Qt::DisplayRole) const override;
  QHash<int, QByteArray> roleNames() const override;

 private:
  struct Row {
    qs::LayerInfo layer;
    QString runsOn, fallbackReason;
  };
  std::vector<Row> rows_;
};

// A transformer's repeated blocks, from the module paths torch.onnx writes into node names
// ("/model/layers.3/self_attn/q_proj/MatMul" is in block "layers.3"): {name, filter (a text
// that selects its rows), layers, params, macs} in the order they first appear, then the nodes
// outside any block as one entry. Empty when the names show fewer than two blocks.
QVariantList layerBlocks(const std::vector<qs::LayerInfo>& layers);

// Thousands separated: 1234567 -> "1,234,567".
QString groupedNumber(qint64 value);

}  // namespace qs::gui
