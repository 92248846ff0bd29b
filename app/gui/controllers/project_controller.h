// Projects: open, new, save, autosave and recovery, recent files. A project is the model, the
// data sets, the device, each page's settings and the result cache (quantscope/project.h holds
// the file format; this maps it onto the workbench and its pages). Opening reads the project
// file and the model (parse, describe, SHA-256) in a job of kind "project", so the window stays
// responsive on a large model; the state changes only when all of it has been read.
#pragma once

#include <QStringList>
#include <QTimer>
#include <QVariantMap>

#include "background_writer.h"
#include "controllers/model_controller.h"
#include "controllers/page_controller.h"

namespace qs::gui {

class ProjectController : public PageController {
  Q_OBJECT
  QML_ELEMENT
  QML_UNCREATABLE("Workbench.project")
  // Its file; empty while untitled.
  Q_PROPERTY(QString path READ path NOTIFY changed)
  // Why cached results are not shown (the model file changed since the save) or another device
  // runs the steps; empty when all is as saved.
  Q_PROPERTY(QString notice READ notice NOTIFY changed)
  Q_PROPERTY(QStringList recent READ recent NOTIFY recentChanged)
  // An autosave left unsaved by an earlier session: {path, time}; empty when there is none.
  Q_PROPERTY(QVariantMap recovery READ recovery NOTIFY recoveryChanged)

 public:
  explicit ProjectController(Workbench* workbench);
  // The window closes: unsaved changes stay in the autosave, offered at the next start.
  void close();

  // Opening keeps everything as it was when it fails (the "project" error says why; opened()
  // follows a success). `asTemplate` opens it untitled (the bundled sample).
  Q_INVOKABLE void open(const QString& pathOrUrl, bool asTemplate = false);
  // An untitled project on `model` with the data sets (the current ones when empty).
  Q_INVOKABLE void create(const QString& model, const QString& calibration = QString(),
                          const QString& evaluation = QString(), int limit = 0);
  // Saves to `pathOrUrl`, or to the project's own file when empty; adds ".qsproj" when missing.
  Q_INVOKABLE bool save(const QString& pathOrUrl = QString());
  // Replaces the current state by the autosave on offer; it stays unsaved until saved.
  Q_INVOKABLE void recover();
  Q_INVOKABLE void discardRecovery();
  // Closing without saving: the autosave is removed and no longer written.
  Q_INVOKABLE void discardChanges();

  // Autosave: the state is written to autosavePath() `delayMs` after each change. Off by
  // default (tests, screenshots); the program turns it on.
  void setAutosave(bool on, int delayMs = 3000);
  QString autosavePath() const;
  // Offers the autosave of the current project (or of the untitled one) when it is newer.
  void checkRecovery();

  QString path() const { return path_; }
  QString notice() const { return notice_; }
  QStringList recent() const;
  QVariantMap recovery() const { return recovery_; }

 signals:
  void changed();
  void opened();  // a project, model or autosave was opened
  void recentChanged();
  void recoveryChanged();

 private:
  // What opening a project reads before anything changes (on the job's thread).
  struct Read {
    qs::Project project;
    qs::ModelState state = qs::ModelState::same;
    ModelLoad model;
  };
  static Read read(qs::Project p, const QString& source);
  // Starts the job that reads `file` and then, on the GUI thread, applies it and runs `done`.
  // `source` names it in errors; `unreadable` ("...%1") words a file that cannot be read.
  void startOpen(const QString& file, const QString& source, const QString& unreadable,
                 std::function<void()> done);
  qs::Project current() const;
  void apply(Read r);
  void writeAutosave();
  void addRecent(const QString& path);

  QString path_, notice_;
  QVariantMap recovery_;
  bool autosave_ = false;
  QTimer autosaveTimer_;
  BackgroundWriter* writer_;  // child: the autosave's serialization and atomic write
};

}  // namespace qs::gui
