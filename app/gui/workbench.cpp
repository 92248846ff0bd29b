#include "workbench.h"

#include <QFileInfo>
#include <filesystem>

#include "controllers/analyze_controller.h"
#include "controllers/compare_controller.h"
#include "controllers/data_controller.h"
#include "controllers/export_controller.h"
#include "controllers/measure_controller.h"
#include "controllers/model_controller.h"
#include "controllers/project_controller.h"
#include "controllers/quantize_controller.h"
#include "controllers/search_controller.h"
#include "controllers/tune_controller.h"
#include "quantscope/language_model.h"

namespace qs::gui {

namespace {

Workbench* theInstance = nullptr;

}  // namespace

Workbench::Workbench(std::unique_ptr<qs::Registry> registry, SampleImageProvider* samples,
                     SampleImageProvider* compareImages, QObject* parent)
    : QObject(parent), registry_(std::move(registry)), jobs_(new JobRunner(this)) {
  for (const std::string& name : registry_->device_names()) {
    QVariantMap status{{"name", QString::fromStdString(name)}, {"usable", false}};
    try {
      const std::unique_ptr<qs::Device> device = registry_->create_device(name);
      const qs::DeviceStatus s = device->status();
      status["usable"] = s.usable;
      // Asked once here: pages must not create devices on the GUI thread to learn it.
      status["integerKernels"] = s.usable && device->use_integer_kernels(true);
      status["reason"] = QString::fromStdString(s.reason);
      if (s.usable) devices_.append(QString::fromStdString(name));
    } catch (const std::exception& e) {
      status["reason"] = QString::fromUtf8(e.what());  // not offered
    }
    deviceStatus_.append(status);
  }
  // The fast CPU device when it is here, else the reference kernels.
  device_ = devices_.contains(QStringLiteral("cpu-onednn")) ? QStringLiteral("cpu-onednn")
                                                            : QStringLiteral("cpu-ref");
  connect(jobs_, &JobRunner::finished, this, &Workbench::onJobFinished);
  // In the order they depend on each other: Tune reads Analyze's and Measure's results.
  model_ = new ModelController(this);
  data_ = new DataController(this, samples);
  quantize_ = new QuantizeController(this);
  analyze_ = new AnalyzeController(this);
  search_ = new SearchController(this);
  measure_ = new MeasureController(this);
  tune_ = new TuneController(this);
  compare_ = new CompareController(this, compareImages);
  exporter_ = new ExportController(this);
  project_ = new ProjectController(this);
}

Workbench::~Workbench() {
  project_->close();  // while every page is still here to describe the state
  if (theInstance == this) theInstance = nullptr;
}

Workbench* Workbench::create(QQmlEngine*, QJSEngine*) {
  Q_ASSERT(theInstance);
  QJSEngine::setObjectOwnership(theInstance, QJSEngine::CppOwnership);
  return theInstance;
}

void Workbench::setInstance(Workbench* workbench) {
  theInstance = workbench;
}

bool Workbench::integerKernels(const QString& device) const {
  for (const QVariant& v : deviceStatus_) {
    const QVariantMap status = v.toMap();
    if (status.value(QStringLiteral("name")).toString() == device)
      return status.value(QStringLiteral("integerKernels")).toBool();
  }
  return false;
}

void Workbench::setDevice(const QString& name) {
  if (name == device_) return;
  device_ = name;
  markModified();
  emit deviceChanged();
}

void Workbench::setModel(LoadedModel model, std::shared_ptr<const qs::QuantizedModel> imported) {
  jobs_->dropAll();  // their results are the previous model's
  loaded_ = std::move(model);
  try {  // a malformed cache (a past without its present) is no decoder here, and no crash
    decoder_ = loaded_.graph && qs::decoder_layout(*loaded_.graph).has_value();
  } catch (const qs::Error&) {
    decoder_ = false;
  }
  quantized_ = std::move(imported);
  quantizationView_.clear();
  emit modelChanged();
  emit quantizationChanged();
  markModified();
}

void Workbench::setDataSpecs(DataSpecs specs) {
  specs_ = std::move(specs);
  markModified();
  emit dataChanged();
}

void Workbench::setQuantization(const QVariantMap& view,
                                std::shared_ptr<const qs::QuantizedModel> q) {
  quantizationView_ = view;
  quantized_ = std::move(q);
  emit quantizationChanged();
}

QString Workbench::quantizationLabel() const {
  if (!quantized_) return {};
  if (quantizationView_.contains(QStringLiteral("config")))
    return quantizationView_.value(QStringLiteral("config")).toString();
  return tr("recovered from %1").arg(QFileInfo(loaded_.path).fileName());
}

qs::RecipeInputs Workbench::recipeInputs() const {
  qs::RecipeInputs in;
  in.graph = loaded_.graph;
  // A package folder has no digest: its absolute path stands in for it (as in the CLI).
  in.model_id =
      !loaded_.sha.isEmpty()
          ? loaded_.sha.toStdString()
          : "path:" +
                std::filesystem::absolute(loaded_.path.toStdString()).lexically_normal().string();
  in.calibration = specs_.calibration;
  in.evaluation = specs_.evaluation;
  in.preprocess = loaded_.preprocess;
  in.limit = in.eval_limit = specs_.limit;
  in.device = device_.toStdString();
  in.registry = registry_.get();
  return in;
}

bool Workbench::ready(const QString& page) {
  if (!hasModel()) {
    setError(page, tr("Open a model first (Model page)."));
    return false;
  }
  // A language model is read, scored and generates here; the quantizing pages do not take one yet.
  // Generating needs the model and its tokenizer, not the data sets.
  if (decoder_ && page == QStringLiteral("compare")) return true;
  if (decoder_) {
    setError(page, tr("This page quantizes image models; a language model is shown on the Model, "
                      "Data and Compare pages (and scored with quantscope-cli eval, generate and "
                      "bench). Quantizing language models is not built yet."));
    return false;
  }
  if (specs_.calibration.empty() || errors_.contains(QStringLiteral("data"))) {
    setError(page, tr("The data sets could not be opened; fix them on the Data page."));
    return false;
  }
  return true;
}

void Workbench::setError(const QString& page, const QString& text) {
  if (text.isEmpty() ? !errors_.contains(page) : errors_.value(page).toString() == text) return;
  if (text.isEmpty())
    errors_.remove(page);
  else
    errors_[page] = text;
  emit errorsChanged();
}

void Workbench::markModified() {
  if (loading_) return;
  setModified(true);
  emit changed();
}

void Workbench::setModified(bool modified) {
  if (modified_ == modified) return;
  modified_ = modified;
  emit modifiedChanged();
}

void Workbench::onJobFinished(const QString& kind, bool ok, const QString& error) {
  if (!ok)
    setError(kind, error == tr("cancelled") ? tr("Cancelled; press Run to start again.") : error);
}

}  // namespace qs::gui
