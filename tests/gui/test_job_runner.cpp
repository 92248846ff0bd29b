// The job runner keeps the event loop turning while a job runs, Cancel stops a job, and a newer
// request of a kind replaces the pending one.
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTest>
#include <QTimer>
#include <chrono>
#include <thread>

#include "job_runner.h"

using qs::gui::JobRunner;

namespace {

// Work that runs until cancelled or `seconds` pass, reporting progress as it goes.
JobRunner::Work busyWork(double seconds, int* delivered = nullptr) {
  return [seconds, delivered](const qs::JobControl& job) -> JobRunner::Deliver {
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (elapsed >= seconds) break;
      job.check();
      job.report(elapsed / seconds, "working");
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return [delivered] {
      if (delivered) ++*delivered;
    };
  };
}

}  // namespace

class TestJobRunner : public QObject {
  Q_OBJECT

 private slots:
  void eventLoopTurnsWhileAJobRuns() {
    JobRunner runner;
    QSignalSpy finished(&runner, &JobRunner::finished);
    QSignalSpy progress(&runner, &JobRunner::progressChanged);
    int ticks = 0;
    QTimer timer;
    QObject::connect(&timer, &QTimer::timeout, [&] { ++ticks; });
    timer.start(10);
    int delivered = 0;
    runner.start("work", busyWork(0.6, &delivered));
    QVERIFY(runner.busy());
    QVERIFY(finished.wait(5000));
    // 0.6 s at one tick per 10 ms: a blocked loop would give at most a handful.
    QVERIFY2(ticks >= 20, qPrintable(QString("only %1 timer ticks during the job").arg(ticks)));
    QVERIFY(progress.count() > 5);
    QCOMPARE(finished.first().at(1).toBool(), true);
    QCOMPARE(delivered, 1);
    QVERIFY(!runner.busy());
  }

  void cancelStopsTheJob() {
    JobRunner runner;
    QSignalSpy finished(&runner, &JobRunner::finished);
    int delivered = 0;
    runner.start("work", busyWork(30.0, &delivered));
    QTimer::singleShot(100, &runner, &JobRunner::cancel);
    QElapsedTimer clock;
    clock.start();
    QVERIFY(finished.wait(5000));
    QVERIFY(clock.elapsed() < 5000);
    QCOMPARE(finished.first().at(1).toBool(), false);
    QCOMPARE(finished.first().at(2).toString(), QString("cancelled"));
    QCOMPARE(delivered, 0);
  }

  void newerRequestReplacesThePendingOne() {
    JobRunner runner;
    QSignalSpy finished(&runner, &JobRunner::finished);
    int first = 0, second = 0, third = 0;
    runner.start("eval", busyWork(30.0, &first));   // runs; superseded below
    runner.start("eval", busyWork(0.05, &second));  // pending; replaced by the third
    runner.start("eval", busyWork(0.05, &third));
    runner.waitForIdle();
    QCOMPARE(first, 0);
    QCOMPARE(second, 0);
    QCOMPARE(third, 1);
    QCOMPARE(finished.count(), 1);  // superseded jobs report nothing
  }

  void errorsArriveInWords() {
    JobRunner runner;
    QSignalSpy finished(&runner, &JobRunner::finished);
    runner.start("bad", [](const qs::JobControl&) -> JobRunner::Deliver {
      throw qs::Error("model 'x.onnx': node 'conv1' (Conv): kernel shape does not fit");
    });
    QVERIFY(finished.wait(5000));
    QCOMPARE(finished.first().at(1).toBool(), false);
    QVERIFY(finished.first().at(2).toString().contains("conv1"));
  }
};

QTEST_GUILESS_MAIN(TestJobRunner)
#include "test_job_runner.moc"
