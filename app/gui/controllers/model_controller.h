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
  Q_PROPERTY(double weightBytes MEMBER weightBytes)  // numbers as QML has them
  Q_PROPERTY(int opset MEMBER opset)
  Q_PROPERTY(int layerCount MEMBER layerCount)
  Q_PROPERTY(QString ops MEMBER ops)  // "Conv × 2, Relu × 3"
  // For a QDQ model: what was recovered from its Q/DQ nodes; else empty.
  Q_PROPERTY(QString imported MEMBER imported)

 public:
  QString name, params, macs, ops, imported;
  double weightBytes = 0;
  int opset = 0, layerCount = 0;
  bool operator==(const ModelSummary&) const = default;
};

// A model read, described and hashed (on a job's thread); what install() shows.
struct ModelLoad {
  LoadedModel model;
  std::shared_ptr<const qs::QuantizedModel> imported;  // recovered from a QDQ model
  QString importNote;
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
  // A transformer's blocks (layerBlocks): what the layers group into.
  Q_PROPERTY(QVariantList blocks READ blocks NOTIFY changed)
  // A language model (a decoder in Optimum's layout, or input_ids -> logits).
  Q_PROPERTY(bool decoder READ decoder NOTIFY changed)

 public:
  explicit ModelController(Workbench* workbench);

  // Reads a model (an ONNX file, or a QDQ model or package whose quantization is recovered):
  // parsed, described and hashed. Any thread; throws an error naming what is wrong.
  static ModelLoad load(const QString& pathOrUrl);
  // Makes `load` the open model (every page's results go with the previous one).
  void install(ModelLoad load);
  // Shows the layers whose any column contains `text` (any case).
  Q_INVOKABLE void filter(const QString& text) { layerProxy_->setFilterFixedString(text); }

  QString path() const { return wb().loaded().path; }
  ModelSummary summary() const { return summary_; }
  QStringList inputs() const { return inputs_; }
  QStringList outputs() const { return outputs_; }
  QAbstractItemModel* layers() const { return layerProxy_; }
  QVariantList blocks() const { return blocks_; }
  bool decoder() const { return decoder_; }

 signals:
  void changed();

 private:
  void updatePlacement();

  LayerTableModel* layerModel_;
  QSortFilterProxyModel* layerProxy_;
  ModelSummary summary_;
  QStringList inputs_, outputs_;
  QVariantList blocks_;
  bool decoder_ = false;
};

}  // namespace qs::gui
