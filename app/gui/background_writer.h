// Writes files off the GUI thread, one at a time, in order. A newer write replaces one still
// waiting (only the latest autosave matters); the destructor finishes what was posted, so an
// autosave asked for is never lost by closing the window. `failed` is called on the GUI thread
// with the error of a write that threw.
#pragma once

#include <QObject>
#include <QString>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace qs::gui {

class BackgroundWriter : public QObject {
  Q_OBJECT

 public:
  explicit BackgroundWriter(QObject* parent = nullptr);
  ~BackgroundWriter() override;
  // Queues `write`, replacing a queued one that has not started.
  void post(std::function<void()> write);
  // Blocks until every posted write is done (tests, and before reading what was written).
  void flush();

 signals:
  void failed(const QString& error);

 private:
  void loop();
  std::mutex mutex_;
  std::condition_variable wake_, idle_;
  std::function<void()> next_;
  bool writing_ = false, stopping_ = false;
  std::thread thread_;
};

}  // namespace qs::gui
