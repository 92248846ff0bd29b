// The Tune table: a well-behaved model (QAbstractItemModelTester), totals that are the sums of
// the chosen options, widths that snap to the ones measured, and an update well under the 50 ms
// the page promises, even for a model with hundreds of layers.
#include <QAbstractItemModelTester>
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTest>

#include "tune_model.h"

using qs::gui::TuneModel;

namespace {

// Layer i at width b: KL (i + 1) * 2^-b, bytes params * b / 8, BOPs 64 * b * 8, ms b / 100.
std::vector<TuneModel::Layer> layers(int count) {
  std::vector<TuneModel::Layer> out;
  for (int i = 0; i < count; ++i) {
    TuneModel::Layer l{"layer" + std::to_string(i), i % 2 ? "Gemm" : "Conv", 100 * (i + 1), {}};
    for (int b : {2, 4, 8})
      l.choices.push_back(
          {b, (i + 1) * std::ldexp(1.0, -b), 100.0 * (i + 1) * b / 8, 64.0 * b * 8, b / 100.0});
    out.push_back(l);
  }
  return out;
}

}  // namespace

class TestTuneModel : public QObject {
  Q_OBJECT

 private slots:
  void totalsAreTheSumsOfTheChoices() {
    TuneModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    TuneModel::Fixed fixed{1000, 0, 0.5, 5000, "cpu-ref"};
    model.setLayers(layers(3), fixed);
    QCOMPARE(model.rowCount(), 3);
    auto expect = [&](const std::vector<int>& bits) {
      double kl = 0, bytes = fixed.bytes, ms = fixed.ms, bit_params = 0, params = 0;
      for (std::size_t i = 0; i < bits.size(); ++i) {
        kl += (i + 1) * std::ldexp(1.0, -bits[i]);
        bytes += 100.0 * (i + 1) * bits[i] / 8;
        ms += bits[i] / 100.0;
        bit_params += bits[i] * 100.0 * (i + 1);
        params += 100.0 * (i + 1);
      }
      const QVariantMap t = model.totals();
      QCOMPARE(t.value("predictedKl").toDouble(), kl);
      QCOMPARE(t.value("bytes").toDouble(), bytes);
      QCOMPARE(t.value("latencyMs").toDouble(), ms);
      QCOMPARE(t.value("averageBits").toDouble(), bit_params / params);
    };
    expect({8, 8, 8});  // new layers start at 8 bits
    QSignalSpy bitsChanged(&model, &TuneModel::bitsChanged);
    QVERIFY(model.setBits(1, 2));
    expect({8, 2, 8});
    QVERIFY(!model.setBits(1, 3));  // not a measured width
    QVERIFY(!model.setBits(7, 4));
    QVERIFY(model.setData(model.index(2, TuneModel::kBits), 4));
    expect({8, 2, 4});
    QVERIFY(!model.setData(model.index(2, TuneModel::kKl), 4));  // only widths are editable
    QCOMPARE(bitsChanged.count(), 2);
    model.setAllBits(5);  // nearest: 4
    expect({4, 4, 4});
    model.setBitsMap({{"layer0", 2}, {"nope", 4}, {"layer2", 3}});  // 3 is not measured
    expect({2, 4, 4});
    QCOMPARE(model.data(model.index(0, TuneModel::kBits), TuneModel::kBitsRole).toInt(), 2);
    QCOMPARE(model.data(model.index(0, 0), TuneModel::kNameRole).toString(), QString("layer0"));

    // New options keep the widths chosen for layers that remain.
    model.setLayers(layers(4), fixed);
    expect({2, 4, 4, 8});
    // Without a latency table there is no predicted latency.
    model.setLayers(layers(2), TuneModel::Fixed{1000, 0, -1, 5000, ""});
    QCOMPARE(model.totals().value("latencyMs").toDouble(), -1.0);
  }

  void aChangeUpdatesAtOnce() {
    TuneModel model;
    model.setLayers(layers(500), TuneModel::Fixed{});
    QElapsedTimer timer;
    timer.start();
    for (int i = 0; i < 100; ++i) QVERIFY(model.setBits(i, i % 2 ? 2 : 4));
    const double per_change_ms = timer.nsecsElapsed() / 1e6 / 100;
    qInfo("one width change with 500 layers: %.3f ms", per_change_ms);
    QVERIFY2(per_change_ms < 50, qPrintable(QString::number(per_change_ms)));
  }
};

QTEST_GUILESS_MAIN(TestTuneModel)
#include "test_tune_model.moc"
