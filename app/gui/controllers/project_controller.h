// Projects: open, new, save, autosave and recovery, recent files. A project is the model, the
// data sets, the device, each page's settings and the result cache (quantscope/project.h holds
// the file format; this maps it onto the workbench and its pages).
#pragma once

#include <QStringList>
#include <QTimer>
#include <QVariantMap>

#include "background_writer.h"
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

  // Opening keeps everything as it was when it fails (the "project" error says why).
  // `asTemplate` opens it untitled (the bundled sample).
  Q_INVOKABLE bool open(const QString& pathOrUrl, bool asTemplate = false);
  // An untitled project on `model` with the data sets (the current ones when empty).
  Q_INVOKABLE bool create(const QString& model, const QString& calibration = QString(),
                          const QString& evaluation = QString(), int limit = 0);
  // Saves to `pathOrUrl`, or to the project's own file when empty; adds ".qsproj" when missing.
  Q_INVOKABLE bool save(const QString& pathOrUrl = QString());
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

  QString path() const { return path_; }
  QString notice() const { return notice_; }
  QStringList recent() const;
  QVariantMap recovery() const { return recovery_; }

 signals:
  void changed();
  void recentChanged();
  void recoveryChanged();

 private:
  qs::Project current() const;
  bool apply(const qs::Project& p, const QString& source);
  void writeAutosave();
  void addRecent(const QString& path);

  QString path_, notice_;
  QVariantMap recovery_;
  bool autosave_ = false;
  QTimer autosaveTimer_;
  BackgroundWriter* writer_;  // child: the autosave's serialization and atomic write
};

}  // namespace qs::gui
