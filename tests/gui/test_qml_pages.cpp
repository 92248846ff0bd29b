// Qt Quick Tests of the pages' logic (tests/gui/qml/tst_*.qml). The QML engine gets what the
// program gives it: the Quantscope modules, the image providers, and the Workbench singleton on
// the bundled sample (LeNet, 200 Fashion-MNIST samples per set) on the reference device.
#include <QApplication>
#include <QQmlEngine>
#include <QQmlExtensionPlugin>
#include <QQuickStyle>
#include <QStandardPaths>
#include <QtQuickTest>

#include "controllers/project_controller.h"
#include "quantscope/registry.h"
#include "sample_images.h"
#include "workbench.h"

Q_IMPORT_QML_PLUGIN(QuantscopePlugin)
Q_IMPORT_QML_PLUGIN(Quantscope_BridgePlugin)

class Setup : public QObject {
  Q_OBJECT

 public slots:
  void qmlEngineAvailable(QQmlEngine* engine) {
    QStandardPaths::setTestModeEnabled(true);
    auto* images = new qs::gui::SampleImageProvider;
    auto* compare = new qs::gui::SampleImageProvider;
    workbench_ = std::make_unique<qs::gui::Workbench>(
        std::make_unique<qs::Registry>(qs::make_default_registry()), images, compare);
    workbench_->setDevice(QStringLiteral("cpu-ref"));
    workbench_->project()->create(QStringLiteral(QS_SOURCE_MODELS_DIR "/lenet.onnx"),
                                  QStringLiteral("fashion-mnist:train"),
                                  QStringLiteral("fashion-mnist:test"), 200);
    workbench_->jobs()->waitForIdle();  // the model opens in a job
    engine->addImageProvider(QStringLiteral("samples"), images);
    engine->addImageProvider(QStringLiteral("compare"), compare);
    engine->addImportPath(QStringLiteral("qrc:/"));
    qs::gui::Workbench::setInstance(workbench_.get());
  }
  void cleanupTestCase() { workbench_.reset(); }

 private:
  std::unique_ptr<qs::gui::Workbench> workbench_;
};

int main(int argc, char** argv) {
  // Qt Charts draws with QGraphicsView: the application must be a QApplication.
  QApplication app(argc, argv);
  QQuickStyle::setStyle(QStringLiteral("Fusion"));
  Setup setup;
  return quick_test_main_with_setup(argc, argv, "quantscope_qml", QS_QML_TESTS_DIR, &setup);
}

#include "test_qml_pages.moc"
