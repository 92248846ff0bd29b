// The job runner keeps the event loop turning while a job runs, Cancel stops a job, and a newer
// request of a kind replaces the pending one. The stress cases below are also what the
// ThreadSanitizer run (tsan preset) exercises: progress reported as fast as a thread can, jobs
// started, dropped and cancelled from the GUI thread while workers run, and handlers that start
// the next job from inside finished().
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTest>
#include <QTimer>
#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "background_writer.h"
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

  // Two kinds run side by side: the first waits for the second to start, which it only can when
  // both run at once. A third kind waits for a free place.
  void differentKindsRunSideBySide() {
    JobRunner runner;
    QSignalSpy finished(&runner, &JobRunner::finished);
    std::atomic<bool> second_started{false};
    bool waited = false;
    runner.start("analyze", [&](const qs::JobControl& job) -> JobRunner::Deliver {
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (!second_started && std::chrono::steady_clock::now() < until) {
        job.check();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      const bool met = second_started.load();
      return [met, &waited] { waited = met; };
    });
    runner.start("compare", [&](const qs::JobControl&) -> JobRunner::Deliver {
      second_started = true;
      return [] {};
    });
    runner.start("search", busyWork(0.01));
    QCOMPARE(runner.kinds(), QStringList({"analyze", "compare"}));
    QVERIFY(runner.active("search"));
    QCOMPARE(runner.running().size(), 2);
    runner.waitForIdle();
    QVERIFY(waited);
    QCOMPARE(finished.count(), 3);
    QVERIFY(!runner.active("search"));
  }

  void progressFloodIsCoalescedAndResultsArrive() {
    JobRunner runner;
    QSignalSpy finished(&runner, &JobRunner::finished);
    QSignalSpy progress(&runner, &JobRunner::progressChanged);
    std::vector<int> seen;  // written by the worker, read after delivery on the GUI thread
    constexpr int reports = 200000;
    runner.start("flood", [&seen](const qs::JobControl& job) -> JobRunner::Deliver {
      for (int i = 0; i < reports; ++i) {
        job.check();
        job.report(double(i) / reports, "report " + std::to_string(i));
        if (i % 1000 == 0) seen.push_back(i);
      }
      const std::size_t n = seen.size();
      return [n, &seen] { seen.push_back(static_cast<int>(n)); };
    });
    runner.waitForIdle();
    QCOMPARE(finished.count(), 1);
    QCOMPARE(finished.first().at(1).toBool(), true);
    QCOMPARE(seen.size(), std::size_t{reports / 1000 + 1});
    QCOMPARE(seen.back(), reports / 1000);
    // Reports are shown at most once per poll, not once each.
    QVERIFY2(progress.count() < reports / 10, qPrintable(QString::number(progress.count())));
  }

  void startsDropsAndCancelsUnderLoad() {
    JobRunner runner;
    QSignalSpy finished(&runner, &JobRunner::finished);
    std::atomic<int> delivered{0}, ran{0};
    std::mt19937 rng(7);
    const QStringList kinds{"quantize", "analyze", "search"};
    auto work = [&](int steps) {
      return [&, steps](const qs::JobControl& job) -> JobRunner::Deliver {
        ++ran;
        for (int i = 0; i < steps; ++i) {
          job.check();
          job.report(double(i) / steps, "step");
          std::this_thread::yield();
        }
        return [&] { ++delivered; };
      };
    };
    for (int round = 0; round < 300; ++round) {
      const QString& kind = kinds[static_cast<int>(rng() % 3)];
      switch (rng() % 5) {
        case 0:
          runner.cancel();
          break;
        case 1:
          if (rng() % 4 == 0)
            runner.dropAll();
          else
            runner.drop(kind);
          break;
        default:
          runner.start(kind, work(static_cast<int>(rng() % 2000)));
          break;
      }
      if (rng() % 4 == 0) QCoreApplication::processEvents();
    }
    runner.waitForIdle();
    QVERIFY(!runner.busy());
    QVERIFY(ran.load() > 0);
    // Each finished() is one job that was neither superseded nor dropped; a delivered result
    // always comes with an ok report.
    int ok = 0;
    for (const QList<QVariant>& f : finished) ok += f.at(1).toBool() ? 1 : 0;
    QCOMPARE(ok, delivered.load());
  }

  // A new model drops every job of the old one, running and pending, with no report and no
  // result; the runner then takes new jobs.
  void dropAllDropsRunningAndPendingSilently() {
    JobRunner runner;
    QSignalSpy finished(&runner, &JobRunner::finished);
    int delivered = 0;
    for (const char* kind : {"analyze", "search", "measure", "compare"})
      runner.start(kind, busyWork(5.0, &delivered));
    QCOMPARE(runner.kinds().size(), JobRunner::kMaxRunning);
    QElapsedTimer clock;
    clock.start();
    runner.dropAll();
    runner.waitForIdle();
    QVERIFY2(clock.elapsed() < 2000, "dropped jobs stop at their next check");
    QCOMPARE(delivered, 0);
    QCOMPARE(finished.size(), 0);
    runner.start("quantize", busyWork(0.02, &delivered));
    QVERIFY(finished.wait(5000));
    QCOMPARE(delivered, 1);
  }

  void aHandlerMayStartTheNextJob() {
    JobRunner runner;
    int chained = 0;
    QObject::connect(&runner, &JobRunner::finished, [&](const QString& kind, bool, const QString&) {
      if (kind == "first") runner.start("second", busyWork(0.02, &chained));
    });
    QSignalSpy finished(&runner, &JobRunner::finished);
    runner.start("first", busyWork(0.02));
    runner.waitForIdle();
    QCOMPARE(finished.count(), 2);
    QCOMPARE(finished.at(1).at(0).toString(), QString("second"));
    QCOMPARE(chained, 1);
    QVERIFY(!runner.busy());
  }

  void destroyingTheRunnerCancelsAndJoins() {
    std::atomic<bool> stopped{false};
    {
      JobRunner runner;
      runner.start("long", [&stopped](const qs::JobControl& job) -> JobRunner::Deliver {
        try {
          for (;;) {
            job.check();
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
          }
        } catch (const qs::Cancelled&) {
          stopped = true;
          throw;
        }
      });
      QTest::qWait(20);
    }  // the destructor must cancel the worker and wait for it
    QVERIFY(stopped.load());
  }

  // Writes run in order off the GUI thread; one waiting is replaced by a newer one; flush waits;
  // a write that throws is reported; the destructor finishes what was posted.
  void backgroundWritesKeepTheLatest() {
    std::vector<int> written;  // by the writer thread, read after flush()
    std::atomic<bool> release{false};
    auto writer = std::make_unique<qs::gui::BackgroundWriter>();
    QSignalSpy failed(writer.get(), &qs::gui::BackgroundWriter::failed);
    writer->post([&] {
      while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      written.push_back(1);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the first is being written
    writer->post([&] { written.push_back(2); });                 // replaced by the third
    writer->post([&] { written.push_back(3); });
    release = true;
    writer->flush();
    QCOMPARE(written, std::vector<int>({1, 3}));
    writer->post([] { throw qs::Error("disk full"); });
    QVERIFY(failed.wait(5000));
    QCOMPARE(failed.first().at(0).toString(), QString("disk full"));
    writer->post([&] { written.push_back(4); });
    writer.reset();
    QCOMPARE(written.back(), 4);
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
