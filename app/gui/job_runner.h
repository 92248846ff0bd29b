// Runs the engine's long operations (jobs) on a worker thread, one at a time, so the window stays
// responsive. The worker hands progress and the result to the GUI thread through a mailbox under a
// std::mutex, which a timer on the GUI thread empties while a job runs (at most one progress
// update per tick however often the engine reports, and every hand-over is visible to
// ThreadSanitizer, which cannot see Qt's own uninstrumented locks). Cancel sets the job's flag. A
// newer request of a kind replaces the pending one of that kind and cancels the running one of that
// kind, whose result is then dropped (a slider must not queue a hundred evaluations). Everything
// here is called on the GUI thread.
#pragma once

#include <QObject>
#include <QString>
#include <QTimer>
#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "quantscope/job.h"

namespace qs::gui {

class JobRunner : public QObject {
  Q_OBJECT
  Q_PROPERTY(bool busy READ busy NOTIFY stateChanged)
  Q_PROPERTY(QString kind READ kind NOTIFY stateChanged)
  Q_PROPERTY(double progress READ progress NOTIFY progressChanged)
  Q_PROPERTY(QString message READ message NOTIFY progressChanged)

 public:
  // Runs on the worker thread; returns what to do with the result on the GUI thread.
  // Throwing qs::Error (or any std::exception) reports a failure in words.
  using Deliver = std::function<void()>;
  using Work = std::function<Deliver(const qs::JobControl& job)>;

  explicit JobRunner(QObject* parent = nullptr);
  ~JobRunner() override;

  // Queues `work` under `kind` ("quantize", "analyze", "search").
  void start(const QString& kind, Work work);
  bool busy() const { return running_ != nullptr; }
  QString kind() const;
  double progress() const { return progress_; }
  QString message() const { return message_; }
  // Drops the pending job of `kind` and cancels the running one, whose result is then dropped
  // (a result taken from the cache replaces them).
  void drop(const QString& kind);
  // Blocks (turning the event loop) until nothing runs or is pending. For screenshots and tests.
  void waitForIdle();

 public slots:
  // Cancels the running job and drops the pending ones.
  void cancel();

 signals:
  void stateChanged();
  void progressChanged();
  // A job ended: ok, failed with `error`, or cancelled. Superseded jobs emit nothing.
  void finished(const QString& kind, bool ok, const QString& error);

 private:
  struct Job {
    QString kind;
    Work work;
    std::atomic<bool> cancel{false};
    bool superseded = false;
  };
  // What the worker leaves for the GUI thread (under mutex_).
  struct Mailbox {
    bool progress = false;  // a report not yet shown
    double fraction = 0;
    std::string message;
    bool done = false;  // the work returned or threw; the worker is about to exit
    Deliver deliver;
    QString error;
    bool cancelled = false;
  };
  void startNext();
  void poll();  // on the GUI thread, by poll_
  void onDone(Deliver deliver, QString error, bool cancelled);

  std::deque<std::unique_ptr<Job>> pending_;
  std::unique_ptr<Job> running_;
  std::thread worker_;
  std::mutex mutex_;
  Mailbox box_;
  QTimer poll_;
  double progress_ = 0;
  QString message_;
};

}  // namespace qs::gui
