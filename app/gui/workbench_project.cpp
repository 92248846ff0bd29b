// The Workbench's project: open, save, autosave and recovery, recent files, and the result cache
// (quantscope/project.h holds the file format; this file maps it onto the workbench's state).
#include <QCryptographicHash>
#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QJsonDocument>
#include <QSettings>
#include <QStandardPaths>
#include <QUrl>

#include "quantscope/quant.h"
#include "quantscope/recipes.h"
#include "quantscope/results_json.h"
#include "workbench.h"

namespace qs::gui {

namespace {

QString localPath(const QString& pathOrUrl) {
  const QUrl url(pathOrUrl);
  return url.isLocalFile() ? url.toLocalFile() : pathOrUrl;
}

std::string jsonText(const QJsonObject& o) {
  return QJsonDocument(o).toJson(QJsonDocument::Compact).toStdString();
}

QJsonObject jsonObject(const std::string& text) {
  return QJsonDocument::fromJson(QByteArray::fromStdString(text)).object();
}

constexpr int kMaxRecent = 8;

}  // namespace

void Workbench::markModified() {
  if (loading_) return;
  if (!modified_) {
    modified_ = true;
    emit projectChanged();
  }
  if (autosave_) autosaveTimer_.start();
}

std::string Workbench::resultKey(const QString& kind, const QVariantMap& settings) const {
  const QByteArray canonical =
      QJsonDocument(QJsonObject::fromVariantMap(settings)).toJson(QJsonDocument::Compact);
  // A package folder has no digest: its path stands in for it.
  const QString model = modelSha_.isEmpty() ? QStringLiteral("path:") + modelPath_ : modelSha_;
  return qs::result_key({kind.toStdString(), QS_VERSION, model.toStdString(), calibration_,
                         evaluation_, std::to_string(limit_), device_.toStdString(),
                         canonical.toStdString()});
}

void Workbench::storeCached(const QString& kind, const std::string& key,
                            const QJsonObject& payload) {
  qs::store_cached(project_, {kind.toStdString(), key, {}, jsonText(payload)});
  markModified();
}

bool Workbench::restoreCached(const QString& kind, const std::string& key) {
  const qs::CachedResult* hit = qs::find_cached(project_, kind.toStdString(), key);
  if (!hit) return false;
  try {
    const QJsonObject payload = jsonObject(hit->json);
    const QVariantMap view = payload.value("view").toObject().toVariantMap();
    if (view.isEmpty()) return false;
    auto raw = [&](const char* name) { return jsonText(payload.value(name).toObject()); };
    if (kind == QStringLiteral("errors")) {
      installErrors(view);
    } else if (kind == QStringLiteral("measure")) {
      installMeasurement(view, std::make_shared<const qs::LatencyTable>(
                                   qs::latency_table_from_json(raw("latency"))));
    } else {
      return false;
    }
  } catch (const std::exception&) {
    return false;  // a damaged entry is recomputed
  }
  jobs_->drop(kind);  // a running job of the kind would replace it later
  return true;
}

void Workbench::restoreAllCached() {
  if (!quantizeSettings_.isEmpty()) restoreQuantize(quantizeSettings_);
  restoreAnalysis();
  restoreSearch();
  restoreCached(QStringLiteral("measure"), resultKey(QStringLiteral("measure"), measureSettings()));
  // The Tune table's widths, then their measurement when it is cached.
  auto tuned = project_.configurations.find("tuned");
  if (tuned != project_.configurations.end()) {
    const QVariantMap bits = jsonObject(tuned->second).value("bits").toObject().toVariantMap();
    loadConfiguration(bits);
    restoreTune();
  }
}

qs::Project Workbench::currentProject() const {
  qs::Project p = project_;
  p.model_path = QFileInfo(modelPath_).absoluteFilePath().toStdString();
  p.model_sha256 = modelSha_.toStdString();
  p.calibration = calibration_;
  p.evaluation = evaluation_;
  p.limit = limit_;
  p.device = device_.toStdString();
  p.settings = jsonText(QJsonObject{{"quantize", QJsonObject::fromVariantMap(quantizeSettings_)}});
  return p;
}

bool Workbench::applyProject(const qs::Project& p, const QString& source) {
  const QString page = QStringLiteral("project");
  const QString model = QString::fromStdString(p.model_path);
  const qs::ModelState state = qs::model_state(p);
  if (state == qs::ModelState::missing) {
    setError(page, tr("%1: its model %2 is missing; nothing was changed.").arg(source, model));
    return false;
  }
  loading_ = true;
  const std::string calibration = calibration_;
  calibration_.clear();  // openModel must not open the previous data sets
  const bool opened = openModel(model);
  loading_ = false;
  if (!opened) {
    calibration_ = calibration;  // the failed open changed nothing
    setError(page, tr("%1: its model could not be opened: %2")
                       .arg(source, errors_.value(QStringLiteral("model")).toString()));
    return false;
  }
  loading_ = true;
  project_ = p;
  const QString device = QString::fromStdString(p.device);
  if (devices_.contains(device)) setDevice(device);
  setData(QString::fromStdString(p.calibration), QString::fromStdString(p.evaluation),
          int(p.limit));
  quantizeSettings_ = jsonObject(p.settings).value("quantize").toObject().toVariantMap();
  projectNotice_ =
      state == qs::ModelState::changed
          ? tr("The model file %1 changed since the project was saved: the results "
               "cached in the project were computed on the old file and are not shown. "
               "Run the steps again.")
                .arg(model)
          : QString();
  if (!device.isEmpty() && !devices_.contains(device))
    projectNotice_ += (projectNotice_.isEmpty() ? QString() : QStringLiteral(" ")) +
                      tr("The project's device %1 is not usable on this machine; %2 runs its steps "
                         "(see the Measure page).")
                          .arg(device, device_);
  restoreAllCached();
  loading_ = false;
  setError(page, {});
  return true;
}

bool Workbench::openProject(const QString& pathOrUrl, bool asTemplate) {
  const QString path = localPath(pathOrUrl);
  qs::Project p;
  try {
    p = qs::load_project(path.toStdString());
  } catch (const std::exception& e) {
    setError(QStringLiteral("project"), QString::fromUtf8(e.what()));
    return false;
  }
  if (!applyProject(p, QFileInfo(path).fileName())) return false;
  projectPath_ = asTemplate ? QString() : QFileInfo(path).absoluteFilePath();
  modified_ = false;
  emit projectChanged();
  if (!asTemplate) addRecent(projectPath_);
  checkRecovery();
  return true;
}

bool Workbench::newProject(const QString& model, const QString& calibration,
                           const QString& evaluation, int limit) {
  const QString calib = calibration.isEmpty() ? QString::fromStdString(calibration_) : calibration;
  const QString eval = evaluation.isEmpty() ? QString::fromStdString(evaluation_) : evaluation;
  const int n = limit != 0 ? limit : int(limit_);
  loading_ = true;
  const bool opened = openModel(model);
  if (opened) {
    project_ = {};
    quantizeSettings_.clear();
    if (!calib.isEmpty()) setData(calib, eval, n);
  }
  loading_ = false;
  if (!opened) return false;
  projectPath_.clear();
  modified_ = false;
  emit projectChanged();
  checkRecovery();
  return true;
}

bool Workbench::saveProject(const QString& pathOrUrl) {
  const QString page = QStringLiteral("project");
  QString path = pathOrUrl.isEmpty() ? projectPath_ : localPath(pathOrUrl);
  if (path.isEmpty()) {
    setError(page, tr("The project has no file yet: choose where to save it (Save as)."));
    return false;
  }
  if (!graph_) {
    setError(page, tr("Open a model before saving a project."));
    return false;
  }
  if (!path.endsWith(QStringLiteral(".qsproj"))) path += QStringLiteral(".qsproj");
  const QString oldAutosave = autosavePath();
  autosaveWriter_->flush();  // an autosave still being written would outlive its removal below
  try {
    qs::save_project(path.toStdString(), currentProject());
  } catch (const std::exception& e) {
    setError(page, QString::fromUtf8(e.what()));
    return false;
  }
  QFile::remove(oldAutosave);
  projectPath_ = QFileInfo(path).absoluteFilePath();
  QFile::remove(autosavePath());
  modified_ = false;
  autosaveTimer_.stop();
  setError(page, {});
  emit projectChanged();
  addRecent(projectPath_);
  return true;
}

QString Workbench::autosavePath() const {
  const QString dir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) +
                      QStringLiteral("/autosave");
  const QString id =
      projectPath_.isEmpty()
          ? QStringLiteral("untitled")
          : QString::fromLatin1(
                QCryptographicHash::hash(projectPath_.toUtf8(), QCryptographicHash::Sha1).toHex());
  return dir + '/' + id + QStringLiteral(".qsproj");
}

void Workbench::setAutosave(bool on, int delayMs) {
  autosave_ = on;
  autosaveTimer_.setInterval(delayMs);
  if (!on) autosaveTimer_.stop();
}

void Workbench::writeAutosave() {
  if (!graph_ || !modified_) return;
  const QString path = autosavePath();
  // An autosave on offer is kept until the user recovers or discards it.
  if (QFileInfo(recovery_.value(QStringLiteral("path")).toString()) == QFileInfo(path)) return;
  QDir().mkpath(QFileInfo(path).absolutePath());
  // The state is copied here; serializing and the atomic write run off the GUI thread.
  autosaveWriter_->post([target = path.toStdString(), project = currentProject()] {
    qs::save_project(target, project);
  });
}

void Workbench::checkRecovery() {
  autosaveWriter_->flush();
  const QFileInfo autosave(autosavePath());
  QVariantMap offer;
  if (autosave.exists()) {
    const QFileInfo project(projectPath_);
    if (projectPath_.isEmpty() || !project.exists() ||
        autosave.lastModified() > project.lastModified())
      offer = {{"path", autosave.absoluteFilePath()},
               {"time", autosave.lastModified().toString(QStringLiteral("yyyy-MM-dd HH:mm"))}};
  }
  if (offer != recovery_) {
    recovery_ = offer;
    emit recoveryChanged();
  }
}

bool Workbench::recover() {
  const QString path = recovery_.value(QStringLiteral("path")).toString();
  if (path.isEmpty()) return false;
  qs::Project p;
  try {
    p = qs::load_project(path.toStdString());
  } catch (const std::exception& e) {
    setError(QStringLiteral("project"),
             tr("The autosave could not be read: %1").arg(QString::fromUtf8(e.what())));
    return false;
  }
  const QString keep = projectPath_;
  if (!applyProject(p, tr("the autosave"))) return false;
  projectPath_ = keep;
  recovery_.clear();
  emit recoveryChanged();
  modified_ = false;
  markModified();  // recovered changes are unsaved until saved
  return true;
}

void Workbench::discardRecovery() {
  autosaveWriter_->flush();
  QFile::remove(recovery_.value(QStringLiteral("path")).toString());
  recovery_.clear();
  emit recoveryChanged();
}

void Workbench::discardChanges() {
  setAutosave(false);
  autosaveWriter_->flush();
  QFile::remove(autosavePath());
  modified_ = false;
  emit projectChanged();
}

QStringList Workbench::recentProjects() const {
  QStringList list = QSettings().value(QStringLiteral("recentProjects")).toStringList();
  list.erase(std::remove_if(list.begin(), list.end(),
                            [](const QString& p) { return !QFileInfo::exists(p); }),
             list.end());
  return list;
}

void Workbench::addRecent(const QString& path) {
  QSettings settings;
  QStringList list = settings.value(QStringLiteral("recentProjects")).toStringList();
  list.removeAll(path);
  list.prepend(path);
  while (list.size() > kMaxRecent) list.removeLast();
  settings.setValue(QStringLiteral("recentProjects"), list);
  emit recentProjectsChanged();
}

}  // namespace qs::gui
