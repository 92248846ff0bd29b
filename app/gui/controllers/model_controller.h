// The Model page: opens an ONNX model (or a QDQ model or package, whose quantization is
// recovered) and describes it: summary, inputs and outputs, and the layer table with each
// layer's placement on the chosen device.
#pragma once

#include <QSortFilterProxyModel>
#include <QStringList>

#include "controllers/page_controller.h"
#include "layer_table_model.h"

namespace qs::gui {

// What the Model page's header shows.
class ModelSummary {
  Q_GADGET
  QML_VALUE_TYPE(modelSummary)
  Q_PROPERTY(QString name MEMBER name)
  Q_PROPERTY(QString params MEMBER params)  // grouped digits
  Q_PROPERTY(QString macs MEMBER macs)
  Q_PROPERTY(qint64 weightBytes MEMBER weightBytes)
  Q_PROPERTY(qint64 opset MEMBER opset)
  Q_PROPERTY(int layerCount MEMBER layerCount)
  Q_PROPERTY(QString ops MEMBER ops)  // "Conv × 2, Relu × 3"
  // For a QDQ model: what was recovered from its Q/DQ nodes; else empty.
  Q_PROPERTY(QString imported MEMBER imported)

 public:
  QString name, params, macs, ops, imported;
  qint64 weightBytes = 0, opset = 0;
  int layerCount = 0;
  bool operator==(const ModelSummary&) const = default;
};

class ModelController : public PageController {
  Q_OBJECT
  QML_ELEMENT
  QML_UNCREATABLE("Workbench.model")
  Q_PROPERTY(QString path READ path NOTIFY changed)
  Q_PROPERTY(qs::gui::ModelSummary summary READ summary NOTIFY changed)
  Q_PROPERTY(QStringList inputs READ inputs NOTIFY changed)
  Q_PROPERTY(QStringList outputs READ outputs NOTIFY changed)
  // One row per layer, sortable (sort(column, order)) and filtered by filter().
  Q_PROPERTY(QAbstractItemModel* layers READ layers CONSTANT)

 public:
  explicit ModelController(Workbench* workbench);

  // Loads a model; on failure the "model" error says why and the previous model is kept.
  Q_INVOKABLE bool open(const QString& pathOrUrl);
  // Shows the layers whose any column contains `text` (any case).
  Q_INVOKABLE void filter(const QString& text) { layerProxy_->setFilterFixedString(text); }

  QString path() const { return wb().loaded().path; }
  ModelSummary summary() const { return summary_; }
  QStringList inputs() const { return inputs_; }
  QStringList outputs() const { return outputs_; }
  QAbstractItemModel* layers() const { return layerProxy_; }

 signals:
  void changed();

 private:
  void updatePlacement();

  LayerTableModel* layerModel_;
  QSortFilterProxyModel* layerProxy_;
  ModelSummary summary_;
  QStringList inputs_, outputs_;
};

}  // namespace qs::gui
