// The bridge on the bundled sample: the models pass QAbstractItemModelTester, a real quantize
// job runs while the event loop keeps turning, Cancel stops a real sweep, and a broken model
// gives an error in words.
#include <QAbstractItemModelTester>
#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include "quantscope/registry.h"
#include "workbench.h"

using qs::gui::Workbench;

class TestWorkbench : public QObject {
  Q_OBJECT

  std::unique_ptr<Workbench> makeWorkbench() {
    auto* images = new qs::gui::SampleImageProvider;  // leaked on purpose: QML would own it
    auto w = std::make_unique<Workbench>(
        std::make_unique<qs::Registry>(qs::make_default_registry()), images);
    w->setDevice("cpu-ref");
    return w;
  }

 private slots:
  void opensTheSampleWithTestedModels() {
    auto w = makeWorkbench();
    QAbstractItemModelTester layers(qobject_cast<QAbstractItemModel*>(w->layers()),
                                    QAbstractItemModelTester::FailureReportingMode::QtTest);
    QAbstractItemModelTester sensitivity(qobject_cast<QAbstractItemModel*>(w->sensitivity()),
                                         QAbstractItemModelTester::FailureReportingMode::QtTest);
    QVERIFY(w->openModel(QS_SOURCE_MODELS_DIR "/lenet.onnx"));
    QVERIFY(w->setData("fashion-mnist:train", "fashion-mnist:test", 200));
    auto* model = qobject_cast<QAbstractItemModel*>(w->layers());
    QCOMPARE(model->rowCount(), 12);
    model->sort(3, Qt::DescendingOrder);  // MACs
    QCOMPARE(model->index(0, 0).data().toString(), QString("/conv2/Conv"));
    QCOMPARE(w->samples().size(), 32);
    QVERIFY(w->errors().isEmpty());
  }

  void quantizeRunsWhileTheLoopTurns() {
    auto w = makeWorkbench();
    QVERIFY(w->openModel(QS_SOURCE_MODELS_DIR "/lenet.onnx"));
    QVERIFY(w->setData("fashion-mnist:train", "fashion-mnist:test", 300));
    int ticks = 0;
    QTimer timer;
    QObject::connect(&timer, &QTimer::timeout, [&] { ++ticks; });
    timer.start(5);
    QSignalSpy result(w.get(), &Workbench::quantResultChanged);
    w->quantize({{"weightBits", 8}, {"actBits", 8}});
    QVERIFY(result.wait(120000));
    QVERIFY2(ticks >= 3, qPrintable(QString("%1 ticks").arg(ticks)));
    const QVariantMap r = w->quantResult();
    QVERIFY(r.value("floatTop1").toDouble() > 80.0);
    QVERIFY(r.value("agreement").toDouble() > 95.0);
    QVERIFY(r.value("quantBytes").toLongLong() < r.value("floatBytes").toLongLong() / 3);
  }

  void cancelStopsARealSweep() {
    auto w = makeWorkbench();
    QVERIFY(w->openModel(QS_SOURCE_MODELS_DIR "/lenet.onnx"));
    QVERIFY(w->setData("fashion-mnist:train", "fashion-mnist:test", 1000));
    QSignalSpy finished(w->jobs(), &qs::gui::JobRunner::finished);
    w->analyze();
    QTimer::singleShot(300, w->jobs(), &qs::gui::JobRunner::cancel);
    QVERIFY(finished.wait(60000));
    QCOMPARE(finished.first().at(1).toBool(), false);
    QVERIFY(w->analysis().isEmpty());
    QVERIFY(w->errors().value("analyze").toString().contains("Cancelled"));
  }

  // Quantize, export a package, open the package again: its quantization comes back and exports
  // again to the same model file.
  void exportsAndReopensAPackage() {
    auto w = makeWorkbench();
    QVERIFY(w->openModel(QS_SOURCE_MODELS_DIR "/lenet.onnx"));
    QVERIFY(w->setData("fashion-mnist:train", "fashion-mnist:test", 200));
    QVERIFY(w->quantizationLabel().isEmpty());
    QSignalSpy quantized(w.get(), &Workbench::quantResultChanged);
    w->quantize({{"weightBits", 8}, {"actBits", 8}});
    QVERIFY(quantized.wait(120000));
    QVERIFY(!w->quantizationLabel().isEmpty());
    QTemporaryDir dir;
    const QString first = dir.filePath("first"), second = dir.filePath("second");
    QSignalSpy exported(w.get(), &Workbench::exportResultChanged);
    w->exportPackage(first);
    QVERIFY(exported.wait(120000));
    QVERIFY2(w->errors().isEmpty(), qPrintable(w->errors().value("export").toString()));
    const QVariantMap r = w->exportResult();
    QCOMPARE(r.value("classes").toList().size(), 10);
    QVERIFY(r.value("files").toStringList().contains("model.onnx"));

    QVERIFY(w->openModel(first));
    QVERIFY(w->summary().value("imported").toString().contains("recovered"));
    QVERIFY(w->quantizationLabel().contains("recovered"));
    w->exportPackage(second);
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

  void aMissingModelIsAnErrorInWords() {
    auto w = makeWorkbench();
    QVERIFY(!w->openModel("/nonexistent/model.onnx"));
    QVERIFY(w->errors().value("model").toString().contains("model.onnx"));
  }
};

QTEST_MAIN(TestWorkbench)
#include "test_workbench.moc"
