// quantscope: the workbench window. Without arguments it opens the bundled sample (LeNet on
// Fashion-MNIST); `quantscope FILE.onnx` opens that model; `--screenshots DIR` renders every page.
#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QQmlApplicationEngine>
#include <QQmlExtensionPlugin>
#include <QQuickStyle>
#include <cstdio>

#include "controllers/project_controller.h"
#include "quantscope/memory.h"
#include "quantscope/registry.h"
#include "sample_images.h"
#include "screenshots.h"
#include "workbench.h"

Q_IMPORT_QML_PLUGIN(QuantscopePlugin)
Q_IMPORT_QML_PLUGIN(Quantscope_BridgePlugin)

namespace {

// The bundled sample: beside an installed program, else in the source tree it was built from.
QString sampleModel() {
  const QString installed =
      QCoreApplication::applicationDirPath() + QStringLiteral("/../share/quantscope/models");
  for (const QString& dir : {installed, QStringLiteral(QS_SOURCE_MODELS_DIR)}) {
    const QString path = dir + QStringLiteral("/lenet.onnx");
    if (QFileInfo::exists(path)) return QDir::cleanPath(path);
  }
  return QStringLiteral(QS_SOURCE_MODELS_DIR "/lenet.onnx");
}

}  // namespace

int main(int argc, char** argv) {
  qs::keep_freed_memory();
  // Qt Charts draws with QGraphicsView, so the application must be a QApplication.
  QApplication app(argc, argv);
  QApplication::setApplicationName(QStringLiteral("Quantscope"));
  QApplication::setOrganizationName(QStringLiteral("Quantscope"));
  QApplication::setApplicationVersion(QStringLiteral(QS_VERSION));
  QQuickStyle::setStyle(QStringLiteral("Fusion"));

  QCommandLineParser parser;
  parser.setApplicationDescription(
      QStringLiteral("The Quantscope workbench: quantize, analyze and search bit widths."));
  parser.addHelpOption();
  parser.addVersionOption();
  const QCommandLineOption screenshots(
      QStringLiteral("screenshots"),
      QStringLiteral("Compute every page, write DIR/<page>.png and exit (1 if a page shows an "
                     "error)."),
      QStringLiteral("DIR"));
  const QCommandLineOption limit(QStringLiteral("limit"),
                                 QStringLiteral("Samples taken from each data set (default 1000)."),
                                 QStringLiteral("N"), QStringLiteral("1000"));
  parser.addOption(screenshots);
  parser.addOption(limit);
  parser.addPositionalArgument(
      QStringLiteral("file"),
      QStringLiteral("A project (.qsproj), an ONNX model, or a package (default: the bundled "
                     "sample, LeNet with Fashion-MNIST)."));
  parser.process(app);

  auto* images = new qs::gui::SampleImageProvider;  // the QML engine owns both
  auto* compareImages = new qs::gui::SampleImageProvider;
  qs::gui::Workbench workbench(std::make_unique<qs::Registry>(qs::make_default_registry()), images,
                               compareImages);
  qs::gui::ProjectController& project = *workbench.project();
  const QStringList positional = parser.positionalArguments();
  const QString file = positional.isEmpty() ? QString() : positional.first();
  // The model loads in a job, so the window shows at once; an autosave left by a session that
  // did not end cleanly is offered once it has loaded.
  const int samples = parser.value(limit).toInt();
  const auto create = [&project, samples](const QString& model) {
    project.create(model, QStringLiteral("fashion-mnist:train"),
                   QStringLiteral("fashion-mnist:test"), samples);
  };
  if (file.endsWith(QStringLiteral(".qsproj"))) {
    // On failure the window shows why, over the sample.
    QObject::connect(
        workbench.jobs(), &qs::gui::JobRunner::finished, &project,
        [create](const QString& kind, bool ok, const QString&) {
          if (kind == QStringLiteral("project") && !ok) create(sampleModel());
        },
        Qt::SingleShotConnection);
    project.open(file);
  } else {
    create(file.isEmpty() ? sampleModel() : file);
  }
  if (!parser.isSet(screenshots)) project.setAutosave(true);

  QQmlApplicationEngine engine;
  engine.addImageProvider(QStringLiteral("samples"), images);
  engine.addImageProvider(QStringLiteral("compare"), compareImages);
  engine.addImportPath(QStringLiteral("qrc:/"));
  qs::gui::Workbench::setInstance(&workbench);  // QML's Workbench singleton
  engine.load(QUrl(QStringLiteral("qrc:/Quantscope/Main.qml")));
  if (engine.rootObjects().isEmpty()) {
    std::fprintf(stderr, "quantscope: the window could not be created (see the QML errors)\n");
    return 1;
  }
  if (parser.isSet(screenshots))
    return qs::gui::takeScreenshots(engine, workbench, parser.value(screenshots));
  return app.exec();
}
