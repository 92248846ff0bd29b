// The bridge on the bundled sample: the models pass QAbstractItemModelTester, a real quantize
// job runs while the event loop keeps turning, Cancel stops a real sweep, and a broken model
// gives an error in words; a project saves and reopens with nothing lost, and its autosave is
// recovered.
#include <QAbstractItemModelTester>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include "workbench_fixture.h"

using qs::gui::Workbench;

class TestWorkbench : public QObject {
  Q_OBJECT

  std::unique_ptr<Workbench> makeWorkbench() {
    auto w = qs::gui::test::make_workbench();
    w->setDevice("cpu-ref");
    return w;
  }

 private slots:
  // Autosaves and the recent-files list go to a scratch location, not the user's.
  void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

  void opensTheSampleWithTestedModels() {
    auto w = makeWorkbench();
    QAbstractItemModelTester layers(qobject_cast<QAbstractItemModel*>(w->model()->layers()),
                                    QAbstractItemModelTester::FailureReportingMode::QtTest);
    QAbstractItemModelTester sensitivity(qobject_cast<QAbstractItemModel*>(w->analyze()->table()),
                                         QAbstractItemModelTester::FailureReportingMode::QtTest);
    QVERIFY(qs::gui::test::openModel(*w, QS_SOURCE_MODELS_DIR "/lenet.onnx"));
    QVERIFY(w->data()->open("fashion-mnist:train", "fashion-mnist:test", 200));
    auto* model = qobject_cast<QAbstractItemModel*>(w->model()->layers());
    QCOMPARE(model->rowCount(), 12);
    model->sort(3, Qt::DescendingOrder);  // MACs
    QCOMPARE(model->index(0, 0).data().toString(), QString("/conv2/Conv"));
    QCOMPARE(w->data()->samples().size(), 32);
    QVERIFY(w->errors().isEmpty());
  }

  void quantizeRunsWhileTheLoopTurns() {
    auto w = makeWorkbench();
    QVERIFY(qs::gui::test::openModel(*w, QS_SOURCE_MODELS_DIR "/lenet.onnx"));
    QVERIFY(w->data()->open("fashion-mnist:train", "fashion-mnist:test", 300));
    int ticks = 0;
    QTimer timer;
    QObject::connect(&timer, &QTimer::timeout, [&] { ++ticks; });
    timer.start(5);
    QSignalSpy result(w.get(), &Workbench::quantizationChanged);
    w->quantize()->run({{"weightBits", 8}, {"actBits", 8}});
    QVERIFY(result.wait(120000));
    QVERIFY2(ticks >= 3, qPrintable(QString("%1 ticks").arg(ticks)));
    const QVariantMap r = w->quantization();
    QVERIFY(r.value("floatTop1").toDouble() > 80.0);
    QVERIFY(r.value("agreement").toDouble() > 95.0);
    QVERIFY(r.value("quantBytes").toLongLong() < r.value("floatBytes").toLongLong() / 3);
    // The paired count the page shows is the top-1 difference, image by image.
    const qint64 onlyFloat = r.value("onlyFloat").toLongLong();
    const qint64 onlyQuant = r.value("onlyQuant").toLongLong();
    QVERIFY(qAbs(r.value("quantTop1").toDouble() - r.value("floatTop1").toDouble() -
                 100.0 * double(onlyQuant - onlyFloat) / r.value("samples").toDouble()) < 1e-9);
    QVERIFY(r.contains("mcnemarZ"));
  }

  void cancelStopsARealSweep() {
    auto w = makeWorkbench();
    QVERIFY(qs::gui::test::openModel(*w, QS_SOURCE_MODELS_DIR "/lenet.onnx"));
    QVERIFY(w->data()->open("fashion-mnist:train", "fashion-mnist:test", 1000));
    QSignalSpy finished(w->jobs(), &qs::gui::JobRunner::finished);
    w->analyze()->run();
    QTimer::singleShot(300, w->jobs(), &qs::gui::JobRunner::cancel);
    QVERIFY(finished.wait(60000));
    QCOMPARE(finished.first().at(1).toBool(), false);
    QVERIFY(w->analyze()->result().isEmpty());
    QVERIFY(w->errors().value("analyze").toString().contains("Cancelled"));
  }

  // Quantize, export a package, open the package again: its quantization comes back and exports
  // again to the same model file.
  void exportsAndReopensAPackage() {
    auto w = makeWorkbench();
    QVERIFY(qs::gui::test::openModel(*w, QS_SOURCE_MODELS_DIR "/lenet.onnx"));
    QVERIFY(w->data()->open("fashion-mnist:train", "fashion-mnist:test", 200));
    QVERIFY(w->quantizationLabel().isEmpty());
    QSignalSpy quantized(w.get(), &Workbench::quantizationChanged);
    w->quantize()->run({{"weightBits", 8}, {"actBits", 8}});
    QVERIFY(quantized.wait(120000));
    QVERIFY(!w->quantizationLabel().isEmpty());
    QTemporaryDir dir;
    const QString first = dir.filePath("first"), second = dir.filePath("second");
    QSignalSpy exported(w->exporter(), &qs::gui::ExportController::resultChanged);
    w->exporter()->run(first);
    QVERIFY(exported.wait(120000));
    QVERIFY2(w->errors().isEmpty(), qPrintable(w->errors().value("export").toString()));
    const QVariantMap r = w->exporter()->result();
    QCOMPARE(r.value("classes").toList().size(), 10);
    QVERIFY(r.value("files").toStringList().contains("model.onnx"));

    QVERIFY(qs::gui::test::openModel(*w, first));
    QVERIFY(w->model()->summary().imported.contains("recovered"));
    QVERIFY(w->quantizationLabel().contains("recovered"));
    w->exporter()->run(second);
    QVERIFY2(exported.wait(120000), qPrintable(w->errors().value("export").toString()));
    QVERIFY2(w->errors().isEmpty(), qPrintable(w->errors().value("export").toString()));
    auto bytes = [](const QString& path) {
      QFile f(path);
      return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
    };
    const QByteArray a = bytes(first + "/selfcheck/expected_1_logits.npy");
    QVERIFY(!a.isEmpty());
    QCOMPARE(bytes(second + "/selfcheck/expected_1_logits.npy"), a);
  }

  // Quantize and analyze, save, reopen in a fresh workbench: every result comes back from the
  // project without running a job; the same request again is answered from the cache; a
  // changed model file is reported and its stale results are not shown.
  void savesAndReopensWithNothingLost() {
    QTemporaryDir dir;
    const QString model = dir.filePath("lenet.onnx"), project = dir.filePath("p.qsproj");
    QVERIFY(QFile::copy(QS_SOURCE_MODELS_DIR "/lenet.onnx", model));
    QVariantMap quant, analysis;
    int layers = 0;
    {
      auto w = makeWorkbench();
      QVERIFY(qs::gui::test::createProject(*w, model, "fashion-mnist:train", "fashion-mnist:test",
                                           200));
      QVERIFY(!w->modified());
      QSignalSpy quantized(w.get(), &Workbench::quantizationChanged);
      w->quantize()->run({{"weightBits", 4}, {"actBits", 8}, {"calibrator", "minmax"}});
      QVERIFY(quantized.wait(120000));
      QSignalSpy analysed(w->analyze(), &qs::gui::AnalyzeController::resultChanged);
      w->analyze()->run();
      QVERIFY(analysed.wait(300000));
      QVERIFY(w->modified());
      quant = w->quantization();
      analysis = w->analyze()->result();
      layers = qobject_cast<QAbstractItemModel*>(w->analyze()->table())->rowCount();
      QVERIFY(layers > 0);
      QVERIFY(!w->project()->save());  // untitled: it must be given a file
      QVERIFY(w->project()->save(project));
      QVERIFY(!w->modified());
      QCOMPARE(w->project()->path(), QFileInfo(project).absoluteFilePath());
      // Asked again, the sweep comes from the cache at once.
      QSignalSpy again(w->analyze(), &qs::gui::AnalyzeController::resultChanged);
      w->analyze()->run();
      QCOMPARE(again.count(), 1);
      QVERIFY(!w->jobs()->busy());
    }
    auto w = makeWorkbench();
    QSignalSpy jobs(w->jobs(), &qs::gui::JobRunner::finished);
    QVERIFY2(qs::gui::test::openProject(*w, project),
             qPrintable(w->errors().value("project").toString()));
    QCOMPARE(jobs.count(), 1);  // the opening's own job only
    QCOMPARE(jobs.first().first().toString(), QString("project"));
    QVERIFY(!w->jobs()->busy());
    QVERIFY(!w->modified());
    QVERIFY(w->project()->notice().isEmpty());
    QCOMPARE(w->model()->path(), QFileInfo(model).absoluteFilePath());
    QCOMPARE(w->data()->info().calibrationSamples, 200.0);
    QCOMPARE(w->quantize()->settings().value("weightBits").toInt(), 4);
    QCOMPARE(w->quantize()->settings().value("calibrator").toString(), QString("minmax"));
    QCOMPARE(w->quantization().value("config"), quant.value("config"));
    QCOMPARE(w->quantization().value("quantTop1").toDouble(), quant.value("quantTop1").toDouble());
    QVERIFY(!w->quantizationLabel().isEmpty());  // the quantized model itself came back
    QCOMPARE(w->analyze()->result().value("hessian").toList().size(),
             analysis.value("hessian").toList().size());
    QCOMPARE(qobject_cast<QAbstractItemModel*>(w->analyze()->table())->rowCount(), layers);

    // The model changes behind the project's back (an unknown field 99 = 1: still a model).
    QFile f(model);
    QVERIFY(f.open(QIODevice::Append));
    f.write("\x98\x06\x01", 3);
    f.close();
    auto v = makeWorkbench();
    QVERIFY(!qs::gui::test::openProject(*v, dir.filePath("missing.qsproj")));
    QVERIFY(v->errors().value("project").toString().contains("missing.qsproj"));
    qs::gui::test::openProject(*v, project);
    QVERIFY(v->project()->notice().contains("changed"));
    QVERIFY(v->analyze()->result().isEmpty());
  }

  // The CLI and the workbench run the same recipes and key their results alike: a search, a
  // quantization, its comparison and its error trace computed by `quantscope-cli ... --project`
  // open in the workbench without a job, and an analysis computed in the workbench answers the
  // CLI's hessian and sensitivity.
  void sharesResultsWithTheCli() {
    QTemporaryDir dir;
    const QString model = dir.filePath("lenet.onnx"), project = dir.filePath("p.qsproj");
    QVERIFY(QFile::copy(QS_SOURCE_MODELS_DIR "/lenet.onnx", model));
    const QStringList data{model,   "--data", "fashion-mnist:train", "--limit", "100", "--project",
                           project, "--json"};
    const QStringList evaluated{"--eval-data", "fashion-mnist:test", "--device", "cpu-ref"};
    // Runs the CLI; its stdout, and whether it answered from the project.
    auto cli = [&](const QString& command, const QStringList& more, QByteArray* out = nullptr) {
      QProcess p;
      p.start(QS_CLI_PROGRAM, QStringList{command} + data + more);
      if (!p.waitForFinished(300000) || p.exitCode() != 0) {
        qWarning() << p.readAllStandardError();
        return -1;
      }
      if (out) *out = p.readAllStandardOutput();
      return p.readAllStandardError().contains("the result computed") ? 1 : 0;
    };
    QByteArray searched;
    QCOMPARE(cli("search", evaluated + QStringList{"--verify", "5"}, &searched), 0);
    const QJsonObject front = QJsonDocument::fromJson(searched).object();
    QVERIFY(!front.value("front").toArray().isEmpty());

    // Quantized and compared by the CLI (the Quantize page's defaults: W8A8 per channel, mse).
    const QString config = dir.filePath("q.json");
    QCOMPARE(cli("quantize", {"--device", "cpu-ref", "-o", config}), 0);
    QProcess eval;
    eval.start(QS_CLI_PROGRAM,
               {"eval", model, "--data", "fashion-mnist:test", "--limit", "100", "--device",
                "cpu-ref", "--config", config, "--project", project, "--json"});
    QVERIFY(eval.waitForFinished(300000) && eval.exitCode() == 0);
    const QJsonObject compared = QJsonDocument::fromJson(eval.readAllStandardOutput()).object();
    // That quantization's error trace, by the CLI.
    QProcess traced;
    traced.start(QS_CLI_PROGRAM,
                 {"errors", model, "--data", "fashion-mnist:test", "--limit", "100", "--device",
                  "cpu-ref", "--config", config, "--project", project, "--json"});
    QVERIFY(traced.waitForFinished(300000) && traced.exitCode() == 0);
    const QJsonArray errorLayers =
        QJsonDocument::fromJson(traced.readAllStandardOutput()).object().value("layers").toArray();
    QCOMPARE(errorLayers.size(), 5);

    auto w = makeWorkbench();
    QSignalSpy jobs(w->jobs(), &qs::gui::JobRunner::finished);
    QVERIFY2(qs::gui::test::openProject(*w, project),
             qPrintable(w->errors().value("project").toString()));
    QCOMPARE(w->data()->info().calibrationSamples, 100.0);
    w->quantize()->run({{"weightBits", 8}, {"actBits", 8}});
    QCOMPARE(jobs.count(), 1);  // the opening's own job only
    QCOMPARE(jobs.first().first().toString(), QString("project"));
    QVERIFY(!w->jobs()->busy());
    QCOMPARE(w->quantization().value("quantTop1").toDouble(), compared.value("top1").toDouble());
    QCOMPARE(w->quantization().value("agreement").toDouble(),
             compared.value("agreement").toDouble());
    QCOMPARE(w->search()->result().value("front").toList().size(),
             front.value("front").toArray().size());
    w->search()->run();  // asked for, it is the CLI's
    // The quantization's error trace was there with it, and is asked for without a job.
    QCOMPARE(w->analyze()->layerErrors().value("layers").toList().size(), errorLayers.size());
    w->analyze()->traceErrors();
    QCOMPARE(
        w->analyze()->layerErrors().value("layers").toList().first().toMap().value("accumulated"),
        errorLayers.first().toObject().value("accumulated_sqnr_db").toVariant());
    QCOMPARE(jobs.count(), 1);  // the opening's own job only
    QCOMPARE(jobs.first().first().toString(), QString("project"));
    QVERIFY(!w->jobs()->busy());

    QSignalSpy analysed(w->analyze(), &qs::gui::AnalyzeController::resultChanged);
    w->analyze()->run();
    QVERIFY(analysed.wait(300000));
    QVERIFY(w->project()->save());
    // The workbench's traces take the first 100 samples (at most 256), 100 probes, tol 1e-2.
    QByteArray traces;
    QCOMPARE(cli("hessian", {"--probes", "100", "--tol", "0.01"}, &traces), 1);
    QFile file(dir.filePath("traces.json"));
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write(traces);
    file.close();
    QCOMPARE(cli("sensitivity", evaluated + QStringList{"--hessian", file.fileName()}), 1);
    QCOMPARE(cli("sensitivity", evaluated + QStringList{"--bits", "4,8"}),
             0);  // another request: computed
  }

  // Changes are autosaved; a workbench that did not save (a crash) leaves an autosave that the
  // next one offers and recovers; discarding it removes it.
  void autosaveIsOfferedAndRecovered() {
    QTemporaryDir dir;
    const QString project = dir.filePath("p.qsproj");
    QString autosave;
    {
      auto w = makeWorkbench();
      QVERIFY(qs::gui::test::createProject(*w, QS_SOURCE_MODELS_DIR "/lenet.onnx",
                                           "fashion-mnist:train", "fashion-mnist:test", 100));
      QVERIFY(w->project()->save(project));
      w->project()->setAutosave(true, 10);
      autosave = w->project()->autosavePath();
      QVERIFY(w->data()->open("fashion-mnist:train", "fashion-mnist:test", 150));
      QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(autosave), 5000);
      w->project()->setAutosave(false);  // and then the program "crashes": nothing more is written
    }
    auto w = makeWorkbench();
    QVERIFY(qs::gui::test::openProject(*w, project));
    QCOMPARE(w->data()->info().calibrationSamples, 100.0);
    QCOMPARE(w->project()->recovery().value("path").toString(),
             QFileInfo(autosave).absoluteFilePath());
    QVERIFY(qs::gui::test::recover(*w));
    QCOMPARE(w->data()->info().calibrationSamples, 150.0);
    QVERIFY(w->modified());
    QCOMPARE(w->project()->path(), QFileInfo(project).absoluteFilePath());
    QVERIFY(w->project()->recovery().isEmpty());
    auto v = makeWorkbench();
    QVERIFY(qs::gui::test::openProject(*v, project));
    QVERIFY(!v->project()->recovery().isEmpty());
    v->project()->discardRecovery();
    QVERIFY(!QFile::exists(autosave));
  }

  // Tune predicts from the sweep and measures for real; Compare runs one sample; Measure times
  // the model and gives Tune its latency predictions.
  void tunesComparesAndMeasures() {
    auto w = makeWorkbench();
    QVERIFY(qs::gui::test::createProject(*w, QS_SOURCE_MODELS_DIR "/lenet.onnx",
                                         "fashion-mnist:train", "fashion-mnist:test", 200));
    QSignalSpy finished(w->jobs(), &qs::gui::JobRunner::finished);
    w->tune()->measure();  // nothing to tune before the sweep
    QVERIFY(w->errors().value("tune").toString().contains("Analyze"));
    w->analyze()->run();
    QVERIFY(finished.wait(300000));
    qs::gui::TuneModel* tune = w->tune()->table();
    QAbstractItemModelTester tester(tune, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(tune->rowCount(), 5);
    tune->setAllBits(4);
    const double predicted = tune->totals().value("predictedKl").toDouble();
    QVERIFY(predicted > 0);
    QCOMPARE(tune->totals().value("averageBits").toDouble(), 4.0);
    QCOMPARE(tune->totals().value("latencyMs").toDouble(), -1.0);  // no latency table yet

    w->tune()->measure();
    QVERIFY(finished.wait(120000));
    QVERIFY2(w->errors().isEmpty(), qPrintable(w->errors().value("tune").toString()));
    QVariantMap r = w->tune()->result();
    QCOMPARE(r.value("predictedKl").toDouble(), predicted);
    QVERIFY(r.value("kl").toDouble() > 0);
    QVERIFY(r.value("quantTop1").toDouble() > 50);
    QVERIFY(!r.value("stale").toBool());
    QVERIFY(w->quantization().value("config").toString().contains("Tune"));
    // Where the tuned quantization's error is born and grows: at the last layer the error of
    // all the 4-bit layers before it has piled up on its own.
    w->analyze()->traceErrors();
    QVERIFY(finished.wait(120000));
    const QVariantList errors = w->analyze()->layerErrors().value("layers").toList();
    QCOMPARE(errors.size(), 5);
    const QVariantMap last = errors.last().toMap();
    QVERIFY2(last.value("accumulated").toDouble() < last.value("introduced").toDouble(),
             qPrintable(QString("%1 vs %2")
                            .arg(last.value("accumulated").toDouble())
                            .arg(last.value("introduced").toDouble())));
    QVERIFY(tune->setBits(0, 8));
    QVERIFY(w->tune()->result().value("stale").toBool());

    w->compare()->run(3);
    QVERIFY(finished.wait(60000));
    const QVariantMap c = w->compare()->result();
    QCOMPARE(c.value("sample").toInt(), 3);
    const QVariantList top = c.value("floatTopk").toList();
    QCOMPARE(top.size(), 5);
    QVERIFY(top[0].toMap().value("probability").toDouble() >=
            top[1].toMap().value("probability").toDouble());
    QCOMPARE(c.value("weights").toList().size(), 5);
    for (const QVariant& a : c.value("activations").toList()) {
      qint64 f = 0, q = 0;  // one sample's activations, counted in both histograms
      for (const QVariant& n : a.toMap().value("float").toList()) f += n.toLongLong();
      for (const QVariant& n : a.toMap().value("quant").toList()) q += n.toLongLong();
      QVERIFY(f > 0);
      QCOMPARE(q, f);
    }
    w->compare()->run(100000);
    QVERIFY(finished.wait(60000));
    QVERIFY(!w->errors().value("compare").toString().isEmpty());

    w->measure()->run();
    QVERIFY(finished.wait(300000));
    QVERIFY2(!w->errors().contains("measure"), qPrintable(w->errors().value("measure").toString()));
    const QVariantMap m = w->measure()->result();
    QVERIFY(m.value("float").toMap().value("median").toDouble() > 0);
    QVERIFY(!m.value("layers").toList().isEmpty());
    QCOMPARE(m.value("widths").toList().size(), 6);
    QVERIFY(tune->totals().value("latencyMs").toDouble() > 0);  // predicted from the table

    // All of it comes back with the project: widths, measurement, latency table.
    QTemporaryDir dir;
    QVERIFY(w->project()->save(dir.filePath("t.qsproj")));
    auto v = makeWorkbench();
    QSignalSpy jobs(v->jobs(), &qs::gui::JobRunner::finished);
    QVERIFY(qs::gui::test::openProject(*v, dir.filePath("t.qsproj")));
    QCOMPARE(jobs.count(), 1);  // the opening's own job only
    QCOMPARE(jobs.first().first().toString(), QString("project"));
    QVERIFY(!v->jobs()->busy());
    QCOMPARE(v->tune()->table()->bitsMap(), tune->bitsMap());
    QCOMPARE(v->tune()->table()->totals(), tune->totals());
    QCOMPARE(v->measure()->result().value("widths"), m.value("widths"));
    QVERIFY(!v->modified());
  }

  // Opening runs as a job: nothing changes until the model has been read (the loop turns
  // meanwhile), and a failed opening leaves the open model, its data and its quantization as
  // they were; a successful one replaces them and drops the old model's results.
  void openingIsAJobAndAFailureChangesNothing() {
    auto w = makeWorkbench();
    QVERIFY(qs::gui::test::createProject(*w, QS_SOURCE_MODELS_DIR "/lenet.onnx",
                                         "fashion-mnist:train", "fashion-mnist:test", 200));
    QSignalSpy quantized(w.get(), &Workbench::quantizationChanged);
    w->quantize()->run({{"weightBits", 8}, {"actBits", 8}});
    QVERIFY(quantized.wait(120000));
    const QString lenet = w->model()->path();
    QVERIFY(!qs::gui::test::openModel(*w, QS_SOURCE_MODELS_DIR "/missing.onnx"));
    QVERIFY(w->errors().value("project").toString().contains("missing.onnx"));
    QCOMPARE(w->model()->path(), lenet);
    QCOMPARE(w->data()->info().calibrationSamples, 200.0);
    QVERIFY(!w->quantizationLabel().isEmpty());

    w->project()->create(QS_SOURCE_MODELS_DIR "/mobilenet.onnx");
    QVERIFY(w->jobs()->active("project"));
    QCOMPARE(w->model()->path(), lenet);  // not before the job delivers
    QSignalSpy opened(w->project(), &qs::gui::ProjectController::opened);
    QVERIFY(opened.wait(60000));
    QVERIFY(w->model()->path().endsWith("mobilenet.onnx"));
    QVERIFY(w->quantizationLabel().isEmpty());
    QCOMPARE(w->data()->info().calibrationSamples, 200.0);  // the same data sets, reopened
    QVERIFY(w->errors().isEmpty() || w->errors().keys() == QStringList{"project"});
  }

  // A language model: its blocks, its text with token boundaries (the text beside it in place of
  // the image sets a new project starts with), and greedy text from a prompt that is the CLI's.
  void opensADecoderAndGenerates() {
    auto w = makeWorkbench();
    w->setDevice("cpu-onednn");
    const QString decoder = QS_SOURCE_MODELS_DIR "/decoder/decoder.onnx";
    QVERIFY(qs::gui::test::createProject(*w, decoder, "fashion-mnist:train", "fashion-mnist:test",
                                         100));
    QVERIFY(w->model()->decoder());
    const QVariantList blocks = w->model()->blocks();
    QCOMPARE(blocks.size(), 7);  // layers.0 ... layers.5, then the rest
    QCOMPARE(blocks.first().toMap().value("name").toString(), QString("layers.0"));
    QCOMPARE(blocks.last().toMap().value("filter").toString(), QString());
    qint64 layers = 0;
    for (const QVariant& b : blocks) layers += b.toMap().value("layers").toLongLong();
    QCOMPARE(layers, qint64(w->model()->summary().layerCount));
    QVERIFY(w->model()->inputs().contains("past_key_values.{0…5}.key|value  float32 [?,2,?,40]"));

    const qs::gui::DataInfo info = w->data()->info();
    QVERIFY(info.text);
    QVERIFY(info.evaluation.endsWith("decoder/test.txt"));
    QCOMPARE(info.evaluationSamples, 59.0);  // documents
    QCOMPARE(w->data()->samples().size(), 8);
    QVERIFY(w->data()->samples().first().toMap().value("html").toString().contains("And"));

    QSignalSpy generated(w->compare(), &qs::gui::CompareController::generationChanged);
    w->compare()->generate("And God said unto Moses,", 16);
    QVERIFY(generated.wait(120000));
    const QVariantMap g = w->compare()->generation();
    QCOMPARE(g.value("tokens").toLongLong(), 16);
    QVERIFY(g.value("decodeTokensPerS").toDouble() > 0);
    QProcess cli;
    cli.start(QS_CLI_PROGRAM, {"generate", decoder, "--device", "cpu-onednn", "--prompt",
                               "And God said unto Moses,", "-n", "16", "--json"});
    QVERIFY(cli.waitForFinished(120000));
    QCOMPARE(cli.exitCode(), 0);
    const QJsonObject j = QJsonDocument::fromJson(cli.readAllStandardOutput()).object();
    QCOMPARE(g.value("text").toString(), j.value("text").toString());
    QVERIFY(w->errors().isEmpty());
  }

  void aMissingModelIsAnErrorInWords() {
    auto w = makeWorkbench();
    QVERIFY(!qs::gui::test::openModel(*w, "/nonexistent/model.onnx"));
    QVERIFY(w->errors().value("project").toString().contains("model.onnx"));
  }
};

QTEST_MAIN(TestWorkbench)
#include "test_workbench.moc"
