// The bridge between QML and the engine: the open model, the data specs, the chosen device, and
// the results of the jobs (quantize, analyze, search). QML reads properties and list/table models
// and calls the Q_INVOKABLE methods; it never reaches the engine itself. GUI thread only; the
// jobs run on the JobRunner's worker thread and hand back immutable results.
#pragma once

#include <QObject>
#include <QSortFilterProxyModel>
#include <QStringList>
#include <QVariantMap>
#include <memory>

#include "job_runner.h"
#include "layer_table_model.h"
#include "quantscope/analysis.h"
#include "quantscope/dataset.h"
#include "quantscope/graph.h"
#include "quantscope/model_info.h"
#include "quantscope/quant.h"
#include "quantscope/registry.h"
#include "quantscope/search.h"
#include "sample_images.h"
#include "sensitivity_table_model.h"

namespace qs::gui {

class Workbench : public QObject {
  Q_OBJECT
  Q_PROPERTY(QString modelPath READ modelPath NOTIFY modelChanged)
  Q_PROPERTY(QVariantMap summary READ summary NOTIFY modelChanged)
  Q_PROPERTY(QStringList inputs READ inputs NOTIFY modelChanged)
  Q_PROPERTY(QStringList outputs READ outputs NOTIFY modelChanged)
  Q_PROPERTY(QObject* layers READ layers CONSTANT)
  Q_PROPERTY(QStringList devices READ devices CONSTANT)
  Q_PROPERTY(QString device READ device WRITE setDevice NOTIFY deviceChanged)
  Q_PROPERTY(QVariantMap data READ data NOTIFY dataChanged)
  Q_PROPERTY(QVariantList samples READ samples NOTIFY dataChanged)
  Q_PROPERTY(QObject* jobs READ jobs CONSTANT)
  Q_PROPERTY(QVariantMap quantResult READ quantResult NOTIFY quantResultChanged)
  Q_PROPERTY(QObject* sensitivity READ sensitivity CONSTANT)
  Q_PROPERTY(QVariantMap analysis READ analysis NOTIFY analysisChanged)
  Q_PROPERTY(QVariantMap searchResult READ searchResult NOTIFY searchResultChanged)
  Q_PROPERTY(QVariantMap errors READ errors NOTIFY errorsChanged)
  Q_PROPERTY(QVariantMap exportResult READ exportResult NOTIFY exportResultChanged)
  Q_PROPERTY(QString suggestedExportPath READ suggestedExportPath NOTIFY quantResultChanged)
  // What the Export page packages: the last quantize job's result, or the quantization
  // recovered from an opened QDQ model; empty when there is none.
  Q_PROPERTY(QString quantizationLabel READ quantizationLabel NOTIFY quantResultChanged)

 public:
  Workbench(std::unique_ptr<qs::Registry> registry, SampleImageProvider* images,
            QObject* parent = nullptr);
  ~Workbench() override;

  // Loads a model; on failure the "model" error says why and the previous model is kept.
  Q_INVOKABLE bool openModel(const QString& pathOrUrl);
  // Opens the calibration and evaluation sets (first `limit` samples each, all when < 1).
  Q_INVOKABLE bool setData(const QString& calibration, const QString& evaluation, int limit);
  // Jobs. Settings: weightBits, actBits (0 = float), granularity ("tensor", "channel", "group:G"),
  // calibrator, rounding.
  Q_INVOKABLE void quantize(const QVariantMap& settings);
  Q_INVOKABLE void analyze();
  Q_INVOKABLE void search();
  // Writes the deployment package of the last quantization (a folder, or a .zip) and
  // evaluates it on the evaluation set; the "export" error says why when it cannot.
  Q_INVOKABLE void exportPackage(const QString& output);
  Q_INVOKABLE QStringList calibrators() const;

  QString modelPath() const { return modelPath_; }
  QVariantMap summary() const { return summary_; }
  QStringList inputs() const { return inputs_; }
  QStringList outputs() const { return outputs_; }
  QObject* layers() const { return layerProxy_; }
  QStringList devices() const { return devices_; }
  QString device() const { return device_; }
  void setDevice(const QString& name);
  QVariantMap data() const { return data_; }
  QVariantList samples() const { return samples_; }
  JobRunner* jobs() const { return jobs_; }
  QVariantMap quantResult() const { return quantResult_; }
  QObject* sensitivity() const { return sensitivity_; }
  QVariantMap analysis() const { return analysis_; }
  QVariantMap searchResult() const { return searchResult_; }
  QVariantMap errors() const { return errors_; }
  QVariantMap exportResult() const { return exportResult_; }
  QString suggestedExportPath() const;
  QString quantizationLabel() const;

 signals:
  void modelChanged();
  void deviceChanged();
  void dataChanged();
  void quantResultChanged();
  void analysisChanged();
  void searchResultChanged();
  void errorsChanged();
  void exportResultChanged();

 private:
  // What a job needs, copied so the job never touches the Workbench from its thread.
  struct JobInputs {
    std::shared_ptr<const qs::Graph> graph;
    std::string calibration, evaluation, device;
    std::int64_t limit = -1;
    qs::Preprocess preprocess;
    const qs::Registry* registry = nullptr;
  };
  JobInputs jobInputs() const;
  bool ready(const QString& page);
  void setError(const QString& page, const QString& text);
  void updatePlacement();
  void onJobFinished(const QString& kind, bool ok, const QString& error);

  std::unique_ptr<qs::Registry> registry_;
  SampleImageProvider* images_;
  JobRunner* jobs_;
  LayerTableModel* layerModel_;
  QSortFilterProxyModel* layerProxy_;
  SensitivityTableModel* sensitivity_;

  std::shared_ptr<const qs::Graph> graph_;
  qs::ModelInfo info_;
  qs::Preprocess preprocess_;
  QString modelPath_, device_;
  QStringList devices_, inputs_, outputs_;
  QVariantMap summary_, data_, quantResult_, analysis_, searchResult_, errors_, exportResult_;
  std::shared_ptr<const qs::QuantizedModel> quantized_;  // of the last quantize job
  // The last analysis and search, for the export's report.
  std::shared_ptr<const qs::SensitivityResult> sensitivityResult_;
  std::shared_ptr<const qs::SearchResult> searchRaw_;
  QVariantList samples_;
  std::string calibration_, evaluation_;
  std::int64_t limit_ = -1;
  int sampleGeneration_ = 0;
};

}  // namespace qs::gui
