// What every page controller has: its workbench (the shared session) and its page's name, which
// names its jobs and its error; QML reads both as typed properties (Workbench.tune.running).
#pragma once

#include <QObject>
#include <QQmlEngine>

#include "workbench.h"

namespace qs::gui {

class PageController : public QObject {
  Q_OBJECT
  QML_ANONYMOUS
  // What went wrong in the page's last step, in words; empty when nothing did.
  Q_PROPERTY(QString error READ error NOTIFY errorChanged)
  // A job of the page is running.
  Q_PROPERTY(bool running READ running NOTIFY runningChanged)

 public:
  PageController(Workbench* workbench, QString page)
      : QObject(workbench), wb_(*workbench), page_(std::move(page)) {
    connect(workbench, &Workbench::errorsChanged, this, &PageController::errorChanged);
    connect(workbench->jobs(), &JobRunner::stateChanged, this, &PageController::runningChanged);
  }
  // Installs the page's cached results for the current model, data, device and settings (after
  // a project opens); a page without a cache does nothing.
  virtual void restore() {}

  QString error() const { return wb_.errors().value(page_).toString(); }
  bool running() const { return wb_.jobs()->kinds().contains(page_); }

 signals:
  void errorChanged();
  void runningChanged();

 protected:
  Workbench& wb() const { return wb_; }
  const QString& page() const { return page_; }
  bool ready() { return wb_.ready(page_); }
  void setError(const QString& text) { wb_.setError(page_, text); }

 private:
  Workbench& wb_;
  const QString page_;
};

}  // namespace qs::gui
