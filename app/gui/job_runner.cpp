#include "job_runner.h"

#include <QEventLoop>
#include <exception>

namespace qs::gui {

namespace {
constexpr int kPollMs = 15;  // how often the GUI thread looks at the mailbox while a job runs
}

JobRunner::JobRunner(QObject* parent) : QObject(parent) {
  poll_.setInterval(kPollMs);
  connect(&poll_, &QTimer::timeout, this, &JobRunner::poll);
}

JobRunner::~JobRunner() {
  pending_.clear();
  if (running_) running_->cancel = true;
  if (worker_.joinable()) worker_.join();
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
    poll_.stop();
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
  {
    std::lock_guard lock(mutex_);
    box_ = Mailbox{};
  }
  worker_ = std::thread([this, job] {
    qs::JobControl control;
    control.cancel = &job->cancel;
    control.progress = [this](double fraction, const std::string& text) {
      std::lock_guard lock(mutex_);
      box_.progress = true;
      box_.fraction = fraction;
      box_.message = text;
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
    } catch (...) {
      error = QStringLiteral("the job failed with an unknown error");
    }
    if (job->cancel) cancelled = true;
    std::lock_guard lock(mutex_);
    box_.done = true;
    box_.deliver = std::move(deliver);
    box_.error = std::move(error);
    box_.cancelled = cancelled;
  });
  poll_.start();
}

void JobRunner::poll() {
  if (!running_) return;
  Mailbox box;
  {
    std::lock_guard lock(mutex_);
    box = std::move(box_);
    box_ = Mailbox{};
  }
  if (box.progress && !box.done && !running_->cancel) {
    progress_ = box.fraction;
    message_ = QString::fromStdString(box.message);
    emit progressChanged();
  }
  if (box.done) onDone(std::move(box.deliver), std::move(box.error), box.cancelled);
}

void JobRunner::onDone(Deliver deliver, QString error, bool cancelled) {
  worker_.join();  // it has left its last words in the mailbox and is exiting
  const std::unique_ptr<Job> done = std::move(running_);
  const QString kind = done->kind;
  if (!done->superseded) {
    // A Cancel pressed after the work ended but before its result was applied still cancels:
    // the user asked for no result.
    if (cancelled || done->cancel) {
      emit finished(kind, false, tr("cancelled"));
    } else if (!error.isEmpty()) {
      emit finished(kind, false, error);
    } else {
      if (deliver) deliver();
      emit finished(kind, true, QString());
    }
  }
  if (running_) return;  // a handler of finished() started the next job already
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
