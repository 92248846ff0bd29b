#include "background_writer.h"

#include <QMetaObject>
#include <exception>

namespace qs::gui {

BackgroundWriter::BackgroundWriter(QObject* parent) : QObject(parent) {
  thread_ = std::thread([this] { loop(); });
}

BackgroundWriter::~BackgroundWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void BackgroundWriter::post(std::function<void()> write) {
  {
    std::lock_guard lock(mutex_);
    next_ = std::move(write);
  }
  wake_.notify_one();
}

void BackgroundWriter::flush() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return !next_ && !writing_; });
}

void BackgroundWriter::loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return next_ || stopping_; });
    if (!next_) return;  // stopping, and everything posted is written
    std::function<void()> write = std::move(next_);
    next_ = nullptr;
    writing_ = true;
    lock.unlock();
    QString error;
    try {
      write();
    } catch (const std::exception& e) {
      error = QString::fromUtf8(e.what());
    }
    if (!error.isEmpty())
      QMetaObject::invokeMethod(
          this, [this, error] { emit failed(error); }, Qt::QueuedConnection);
    lock.lock();
    writing_ = false;
    idle_.notify_all();
  }
}

}  // namespace qs::gui
