// The bridge between QML and the engine: the open model, the data specs, the chosen device, and
// the results of the jobs (quantize, analyze, search). QML reads properties and list/table models
// and calls the Q_INVOKABLE methods; it never reaches the engine itself. GUI thread only; the
// jobs run on the JobRunner's worker thread and hand back immutable results.
#pragma once

#include <QJsonObject>
#include <QObject>
#include <QSortFilterProxyModel>
#include <QStringList>
#include <QTimer>
#include <QVariantMap>
#include <memory>

#include "background_writer.h"
#include "job_runner.h"
#include "layer_table_model.h"
#include "quantscope/analysis.h"
#include "quantscope/dataset.h"
#include "quantscope/graph.h"
#include "quantscope/model_info.h"
#include "quantscope/project.h"
#include "quantscope/quant.h"
#include "quantscope/recipes.h"
#include "quantscope/registry.h"
#include "quantscope/search.h"
#include "sample_images.h"
#include "sensitivity_table_model.h"
#include "tune_model.h"

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
  // The project: its file (empty while untitled), unsaved changes, a notice when its model file
  // changed since the save or its device is not usable here, the settings the pages start from,
  // recent files, and an autosave left unsaved by an earlier session ({path, time}; empty when
  // there is none).
  // Tune: the per-layer widths (a table model) and the last measurement of them.
  Q_PROPERTY(QObject* tune READ tune CONSTANT)
  Q_PROPERTY(QVariantMap tuneResult READ tuneResult NOTIFY tuneResultChanged)
  // Where the current quantization's error is born and where it grows, per layer (Analyze).
  Q_PROPERTY(QVariantMap layerErrors READ layerErrors NOTIFY layerErrorsChanged)
  // Compare: one sample, float vs quantized.
  Q_PROPERTY(QVariantMap comparison READ comparison NOTIFY comparisonChanged)
  // Measure: every registered device and whether it is usable here; the last measurement.
  Q_PROPERTY(QVariantList deviceStatus READ deviceStatus CONSTANT)
  Q_PROPERTY(QVariantMap measurement READ measurement NOTIFY measurementChanged)
  Q_PROPERTY(QString projectPath READ projectPath NOTIFY projectChanged)
  Q_PROPERTY(bool modified READ modified NOTIFY projectChanged)
  Q_PROPERTY(QString projectNotice READ projectNotice NOTIFY projectChanged)
  Q_PROPERTY(QVariantMap quantizeSettings READ quantizeSettings NOTIFY projectChanged)
  Q_PROPERTY(QStringList recentProjects READ recentProjects NOTIFY recentProjectsChanged)
  Q_PROPERTY(QVariantMap recovery READ recovery NOTIFY recoveryChanged)

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
  // The registry's rounding methods, the default first: {value: name, label: its description up
  // to the first ": "}.
  Q_INVOKABLE QVariantList roundings() const;
  // Tune, Compare and Measure (workbench_pages.cpp).
  // Quantizes with the Tune table's widths and evaluates; the result also becomes the current
  // quantization (the one Export packages).
  Q_INVOKABLE void measureTune();
  // A configuration {layer: bits} (a search point) into the Tune table.
  Q_INVOKABLE void loadConfiguration(const QVariantMap& bits);
  // Each layer's output SQNR with only it quantized (error introduced) and with the whole
  // current quantization (error accumulated).
  Q_INVOKABLE void traceErrors();
  // Sample `index` of the evaluation set through the float and the quantized model.
  Q_INVOKABLE void compareSample(int index);
  // Latency on the current device: float and 8-bit end to end and per layer, and the latency
  // table of every width (which Tune then uses to predict latency).
  Q_INVOKABLE void measureLatency();

  // Projects (workbench_project.cpp). Opening keeps everything as it was when it fails (the
  // "project" error says why). `asTemplate` opens it untitled (the bundled sample).
  Q_INVOKABLE bool openProject(const QString& pathOrUrl, bool asTemplate = false);
  // Starts an untitled project on `model` with the data sets (the current ones when empty).
  Q_INVOKABLE bool newProject(const QString& model, const QString& calibration = QString(),
                              const QString& evaluation = QString(), int limit = 0);
  // Saves to `pathOrUrl`, or to the project's own file when empty; adds ".qsproj" when missing.
  Q_INVOKABLE bool saveProject(const QString& pathOrUrl = QString());
  // Replaces the current state by the autosave on offer; it stays unsaved until saved.
  Q_INVOKABLE bool recover();
  Q_INVOKABLE void discardRecovery();
  // Closing without saving: the autosave is removed and no longer written.
  Q_INVOKABLE void discardChanges();
  // Autosave: the state is written to autosavePath() `delayMs` after each change. Off by
  // default (tests, screenshots); the program turns it on.
  void setAutosave(bool on, int delayMs = 3000);
  QString autosavePath() const;
  // Offers the autosave of the current project (or of the untitled one) when it is newer.
  void checkRecovery();

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
  TuneModel* tune() const { return tune_; }
  QVariantMap tuneResult() const { return tuneResult_; }
  QVariantMap comparison() const { return comparison_; }
  QVariantMap layerErrors() const { return layerErrors_; }
  QVariantList deviceStatus() const { return deviceStatus_; }
  QVariantMap measurement() const { return measurement_; }
  // Where the Compare page's images are served (image://compare/<name>); none in tests.
  void setCompareImages(SampleImageProvider* images) { compareImages_ = images; }
  QString projectPath() const { return projectPath_; }
  bool modified() const { return modified_; }
  QString projectNotice() const { return projectNotice_; }
  QVariantMap quantizeSettings() const { return quantizeSettings_; }
  QStringList recentProjects() const;
  QVariantMap recovery() const { return recovery_; }

 signals:
  void modelChanged();
  void deviceChanged();
  void dataChanged();
  void quantResultChanged();
  void analysisChanged();
  void searchResultChanged();
  void errorsChanged();
  void exportResultChanged();
  void projectChanged();
  void tuneResultChanged();
  void comparisonChanged();
  void layerErrorsChanged();
  void measurementChanged();
  void recentProjectsChanged();
  void recoveryChanged();

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

  // Results, installed by a finished job or taken from the project's cache.
  void installQuantize(const QVariantMap& view, std::shared_ptr<const qs::QuantizedModel> q);
  void installAnalysis(const QVariantMap& view, std::shared_ptr<const qs::SensitivityResult> r);
  void installSearch(const QVariantMap& view, std::shared_ptr<const qs::SearchResult> r);
  void installTune(const QVariantMap& view, std::shared_ptr<const qs::QuantizedModel> q);
  void installErrors(const QVariantMap& view);
  // The cache key of traceErrors() for the current quantization.
  std::string errorsKey() const;
  void installMeasurement(const QVariantMap& view, std::shared_ptr<const qs::LatencyTable> t);
  // The Tune table's options from the last sweep (and latency table, when one fits).
  void rebuildTune();
  void onTuneBitsChanged();
  // What the analyze and search jobs run (the recipes shared with the CLI, and their cache keys).
  qs::RecipeInputs recipeInputs() const;
  qs::HessianRequest analysisTraces() const;
  qs::SensitivityRequest analysisSweep() const;  // its traces are filled in by the job
  qs::SearchRequest searchRequest() const;
  qs::QuantizeRequest quantizeRequest(const qs::QuantConfig& config) const;
  qs::CompareRequest compareRequest(std::shared_ptr<const qs::QuantizedModel> quantized) const;
  // The Quantize page's result for `settings` from the cache; false when it is not there.
  bool restoreQuantize(const QVariantMap& settings);
  // A quantization and its comparison with the float model (the Quantize and Tune pages): from
  // the cache, or as a job of `page`; `install` puts the view (with `extras`) in place.
  using Install = void (Workbench::*)(const QVariantMap&,
                                      std::shared_ptr<const qs::QuantizedModel>);
  bool restoreQuantized(const QString& page, const qs::QuantizeRequest& request,
                        const QVariantMap& extras, Install install);
  void startQuantized(const QString& page, const qs::QuantizeRequest& request,
                      const QVariantMap& extras, Install install);
  // The Tune page's measurement: the request for the table's widths, what its view adds to the
  // Quantize view, and the cached result for the table as it is.
  qs::QuantizeRequest tuneRequest() const;
  QVariantMap tuneExtras() const;
  bool restoreTune();
  // Install the cached result of the current requests; false when there is none.
  bool restoreAnalysis();
  bool restoreSearch();
  static QVariantMap measureSettings();
  // The cache key of a job of `kind` with `settings` on the current model, data and device.
  std::string resultKey(const QString& kind, const QVariantMap& settings) const;
  // Installs the cached result of `kind` under `key`; false when there is none (or it is bad).
  bool restoreCached(const QString& kind, const std::string& key);
  void storeCached(const QString& kind, const std::string& key, const QJsonObject& payload);
  void restoreAllCached();
  qs::Project currentProject() const;
  bool applyProject(const qs::Project& p, const QString& source);
  void markModified();
  void writeAutosave();
  void addRecent(const QString& path);

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

  TuneModel* tune_;
  SampleImageProvider* compareImages_ = nullptr;
  QVariantMap tuneResult_, comparison_, measurement_, layerErrors_;
  QVariantList deviceStatus_;
  std::shared_ptr<const qs::LatencyTable> latencyTable_;  // of the last measurement
  int compareGeneration_ = 0;

  QString modelSha_;     // of the open model file; empty for a package folder
  qs::Project project_;  // its cache and configurations; the rest is the state above
  QString projectPath_, projectNotice_;
  QVariantMap quantizeSettings_, recovery_;
  bool modified_ = false;
  bool loading_ = false;  // applying a project: its changes are not modifications
  bool autosave_ = false;
  QTimer autosaveTimer_;
  BackgroundWriter* autosaveWriter_;  // child: the autosave's serialization and atomic write
};

}  // namespace qs::gui
