#include "workbench.h"

#include <QFileInfo>
#include <QUrl>
#include <algorithm>

#include "quantscope/error.h"
#include "quantscope/export.h"
#include "quantscope/model.h"
#include "workbench_util.h"

namespace qs::gui {

namespace {

QString describeValue(const qs::ValueInfo& v) {
  QString text = QString::fromStdString(v.name) + QStringLiteral("  ") +
                 QString::fromStdString(qs::dtype_name(v.dtype));
  if (v.has_shape) text += ' ' + QString::fromStdString(qs::shape_to_string(v.shape));
  return text;
}

}  // namespace

Workbench::Workbench(std::unique_ptr<qs::Registry> registry, SampleImageProvider* images,
                     QObject* parent)
    : QObject(parent),
      registry_(std::move(registry)),
      images_(images),
      jobs_(new JobRunner(this)),
      layerModel_(new LayerTableModel(this)),
      layerProxy_(new QSortFilterProxyModel(this)),
      sensitivity_(new SensitivityTableModel(this)),
      tune_(new TuneModel(this)) {
  layerProxy_->setSourceModel(layerModel_);
  layerProxy_->setSortRole(Qt::UserRole);
  layerProxy_->setFilterKeyColumn(-1);
  layerProxy_->setFilterCaseSensitivity(Qt::CaseInsensitive);
  for (const std::string& name : registry_->device_names()) {
    QVariantMap status{{"name", QString::fromStdString(name)}, {"usable", false}};
    try {
      const qs::DeviceStatus s = registry_->create_device(name)->status();
      status["usable"] = s.usable;
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
  connect(tune_, &TuneModel::bitsChanged, this, &Workbench::onTuneBitsChanged);
  autosaveWriter_ = new BackgroundWriter(this);
  connect(autosaveWriter_, &BackgroundWriter::failed, this, [this](const QString& error) {
    setError(QStringLiteral("project"), tr("Autosave failed: %1").arg(error));
  });
  autosaveTimer_.setSingleShot(true);
  connect(&autosaveTimer_, &QTimer::timeout, this, &Workbench::writeAutosave);
}

Workbench::~Workbench() {
  // Closing with unsaved changes keeps them in the autosave, offered at the next start.
  if (autosave_ && modified_) writeAutosave();
}

void Workbench::setError(const QString& page, const QString& text) {
  if (text.isEmpty() ? !errors_.contains(page) : errors_.value(page).toString() == text) return;
  if (text.isEmpty())
    errors_.remove(page);
  else
    errors_[page] = text;
  emit errorsChanged();
}

bool Workbench::openModel(const QString& pathOrUrl) {
  const QUrl url(pathOrUrl);
  const QString path = url.isLocalFile() ? url.toLocalFile() : pathOrUrl;
  std::shared_ptr<const qs::QuantizedModel> imported;
  QString importNote;
  try {
    std::shared_ptr<const qs::Graph> graph;
    // A package (folder or .zip) or a QDQ model opens as its float model with the
    // quantization recovered from its Q/DQ nodes.
    auto import = [&](const qs::QdqImport& r) {
      graph = std::make_shared<const qs::Graph>(r.graph);
      imported = std::make_shared<const qs::QuantizedModel>(r.quantized);
      importNote = tr("A quantized (QDQ) model: opened as its float model with weights "
                      "dequantized, and its quantization (%1 weights, %2 activations) recovered "
                      "from the Q/DQ nodes, ready to export again or to requantize.")
                       .arg(r.quantized.weights.size())
                       .arg(r.quantized.activations.size());
    };
    const std::string p = path.toStdString();
    if (QFileInfo(path).isDir() || path.endsWith(QStringLiteral(".zip"))) {
      import(qs::import_qdq(p));
    } else {
      try {
        graph = std::make_shared<const qs::Graph>(qs::load_model(p));
      } catch (const qs::Unsupported&) {
        import(qs::import_qdq(p));  // int4/int16 tensors load only this way; else its error
      }
      const bool qdq = std::any_of(graph->nodes.begin(), graph->nodes.end(), [](const qs::Node& n) {
        return n.op_type == "QuantizeLinear" || n.op_type == "DequantizeLinear";
      });
      if (qdq && !imported) import(qs::import_qdq(p));
    }
    info_ = qs::describe_model(*graph);
    preprocess_ = qs::preprocess_from_model(*graph);
    graph_ = std::move(graph);
  } catch (const std::exception& e) {
    setError(QStringLiteral("model"), QString::fromUtf8(e.what()));
    return false;
  }
  modelPath_ = path;
  modelSha_.clear();
  if (QFileInfo(path).isFile()) {
    try {
      modelSha_ = QString::fromStdString(qs::file_sha256(path.toStdString()));
    } catch (const std::exception&) {
      // Unreadable now but loaded a moment ago: the project is saved without a digest.
    }
  }
  projectNotice_.clear();
  inputs_.clear();
  outputs_.clear();
  for (const qs::ValueInfo& v : info_.inputs) inputs_.append(describeValue(v));
  for (const qs::ValueInfo& v : info_.outputs) outputs_.append(describeValue(v));
  QStringList ops;
  for (const auto& [op, count] : info_.op_histogram)
    ops.append(QStringLiteral("%1 × %2").arg(op.c_str()).arg(count));
  summary_ = {{"name", QString::fromStdString(graph_->name)},
              {"params", groupedNumber(info_.total_params)},
              {"macs", groupedNumber(info_.total_macs)},
              {"weightBytes", qint64(info_.weight_bytes)},
              {"opset", qint64(info_.opset)},
              {"layerCount", int(info_.layers.size())},
              {"ops", ops.join(QStringLiteral(", "))}};
  if (!importNote.isEmpty()) summary_["imported"] = importNote;
  setError(QStringLiteral("model"), {});
  quantResult_.clear();
  quantized_ = imported;
  sensitivityResult_.reset();
  searchRaw_.reset();
  exportResult_.clear();
  analysis_.clear();
  searchResult_.clear();
  sensitivity_->setResult({});
  tune_->clear();
  tuneResult_.clear();
  comparison_.clear();
  measurement_.clear();
  layerErrors_.clear();
  latencyTable_.reset();
  updatePlacement();
  emit modelChanged();
  emit quantResultChanged();
  emit analysisChanged();
  emit searchResultChanged();
  emit exportResultChanged();
  emit tuneResultChanged();
  emit comparisonChanged();
  emit measurementChanged();
  emit layerErrorsChanged();
  markModified();
  emit projectChanged();
  if (!calibration_.empty())
    setData(QString::fromStdString(calibration_), QString::fromStdString(evaluation_), int(limit_));
  return true;
}

void Workbench::setDevice(const QString& name) {
  if (name == device_) return;
  device_ = name;
  updatePlacement();
  markModified();
  emit deviceChanged();
}

void Workbench::updatePlacement() {
  if (!graph_) return;
  std::vector<qs::Placement> placements;
  try {
    placements = qs::placement(*registry_->create_device(device_.toStdString()), *graph_);
  } catch (const std::exception& e) {
    setError(QStringLiteral("model"), QString::fromUtf8(e.what()));
  }
  layerModel_->setLayers(info_.layers, placements);
}

bool Workbench::setData(const QString& calibration, const QString& evaluation, int limit) {
  calibration_ = calibration.toStdString();
  evaluation_ = evaluation.toStdString();
  limit_ = limit > 0 ? limit : -1;
  data_.clear();
  samples_.clear();
  const QString page = QStringLiteral("data");
  if (!graph_) return false;
  try {
    qs::DataOptions options{preprocess_, limit_};
    auto calib = qs::open_dataset(calibration_, options);
    auto eval = qs::open_dataset(evaluation_, options);
    QStringList mean, std;
    for (float m : preprocess_.mean) mean.append(QString::number(m));
    for (float s : preprocess_.std) std.append(QString::number(s));
    data_ = {{"calibration", calibration},
             {"evaluation", evaluation},
             {"limit", limit},
             {"calibrationInfo", QString::fromStdString(calib->describe())},
             {"evaluationInfo", QString::fromStdString(eval->describe())},
             {"calibrationSamples", qint64(calib->size())},
             {"evaluationSamples", qint64(eval->size())},
             {"sampleShape", QString::fromStdString(qs::shape_to_string(eval->sample_shape()))},
             {"preprocess", QStringLiteral("pixels scaled to [0, 1], then (x − %1) / %2")
                                .arg(mean.join(", "), std.join(", "))}};
    const qs::Batch batch = eval->read(0, std::min<std::int64_t>(32, eval->size()));
    images_->setImages(images_from_batch(batch, preprocess_));
    ++sampleGeneration_;
    for (std::int64_t i = 0; i < batch.inputs.dim(0); ++i) {
      const std::size_t n = static_cast<std::size_t>(i);
      samples_.append(QVariantMap{
          {"source", QStringLiteral("image://samples/%1?%2").arg(i).arg(sampleGeneration_)},
          {"label",
           n < batch.labels.size() ? labelName(evaluation_, batch.labels[n]) : tr("no label")}});
    }
    setError(page, {});
  } catch (const std::exception& e) {
    setError(page, QString::fromUtf8(e.what()));
  }
  markModified();
  emit dataChanged();
  return !errors_.contains(page);
}

QStringList Workbench::calibrators() const {
  // The registry's, the engine's default first (the page preselects the first).
  const std::string preferred = qs::LayerQuantSettings{}.calibrator;
  QStringList names{QString::fromStdString(preferred)};
  for (const std::string& name : registry_->calibrator_names())
    if (name != preferred) names.append(QString::fromStdString(name));
  return names;
}

QVariantList Workbench::roundings() const {
  const std::string preferred = qs::LayerQuantSettings{}.rounding;
  std::vector<std::string> names{preferred};
  for (const std::string& name : registry_->rounding_names())
    if (name != preferred) names.push_back(name);
  QVariantList list;
  for (const std::string& name : names) {
    const QString description = QString::fromStdString(registry_->rounding_description(name));
    const qsizetype colon = description.indexOf(QStringLiteral(": "));
    list.append(QVariantMap{{"value", QString::fromStdString(name)},
                            {"label", colon < 0 ? description : description.left(colon)}});
  }
  return list;
}

Workbench::JobInputs Workbench::jobInputs() const {
  return {graph_, calibration_, evaluation_,    device_.toStdString(),
          limit_, preprocess_,  registry_.get()};
}

bool Workbench::ready(const QString& page) {
  if (!graph_) {
    setError(page, tr("Open a model first (Model page)."));
    return false;
  }
  if (calibration_.empty() || errors_.contains(QStringLiteral("data"))) {
    setError(page, tr("The data sets could not be opened; fix them on the Data page."));
    return false;
  }
  return true;
}

}  // namespace qs::gui
