#include "job_runner.h"

#include <QEventLoop>
#include <QVariantMap>
#include <algorithm>
#include <exception>

namespace qs::gui {

namespace {
constexpr int kPollMs = 15;  // how often the GUI thread looks at the mailboxes while jobs run
}

JobRunner::JobRunner(QObject* parent) : QObject(parent) {
  poll_.setInterval(kPollMs);
  connect(&poll_, &QTimer::timeout, this, &JobRunner::poll);
}

JobRunner::~JobRunner() {
  pending_.clear();
  for (auto& job : running_) job->cancel = true;
  for (auto& job : running_)
    if (job->worker.joinable()) job->worker.join();
}

QStringList JobRunner::kinds() const {
  QStringList out;
  for (const auto& job : running_) out.append(job->kind);
  return out;
}

QString JobRunner::kind() const {
  return running_.empty() ? QString() : running_.back()->kind;
}

double JobRunner::progress() const {
  return running_.empty() ? 0.0 : running_.back()->progress;
}

QString JobRunner::message() const {
  return running_.empty() ? QString() : running_.back()->message;
}

QVariantList JobRunner::running() const {
  QVariantList out;
  for (const auto& job : running_)
    out.append(
        QVariantMap{{"kind", job->kind}, {"progress", job->progress}, {"message", job->message}});
  return out;
}

bool JobRunner::active(const QString& kind) const {
  auto of = [&](const std::unique_ptr<Job>& j) { return j->kind == kind && !j->superseded; };
  return std::any_of(running_.begin(), running_.end(), of) ||
         std::any_of(pending_.begin(), pending_.end(), of);
}

void JobRunner::drop(const QString& kind) {
  std::erase_if(pending_, [&](const std::unique_ptr<Job>& j) { return j->kind == kind; });
  for (auto& job : running_)
    if (job->kind == kind) {
      job->superseded = true;
      job->cancel = true;
    }
}

void JobRunner::dropAll() {
  pending_.clear();
  for (auto& job : running_) {
    job->superseded = true;
    job->cancel = true;
  }
}

void JobRunner::start(const QString& kind, Work work) {
  drop(kind);
  auto job = std::make_unique<Job>();
  job->kind = kind;
  job->work = std::move(work);
  pending_.push_back(std::move(job));
  startWaiting();
}

void JobRunner::cancel() {
  pending_.clear();
  for (auto& job : running_) {
    job->cancel = true;
    job->message = tr("cancelling…");
  }
  if (!running_.empty()) emit progressChanged();
}

// Starts waiting jobs, in order, while there is room and no job of their kind still runs.
void JobRunner::startWaiting() {
  bool started = false;
  for (auto it = pending_.begin();
       it != pending_.end() && static_cast<int>(running_.size()) < kMaxRunning;) {
    const QString& kind = (*it)->kind;
    const bool busy_kind =
        std::any_of(running_.begin(), running_.end(),
                    [&](const std::unique_ptr<Job>& j) { return j->kind == kind; });
    if (busy_kind) {
      ++it;
      continue;
    }
    running_.push_back(std::move(*it));
    it = pending_.erase(it);
    launch(*running_.back());
    started = true;
  }
  if (running_.empty()) poll_.stop();
  if (started) {
    poll_.start();
    emit stateChanged();
    emit progressChanged();
  }
}

void JobRunner::launch(Job& job) {
  job.progress = 0;
  job.message = tr("starting");
  Job* j = &job;
  job.worker = std::thread([j] {
    qs::JobControl control;
    control.cancel = &j->cancel;
    control.progress = [j](double fraction, const std::string& text) {
      std::lock_guard lock(j->mutex);
      j->box.progress = true;
      j->box.fraction = fraction;
      j->box.message = text;
    };
    Deliver deliver;
    QString error;
    bool cancelled = false;
    try {
      deliver = j->work(control);
    } catch (const qs::Cancelled&) {
      cancelled = true;
    } catch (const std::exception& e) {
      error = QString::fromUtf8(e.what());
    } catch (...) {
      error = QStringLiteral("the job failed with an unknown error");
    }
    if (j->cancel) cancelled = true;
    std::lock_guard lock(j->mutex);
    j->box.done = true;
    j->box.deliver = std::move(deliver);
    j->box.error = std::move(error);
    j->box.cancelled = cancelled;
  });
}

void JobRunner::poll() {
  bool moved = false;
  std::vector<std::pair<Job*, Mailbox>> done;
  for (auto& job : running_) {
    Mailbox box;
    {
      std::lock_guard lock(job->mutex);
      box = std::move(job->box);
      job->box = Mailbox{};
    }
    if (box.progress && !box.done && !job->cancel) {
      job->progress = box.fraction;
      job->message = QString::fromStdString(box.message);
      moved = true;
    }
    if (box.done) done.emplace_back(job.get(), std::move(box));
  }
  if (moved) emit progressChanged();
  for (auto& [job, box] : done) onDone(job, std::move(box));
}

void JobRunner::onDone(Job* job, Mailbox box) {
  job->worker.join();  // it has left its last words in the mailbox and is exiting
  auto it = std::find_if(running_.begin(), running_.end(),
                         [&](const std::unique_ptr<Job>& j) { return j.get() == job; });
  const std::unique_ptr<Job> done = std::move(*it);
  running_.erase(it);
  emit stateChanged();
  emit progressChanged();
  if (!done->superseded) {
    // A Cancel pressed after the work ended but before its result was applied still cancels:
    // the user asked for no result.
    if (box.cancelled || done->cancel) {
      emit finished(done->kind, false, tr("cancelled"));
    } else if (!box.error.isEmpty()) {
      emit finished(done->kind, false, box.error);
    } else {
      if (box.deliver) box.deliver();
      emit finished(done->kind, true, QString());
    }
  }
  startWaiting();
}

void JobRunner::waitForIdle() {
  QEventLoop loop;
  while (!running_.empty() || !pending_.empty())
    loop.processEvents(QEventLoop::WaitForMoreEvents, 50);
}

}  // namespace qs::gui
