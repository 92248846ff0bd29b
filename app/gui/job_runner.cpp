#include "job_runner.h"

#include <QCoreApplication>
#include <QEventLoop>
#include <exception>

namespace qs::gui {

JobRunner::JobRunner(QObject* parent) : QObject(parent) {}

JobRunner::~JobRunner() {
  pending_.clear();
  if (running_) running_->cancel = true;
  if (thread_) thread_->wait();
}

QString JobRunner::kind() const {
  return running_ ? running_->kind : QString();
}

void JobRunner::drop(const QString& kind) {
  std::erase_if(pending_, [&](const std::unique_ptr<Job>& j) { return j->kind == kind; });
  if (running_ && running_->kind == kind) {
    running_->superseded = true;
    running_->cancel = true;
  }
}

void JobRunner::start(const QString& kind, Work work) {
  drop(kind);
  auto job = std::make_unique<Job>();
  job->kind = kind;
  job->work = std::move(work);
  pending_.push_back(std::move(job));
  if (!running_) startNext();
}

void JobRunner::cancel() {
  pending_.clear();
  if (running_) {
    running_->cancel = true;
    message_ = tr("cancelling…");
    emit progressChanged();
  }
}

void JobRunner::startNext() {
  if (pending_.empty()) {
    emit stateChanged();
    return;
  }
  running_ = std::move(pending_.front());
  pending_.pop_front();
  progress_ = 0;
  message_ = tr("starting");
  emit stateChanged();
  emit progressChanged();

  Job* job = running_.get();
  thread_ = QThread::create([this, job] {
    qs::JobControl control;
    control.cancel = &job->cancel;
    control.progress = [this, job](double fraction, const std::string& text) {
      const QString message = QString::fromStdString(text);
      QMetaObject::invokeMethod(
          this,
          [this, job, fraction, message] {
            if (running_.get() != job || job->cancel) return;
            progress_ = fraction;
            message_ = message;
            emit progressChanged();
          },
          Qt::QueuedConnection);
    };
    Deliver deliver;
    QString error;
    bool cancelled = false;
    try {
      deliver = job->work(control);
    } catch (const qs::Cancelled&) {
      cancelled = true;
    } catch (const std::exception& e) {
      error = QString::fromUtf8(e.what());
    }
    if (job->cancel) cancelled = true;
    QMetaObject::invokeMethod(
        this, [this, job, deliver, error, cancelled] { onDone(job, deliver, error, cancelled); },
        Qt::QueuedConnection);
  });
  thread_->start();
}

void JobRunner::onDone(Job* job, Deliver deliver, QString error, bool cancelled) {
  thread_->wait();
  thread_->deleteLater();
  thread_ = nullptr;
  std::unique_ptr<Job> done = std::move(running_);
  (void)job;
  const QString kind = done->kind;
  if (!done->superseded) {
    if (cancelled) {
      emit finished(kind, false, tr("cancelled"));
    } else if (!error.isEmpty()) {
      emit finished(kind, false, error);
    } else {
      if (deliver) deliver();
      emit finished(kind, true, QString());
    }
  }
  progress_ = 0;
  message_.clear();
  emit progressChanged();
  startNext();
}

void JobRunner::waitForIdle() {
  QEventLoop loop;
  while (running_ || !pending_.empty()) loop.processEvents(QEventLoop::WaitForMoreEvents, 50);
}

}  // namespace qs::gui
