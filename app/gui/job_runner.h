// Runs the engine's long operations (jobs) on worker threads, so the window stays responsive.
// Jobs of different kinds run side by side, at most kMaxRunning at once (a Compare does not wait
// behind a long Analyze); the others wait in order. Each worker hands progress and its result to
// the GUI thread through its own mailbox under a std::mutex, which a timer on the GUI thread
// empties while jobs run (at most one progress update per job and tick however often the engine
// reports, and every hand-over is visible to ThreadSanitizer, which cannot see Qt's own
// uninstrumented locks). Cancel sets the jobs' flags. A newer request of a kind replaces the
// pending one of that kind and cancels the running one of that kind, whose result is then dropped
// (a slider must not queue a hundred evaluations); it starts once that one has stopped.
// Everything here is called on the GUI thread.
#pragma once

#include <QObject>
#include <QString>
#include <QStringList>
#include <QTimer>
#include <QVariantList>
#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "quantscope/job.h"

namespace qs::gui {

class JobRunner : public QObject {
  Q_OBJECT
  Q_PROPERTY(bool busy READ busy NOTIFY stateChanged)
  // The kinds of the running jobs, oldest first; `kind`, `progress` and `message` are the newest
  // running job's.
  Q_PROPERTY(QStringList kinds READ kinds NOTIFY stateChanged)
  Q_PROPERTY(QString kind READ kind NOTIFY stateChanged)
  Q_PROPERTY(double progress READ progress NOTIFY progressChanged)
  Q_PROPERTY(QString message READ message NOTIFY progressChanged)
  // Every running job as {kind, progress, message}, for the job bar.
  Q_PROPERTY(QVariantList running READ running NOTIFY progressChanged)

 public:
  static constexpr int kMaxRunning = 2;
  // Runs on a worker thread; returns what to do with the result on the GUI thread.
  // Throwing qs::Error (or any std::exception) reports a failure in words.
  using Deliver = std::function<void()>;
  using Work = std::function<Deliver(const qs::JobControl& job)>;

  explicit JobRunner(QObject* parent = nullptr);
  ~JobRunner() override;

  // Queues `work` under `kind` ("quantize", "analyze", "search").
  void start(const QString& kind, Work work);
  bool busy() const { return !running_.empty(); }
  QStringList kinds() const;
  QString kind() const;
  double progress() const;
  QString message() const;
  QVariantList running() const;
  // Whether a job of `kind` runs or waits.
  Q_INVOKABLE bool active(const QString& kind) const;
  // Drops the pending job of `kind` and cancels the running one, whose result is then dropped
  // (a result taken from the cache replaces them).
  void drop(const QString& kind);
  // drop() of every kind: the results of a model that is no longer open.
  void dropAll();
  // Blocks (turning the event loop) until nothing runs or is pending. For screenshots and tests.
  void waitForIdle();

 public slots:
  // Cancels the running jobs and drops the pending ones.
  void cancel();

 signals:
  void stateChanged();
  void progressChanged();
  // A job ended: ok, failed with `error`, or cancelled. Superseded jobs emit nothing.
  void finished(const QString& kind, bool ok, const QString& error);

 private:
  // What a worker leaves for the GUI thread (under its mutex).
  struct Mailbox {
    bool progress = false;  // a report not yet shown
    double fraction = 0;
    std::string message;
    bool done = false;  // the work returned or threw; the worker is about to exit
    Deliver deliver;
    QString error;
    bool cancelled = false;
  };
  struct Job {
    QString kind;
    Work work;
    std::atomic<bool> cancel{false};
    bool superseded = false;
    // While it runs:
    std::thread worker;
    std::mutex mutex;
    Mailbox box;
    double progress = 0;
    QString message;
  };
  void startWaiting();
  void launch(Job& job);
  void poll();  // on the GUI thread, by poll_
  void onDone(Job* job, Mailbox box);

  std::deque<std::unique_ptr<Job>> pending_;
  std::vector<std::unique_ptr<Job>> running_;  // oldest first
  QTimer poll_;
};

}  // namespace qs::gui
