// Nothing lost when the workbench process dies: this test starts itself again as a child
// workbench that opens a project and changes it as fast as it can, autosaving after every change,
// and kills it (SIGKILL) at a random moment, many times. Each time, the next workbench opening the
// project is offered an autosave that loads whole and is recovered.
#include <QGuiApplication>
#include <QProcess>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <cstdio>
#include <cstring>
#include <random>

#include "quantscope/project.h"
#include "workbench_fixture.h"

using qs::gui::Workbench;

namespace {

// The child: opens `project`, then changes it round after round, each change autosaved at once.
// Says "ready" once the first autosave is on disk; runs until killed.
int autosaveChild(const QString& project) {
  QStandardPaths::setTestModeEnabled(true);
  auto w = qs::gui::test::make_workbench();
  w->project()->setAutosave(true, 0);
  if (!qs::gui::test::openProject(*w, project)) return 3;
  bool ready = false;
  for (int round = 0;; ++round) {
    w->tune()->loadConfiguration({{"/conv1/Conv", 2 + round % 7}, {"round", round}});
    QCoreApplication::processEvents();  // the autosave timer fires
    if (!ready && QFile::exists(w->project()->autosavePath())) {
      std::printf("ready\n");
      std::fflush(stdout);
      ready = true;
    }
  }
}

}  // namespace

class TestAutosaveKill : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

  void killedWhileAutosavingLeavesARecoverableProject() {
    QTemporaryDir dir;
    const QString project = dir.filePath("p.qsproj");
    {
      auto w = qs::gui::test::make_workbench();
      QVERIFY(qs::gui::test::createProject(*w, QS_SOURCE_MODELS_DIR "/lenet.onnx",
                                           "fashion-mnist:train", "fashion-mnist:test", 100));
      QVERIFY(w->project()->save(project));
    }
    std::mt19937 rng(20261127);
    constexpr int kRounds = 20;
    for (int round = 0; round < kRounds; ++round) {
      QProcess child;
      child.setProcessChannelMode(QProcess::ForwardedErrorChannel);
      child.start(QCoreApplication::applicationFilePath(), {"--autosave-child", project});
      QVERIFY2(child.waitForStarted(30000), qPrintable(child.errorString()));
      QByteArray said;
      while (!said.contains("ready") && child.state() == QProcess::Running)
        if (child.waitForReadyRead(30000)) said += child.readAllStandardOutput();
      QVERIFY2(said.contains("ready"),
               qPrintable(QString("round %1: the child did not start (exit %2)")
                              .arg(round)
                              .arg(child.exitCode())));
      QTest::qWait(static_cast<int>(rng() % 120));  // mid-write, somewhere
      child.kill();
      QVERIFY(child.waitForFinished(30000));

      // The project reopens with an autosave on offer; it loads whole and is recovered.
      auto w = qs::gui::test::make_workbench();
      QVERIFY(qs::gui::test::openProject(*w, project));
      const QString autosave = w->project()->recovery().value("path").toString();
      QVERIFY2(!autosave.isEmpty(),
               qPrintable(QString("round %1: no autosave offered").arg(round)));
      qs::Project saved;
      try {
        saved = qs::load_project(autosave.toStdString());
      } catch (const std::exception& e) {
        QFAIL(qPrintable(QString("round %1: the autosave is broken: %2").arg(round).arg(e.what())));
      }
      QVERIFY(saved.configurations.count("tuned"));
      QVERIFY(QString::fromStdString(saved.configurations.at("tuned")).contains("round"));
      QVERIFY(qs::gui::test::recover(*w));
      QVERIFY2(w->errors().isEmpty(), qPrintable(w->errors().value("project").toString()));
      QVERIFY(w->modified());
      w->project()->discardChanges();  // the next child starts from the saved project again
      QVERIFY(!QFile::exists(autosave));
    }
  }
};

int main(int argc, char** argv) {
  QGuiApplication app(argc, argv);
  if (argc == 3 && std::strcmp(argv[1], "--autosave-child") == 0)
    return autosaveChild(QString::fromLocal8Bit(argv[2]));
  TestAutosaveKill test;
  return QTest::qExec(&test, argc, argv);
}

#include "test_autosave_kill.moc"
