// The session behind the window: the open model, the data sets, the device, the project's cache
// and the current quantization. The pages' work lives in their controllers (controllers/), which
// QML reaches as Workbench.model, Workbench.quantize, ...; they share this state and nothing else.
// GUI thread only; a job copies what it needs (recipeInputs()) and never touches this object
// from its thread.
#pragma once

#include <QObject>
#include <QQmlEngine>
#include <QStringList>
#include <QVariantMap>
#include <memory>

#include "job_runner.h"
#include "quantscope/graph.h"
#include "quantscope/model_info.h"
#include "quantscope/project.h"
#include "quantscope/quant.h"
#include "quantscope/recipes.h"
#include "quantscope/registry.h"

Q_MOC_INCLUDE("controllers/model_controller.h")
Q_MOC_INCLUDE("controllers/data_controller.h")
Q_MOC_INCLUDE("controllers/quantize_controller.h")
Q_MOC_INCLUDE("controllers/analyze_controller.h")
Q_MOC_INCLUDE("controllers/search_controller.h")
Q_MOC_INCLUDE("controllers/tune_controller.h")
Q_MOC_INCLUDE("controllers/compare_controller.h")
Q_MOC_INCLUDE("controllers/measure_controller.h")
Q_MOC_INCLUDE("controllers/export_controller.h")
Q_MOC_INCLUDE("controllers/project_controller.h")

namespace qs::gui {

class SampleImageProvider;
class ModelController;
class DataController;
class QuantizeController;
class AnalyzeController;
class SearchController;
class TuneController;
class CompareController;
class MeasureController;
class ExportController;
class ProjectController;

// The open model, as ModelController::open loaded it.
struct LoadedModel {
  std::shared_ptr<const qs::Graph> graph;
  qs::ModelInfo info;
  qs::Preprocess preprocess;
  QString path;
  QString sha;  // of the file; empty for a package folder
};

// The calibration and evaluation sets (specs as the CLI takes them) and the samples read from
// each (all when limit < 1).
struct DataSpecs {
  std::string calibration, evaluation;
  std::int64_t limit = -1;
};

class Workbench : public QObject {
  Q_OBJECT
  QML_ELEMENT
  QML_SINGLETON
  Q_PROPERTY(qs::gui::ModelController* model READ model CONSTANT)
  Q_PROPERTY(qs::gui::DataController* data READ data CONSTANT)
  Q_PROPERTY(qs::gui::QuantizeController* quantize READ quantize CONSTANT)
  Q_PROPERTY(qs::gui::AnalyzeController* analyze READ analyze CONSTANT)
  Q_PROPERTY(qs::gui::SearchController* search READ search CONSTANT)
  Q_PROPERTY(qs::gui::TuneController* tune READ tune CONSTANT)
  Q_PROPERTY(qs::gui::CompareController* compare READ compare CONSTANT)
  Q_PROPERTY(qs::gui::MeasureController* measure READ measure CONSTANT)
  Q_PROPERTY(qs::gui::ExportController* exporter READ exporter CONSTANT)
  Q_PROPERTY(qs::gui::ProjectController* project READ project CONSTANT)
  Q_PROPERTY(QObject* jobs READ jobs CONSTANT)
  // The usable devices and the one the jobs run on.
  Q_PROPERTY(QStringList devices READ devices CONSTANT)
  Q_PROPERTY(QString device READ device WRITE setDevice NOTIFY deviceChanged)
  // page -> the error it shows ("model", "data", "quantize", ..., "project").
  Q_PROPERTY(QVariantMap errors READ errors NOTIFY errorsChanged)
  // Unsaved changes in the project.
  Q_PROPERTY(bool modified READ modified NOTIFY modifiedChanged)
  // The current quantization (the last Quantize or Tune measurement, or one recovered from an
  // opened QDQ model), which Compare, the error trace and Export work on: its view (what the
  // Quantize page shows) and its label; both empty when there is none.
  Q_PROPERTY(QVariantMap quantization READ quantization NOTIFY quantizationChanged)
  Q_PROPERTY(QString quantizationLabel READ quantizationLabel NOTIFY quantizationChanged)

 public:
  Workbench(std::unique_ptr<qs::Registry> registry, SampleImageProvider* samples,
            SampleImageProvider* compareImages = nullptr, QObject* parent = nullptr);
  ~Workbench() override;

  // QML's singleton: the instance the program (or a test) registered with setInstance().
  static Workbench* create(QQmlEngine*, QJSEngine*);
  static void setInstance(Workbench* workbench);

  ModelController* model() const { return model_; }
  DataController* data() const { return data_; }
  QuantizeController* quantize() const { return quantize_; }
  AnalyzeController* analyze() const { return analyze_; }
  SearchController* search() const { return search_; }
  TuneController* tune() const { return tune_; }
  CompareController* compare() const { return compare_; }
  MeasureController* measure() const { return measure_; }
  ExportController* exporter() const { return exporter_; }
  ProjectController* project() const { return project_; }
  JobRunner* jobs() const { return jobs_; }
  const qs::Registry& registry() const { return *registry_; }
  QStringList devices() const { return devices_; }
  // Every registered device as {name, usable, reason}.
  const QVariantList& deviceStatus() const { return deviceStatus_; }
  // Whether the device has integer kernels for quantized graphs (asked when the session began).
  bool integerKernels(const QString& device) const;
  QString device() const { return device_; }
  void setDevice(const QString& name);
  QVariantMap errors() const { return errors_; }
  bool modified() const { return modified_; }
  QVariantMap quantization() const { return quantizationView_; }
  QString quantizationLabel() const;
  std::shared_ptr<const qs::QuantizedModel> quantized() const { return quantized_; }

  // The session's state, set by the controllers that own each part.
  const LoadedModel& loaded() const { return loaded_; }
  // The loaded model is a language model (decoder_layout).
  bool isDecoder() const { return decoder_; }
  bool hasModel() const { return loaded_.graph != nullptr; }
  // A new model: the jobs of the previous one are dropped, its quantization is `imported`.
  void setModel(LoadedModel model, std::shared_ptr<const qs::QuantizedModel> imported);
  const DataSpecs& dataSpecs() const { return specs_; }
  void setDataSpecs(DataSpecs specs);
  void setQuantization(const QVariantMap& view, std::shared_ptr<const qs::QuantizedModel> q);
  // The project's result cache, configurations and settings (the rest of the project file is
  // the state above).
  qs::Project& store() { return store_; }
  const qs::Project& store() const { return store_; }

  // What every job starts from: model, data and device (the recipes shared with the CLI).
  qs::RecipeInputs recipeInputs() const;
  // False (with the page's error saying what to do first) when the model or data is missing.
  bool ready(const QString& page);
  void setError(const QString& page, const QString& text);
  // A change to save; none while `loading` (a project being applied, or the saved state).
  void markModified();
  void setModified(bool modified);
  void setLoading(bool loading) { loading_ = loading; }

 signals:
  void modelChanged();  // a new model: every page's results are gone
  void dataChanged();   // the data specs
  void deviceChanged();
  void errorsChanged();
  void modifiedChanged();
  void changed();  // each modification (the autosave's timer)
  void quantizationChanged();

 private:
  void onJobFinished(const QString& kind, bool ok, const QString& error);

  std::unique_ptr<qs::Registry> registry_;
  JobRunner* jobs_;  // first child: destroyed (its workers stopped) before the controllers
  LoadedModel loaded_;
  bool decoder_ = false;  // the loaded model is a language model (decoder_layout)
  DataSpecs specs_;
  QStringList devices_;
  QVariantList deviceStatus_;
  QString device_;
  QVariantMap errors_, quantizationView_;
  std::shared_ptr<const qs::QuantizedModel> quantized_;
  qs::Project store_;
  bool modified_ = false;
  bool loading_ = false;

  ModelController* model_;
  DataController* data_;
  QuantizeController* quantize_;
  AnalyzeController* analyze_;
  SearchController* search_;
  TuneController* tune_;
  CompareController* compare_;
  MeasureController* measure_;
  ExportController* exporter_;
  ProjectController* project_;
};

}  // namespace qs::gui
