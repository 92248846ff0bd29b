#include "controllers/project_controller.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSettings>
#include <QStandardPaths>
#include <QUrl>

#include "quantscope/error.h"

#include "controllers/analyze_controller.h"
#include "controllers/data_controller.h"
#include "controllers/measure_controller.h"
#include "controllers/model_controller.h"
#include "controllers/quantize_controller.h"
#include "controllers/search_controller.h"
#include "controllers/tune_controller.h"

namespace qs::gui {

namespace {

QString localPath(const QString& pathOrUrl) {
  const QUrl url(pathOrUrl);
  return url.isLocalFile() ? url.toLocalFile() : pathOrUrl;
}

constexpr int kMaxRecent = 8;

}  // namespace

ProjectController::ProjectController(Workbench* workbench)
    : PageController(workbench, QStringLiteral("project")), writer_(new BackgroundWriter(this)) {
  connect(writer_, &BackgroundWriter::failed, this,
          [this](const QString& error) { setError(tr("Autosave failed: %1").arg(error)); });
  autosaveTimer_.setSingleShot(true);
  connect(&autosaveTimer_, &QTimer::timeout, this, &ProjectController::writeAutosave);
  connect(workbench, &Workbench::changed, this, [this] {
    if (autosave_) autosaveTimer_.start();
  });
  // A new model is a change of the project, not of its file: the notice about the old one goes.
  connect(workbench, &Workbench::modelChanged, this, [this] {
    notice_.clear();
    emit changed();
  });
}

void ProjectController::close() {
  if (autosave_ && wb().modified()) writeAutosave();
}

qs::Project ProjectController::current() const {
  const Workbench& w = wb();
  qs::Project p = w.store();
  p.model_path = QFileInfo(w.loaded().path).absoluteFilePath().toStdString();
  p.model_sha256 = w.loaded().sha.toStdString();
  p.calibration = w.dataSpecs().calibration;
  p.evaluation = w.dataSpecs().evaluation;
  p.limit = w.dataSpecs().limit;
  p.device = w.device().toStdString();
  const QJsonObject settings{{"quantize", QJsonObject::fromVariantMap(w.quantize()->settings())}};
  p.settings = QJsonDocument(settings).toJson(QJsonDocument::Compact).toStdString();
  return p;
}

ProjectController::Read ProjectController::read(qs::Project p, const QString& source) {
  Read r;
  const QString model = QString::fromStdString(p.model_path);
  const auto missing = [&] {
    return qs::Error(
        tr("%1: its model %2 is missing; nothing was changed.").arg(source, model).toStdString());
  };
  if (p.model_path.empty() || !QFileInfo::exists(model)) throw missing();
  try {
    r.model = ModelController::load(model);
  } catch (const std::exception& e) {
    throw qs::Error(tr("%1: its model could not be opened: %2")
                        .arg(source, QString::fromUtf8(e.what()))
                        .toStdString());
  }
  // The digest the load computed: a large model is read once.
  r.state = qs::model_state(p, r.model.model.sha.toStdString());
  if (r.state == qs::ModelState::missing) throw missing();
  r.project = std::move(p);
  return r;
}

void ProjectController::apply(Read r) {
  Workbench& w = wb();
  const qs::Project& p = r.project;
  const QString model = QString::fromStdString(p.model_path);
  w.setLoading(true);
  w.setDataSpecs({});  // the model's installation must not reopen the previous data sets
  w.model()->install(std::move(r.model));
  w.store() = p;
  const QString device = QString::fromStdString(p.device);
  if (w.devices().contains(device)) w.setDevice(device);
  w.data()->open(QString::fromStdString(p.calibration), QString::fromStdString(p.evaluation),
                 int(p.limit));
  w.quantize()->setSettings(QJsonDocument::fromJson(QByteArray::fromStdString(p.settings))
                                .object()
                                .value("quantize")
                                .toObject()
                                .toVariantMap());
  notice_ = r.state == qs::ModelState::changed
                ? tr("The model file %1 changed since the project was saved: the results "
                     "cached in the project were computed on the old file and are not shown. "
                     "Run the steps again.")
                      .arg(model)
                : QString();
  if (!device.isEmpty() && !w.devices().contains(device))
    notice_ += (notice_.isEmpty() ? QString() : QStringLiteral(" ")) +
               tr("The project's device %1 is not usable on this machine; %2 runs its steps "
                  "(see the Measure page).")
                   .arg(device, w.device());
  // Each page's cached results; the Tune table after the analysis and measurement it reads.
  for (PageController* page : std::initializer_list<PageController*>{
           w.quantize(), w.analyze(), w.search(), w.measure(), w.tune()})
    page->restore();
  w.setLoading(false);
  setError({});
}

void ProjectController::startOpen(const QString& file, const QString& source,
                                  const QString& unreadable, std::function<void()> done) {
  wb().jobs()->start(
      page(),
      [this, file, source, unreadable, done](const qs::JobControl& job) -> JobRunner::Deliver {
        job.report(0.0, "reading " + file.toStdString());
        qs::Project p;
        try {
          p = qs::load_project(file.toStdString());
        } catch (const std::exception& e) {
          throw qs::Error(unreadable.arg(QString::fromUtf8(e.what())).toStdString());
        }
        job.check();
        job.report(0.3, "reading the model");
        auto r = std::make_shared<Read>(read(std::move(p), source));
        return [this, r, done] {
          apply(std::move(*r));
          done();
          emit changed();
          emit opened();
        };
      });
}

void ProjectController::open(const QString& pathOrUrl, bool asTemplate) {
  const QString file = localPath(pathOrUrl);
  startOpen(file, QFileInfo(file).fileName(), QStringLiteral("%1"), [this, file, asTemplate] {
    path_ = asTemplate ? QString() : QFileInfo(file).absoluteFilePath();
    wb().setModified(false);
    if (!asTemplate) addRecent(path_);
    checkRecovery();
  });
}

void ProjectController::create(const QString& model, const QString& calibration,
                               const QString& evaluation, int limit) {
  const DataSpecs& specs = wb().dataSpecs();
  const QString calib =
      calibration.isEmpty() ? QString::fromStdString(specs.calibration) : calibration;
  const QString eval = evaluation.isEmpty() ? QString::fromStdString(specs.evaluation) : evaluation;
  const int n = limit != 0 ? limit : int(specs.limit);
  wb().jobs()->start(
      page(), [this, model, calib, eval, n](const qs::JobControl& job) -> JobRunner::Deliver {
        job.report(0.0, "reading " + model.toStdString());
        auto load = std::make_shared<ModelLoad>(ModelController::load(model));
        return [this, load, calib, eval, n] {
          Workbench& w = wb();
          w.setLoading(true);
          w.setDataSpecs({});
          w.model()->install(std::move(*load));
          w.store() = {};
          w.quantize()->setSettings({});
          if (!calib.isEmpty()) w.data()->open(calib, eval, n);
          w.setLoading(false);
          path_.clear();
          notice_.clear();
          w.setModified(false);
          emit changed();
          checkRecovery();
          emit opened();
        };
      });
}

bool ProjectController::save(const QString& pathOrUrl) {
  QString file = pathOrUrl.isEmpty() ? path_ : localPath(pathOrUrl);
  if (file.isEmpty()) {
    setError(tr("The project has no file yet: choose where to save it (Save as)."));
    return false;
  }
  if (!wb().hasModel()) {
    setError(tr("Open a model before saving a project."));
    return false;
  }
  if (!file.endsWith(QStringLiteral(".qsproj"))) file += QStringLiteral(".qsproj");
  const QString oldAutosave = autosavePath();
  writer_->flush();  // an autosave still being written would outlive its removal below
  try {
    qs::save_project(file.toStdString(), current());
  } catch (const std::exception& e) {
    setError(QString::fromUtf8(e.what()));
    return false;
  }
  QFile::remove(oldAutosave);
  path_ = QFileInfo(file).absoluteFilePath();
  QFile::remove(autosavePath());
  wb().setModified(false);
  autosaveTimer_.stop();
  setError({});
  emit changed();
  addRecent(path_);
  return true;
}

QString ProjectController::autosavePath() const {
  const QString dir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) +
                      QStringLiteral("/autosave");
  const QString id =
      path_.isEmpty()
          ? QStringLiteral("untitled")
          : QString::fromLatin1(
                QCryptographicHash::hash(path_.toUtf8(), QCryptographicHash::Sha1).toHex());
  return dir + '/' + id + QStringLiteral(".qsproj");
}

void ProjectController::setAutosave(bool on, int delayMs) {
  autosave_ = on;
  autosaveTimer_.setInterval(delayMs);
  if (!on) autosaveTimer_.stop();
}

void ProjectController::writeAutosave() {
  if (!wb().hasModel() || !wb().modified()) return;
  const QString file = autosavePath();
  // An autosave on offer is kept until the user recovers or discards it.
  if (QFileInfo(recovery_.value(QStringLiteral("path")).toString()) == QFileInfo(file)) return;
  QDir().mkpath(QFileInfo(file).absolutePath());
  // The state is copied here; serializing and the atomic write run off the GUI thread.
  writer_->post(
      [target = file.toStdString(), project = current()] { qs::save_project(target, project); });
}

void ProjectController::checkRecovery() {
  writer_->flush();
  const QFileInfo autosave(autosavePath());
  QVariantMap offer;
  if (autosave.exists()) {
    const QFileInfo project(path_);
    if (path_.isEmpty() || !project.exists() || autosave.lastModified() > project.lastModified())
      offer = {{"path", autosave.absoluteFilePath()},
               {"time", autosave.lastModified().toString(QStringLiteral("yyyy-MM-dd HH:mm"))}};
  }
  if (offer != recovery_) {
    recovery_ = offer;
    emit recoveryChanged();
  }
}

void ProjectController::recover() {
  const QString file = recovery_.value(QStringLiteral("path")).toString();
  if (file.isEmpty()) return;
  startOpen(file, tr("the autosave"), tr("The autosave could not be read: %1"), [this] {
    recovery_.clear();
    emit recoveryChanged();
    wb().markModified();  // recovered changes are unsaved until saved
  });
}

void ProjectController::discardRecovery() {
  writer_->flush();
  QFile::remove(recovery_.value(QStringLiteral("path")).toString());
  recovery_.clear();
  emit recoveryChanged();
}

void ProjectController::discardChanges() {
  setAutosave(false);
  writer_->flush();
  QFile::remove(autosavePath());
  wb().setModified(false);
}

QStringList ProjectController::recent() const {
  QStringList list = QSettings().value(QStringLiteral("recentProjects")).toStringList();
  list.erase(std::remove_if(list.begin(), list.end(),
                            [](const QString& p) { return !QFileInfo::exists(p); }),
             list.end());
  return list;
}

void ProjectController::addRecent(const QString& file) {
  QSettings settings;
  QStringList list = settings.value(QStringLiteral("recentProjects")).toStringList();
  list.removeAll(file);
  list.prepend(file);
  while (list.size() > kMaxRecent) list.removeLast();
  settings.setValue(QStringLiteral("recentProjects"), list);
  emit recentChanged();
}

}  // namespace qs::gui
