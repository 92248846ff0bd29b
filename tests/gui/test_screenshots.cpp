// Runs `quantscope --screenshots DIR` offscreen and checks that every page was written, at
// 1280x800, and is not blank (the page area holds more than a few colours).
#include <QImage>
#include <QProcess>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>
#include <vector>

class TestScreenshots : public QObject {
  Q_OBJECT

  static void render(const QStringList& arguments, const std::vector<const char*>& pages) {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    QProcess process;
    process.setProcessChannelMode(QProcess::ForwardedChannels);
    process.start(QS_QUANTSCOPE_PROGRAM, QStringList{"--screenshots", dir.path()} + arguments);
    QVERIFY(process.waitForFinished(900000));
    QCOMPARE(process.exitStatus(), QProcess::NormalExit);
    QCOMPARE(process.exitCode(), 0);
    for (const char* page : pages) {
      const QString path = dir.filePath(QString(page) + ".png");
      QImage image(path);
      QVERIFY2(!image.isNull(), qPrintable("missing or unreadable: " + path));
      QCOMPARE(image.size(), QSize(1280, 800));
      // The page area, right of the side bar and below the tool bar.
      QSet<QRgb> colours;
      for (int y = 60; y < 760; y += 3)
        for (int x = 200; x < 1270; x += 3) colours.insert(image.pixel(x, y));
      QVERIFY2(colours.size() > 20,
               qPrintable(QString("%1 looks blank (%2 colours)").arg(page).arg(colours.size())));
    }
  }

 private slots:
  void everyPageIsRendered() {
    render({"--limit", "200"}, {"model", "data", "quantize", "analyze", "search", "tune", "compare",
                                "measure", "export"});
  }

  void aLanguageModelsPagesAreRendered() {
    render({QS_SOURCE_MODELS_DIR "/decoder/decoder.onnx"}, {"model", "data", "compare"});
  }
};

QTEST_GUILESS_MAIN(TestScreenshots)
#include "test_screenshots.moc"
