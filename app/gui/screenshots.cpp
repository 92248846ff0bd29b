#include "screenshots.h"

#include <QDir>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QImage>
#include <QQuickWindow>
#include <QTemporaryDir>
#include <QTimer>
#include <cstdio>

#include "controllers/analyze_controller.h"
#include "controllers/compare_controller.h"
#include "controllers/export_controller.h"
#include "controllers/measure_controller.h"
#include "controllers/model_controller.h"
#include "controllers/quantize_controller.h"
#include "controllers/search_controller.h"
#include "controllers/tune_controller.h"
#include "workbench.h"

namespace qs::gui {

namespace {

void settle(int milliseconds) {
  QEventLoop loop;
  QTimer::singleShot(milliseconds, &loop, &QEventLoop::quit);
  loop.exec();
}

void runJob(Workbench& workbench, const char* name, const std::function<void()>& start) {
  QElapsedTimer timer;
  timer.start();
  std::fprintf(stderr, "screenshots: %s…\n", name);
  start();
  workbench.jobs()->waitForIdle();
  std::fprintf(stderr, "screenshots: %s took %.1f s\n", name, timer.elapsed() / 1000.0);
}

// Writes DIR/<page>.png for the pages in `pages` (all when empty); false when one could not be.
bool grabPages(QQuickWindow& window, const QString& dir, const QStringList& only = {}) {
  bool ok = true;
  const QStringList pages = window.property("pageNames").toStringList();
  for (int i = 0; i < pages.size(); ++i) {
    if (!only.isEmpty() && !only.contains(pages[i].toLower())) continue;
    window.setProperty("currentPage", i);
    settle(400);
    const QImage image = window.grabWindow();
    const QString path = QDir(dir).filePath(pages[i].toLower() + QStringLiteral(".png"));
    if (image.isNull() || !image.save(path)) {
      std::fprintf(stderr, "screenshots: could not write %s\n", qPrintable(path));
      ok = false;
    } else {
      std::printf("%s\n", qPrintable(path));
    }
  }
  return ok;
}

// A language model: its layers by block, its text with token boundaries, text it generates.
// The other pages quantize classifiers (language models come with part 2) and are left out.
int decoderScreenshots(QQuickWindow& window, Workbench& workbench, const QString& dir) {
  runJob(workbench, "generate",
         [&] { workbench.compare()->generate(QStringLiteral("In the beginning"), 48); });
  const QStringList pages{QStringLiteral("model"), QStringLiteral("data"),
                          QStringLiteral("compare")};
  int status = grabPages(window, dir, pages) ? 0 : 1;
  const QVariantMap errors = workbench.errors();
  for (const QString& page : pages)
    if (errors.contains(page)) {
      std::fprintf(stderr, "screenshots: the %s page shows an error: %s\n", qPrintable(page),
                   qPrintable(errors.value(page).toString()));
      status = 1;
    }
  return status;
}

}  // namespace

int takeScreenshots(QQmlApplicationEngine& engine, Workbench& workbench, const QString& dir) {
  if (engine.rootObjects().isEmpty()) return 1;
  auto* window = qobject_cast<QQuickWindow*>(engine.rootObjects().first());
  if (!window) return 1;
  if (!QDir().mkpath(dir)) {
    std::fprintf(stderr, "screenshots: cannot create %s\n", qPrintable(dir));
    return 1;
  }
  window->resize(1280, 800);
  window->show();
  workbench.jobs()->waitForIdle();  // the model and data, opened in a job
  if (workbench.model()->decoder()) return decoderScreenshots(*window, workbench, dir);

  runJob(workbench, "quantize", [&] { workbench.quantize()->run({}); });
  runJob(workbench, "analyze", [&] { workbench.analyze()->run(); });
  runJob(workbench, "search", [&] { workbench.search()->run(); });
  runJob(workbench, "measure", [&] { workbench.measure()->run(); });
  // Tune the smallest verified front point that stays close to float (measured KL under
  // 0.02), as a user clicking it would, and measure it.
  QVariantMap point;
  for (const QVariant& v : workbench.search()->result().value("front").toList()) {
    const QVariantMap p = v.toMap();
    if (!p.value("measured").toBool() || p.value("measuredKl").toDouble() >= 0.02) continue;
    if (point.isEmpty() || p.value("costBytes").toDouble() < point.value("costBytes").toDouble())
      point = p;
  }
  workbench.tune()->loadConfiguration(point.value("config").toMap());
  runJob(workbench, "tune", [&] { workbench.tune()->measure(); });
  runJob(workbench, "compare", [&] { workbench.compare()->run(0); });
  runJob(workbench, "errors", [&] { workbench.analyze()->traceErrors(); });
  QTemporaryDir packages;  // the exported package is shown, not kept
  const QString package = packages.filePath(QStringLiteral("lenet-w8a8"));
  runJob(workbench, "export", [&] { workbench.exporter()->run(package); });

  int status = grabPages(*window, dir) ? 0 : 1;
  // Two jobs side by side (a new quantization and a Tune measurement), caught while they run.
  window->setProperty("currentPage", 2);
  QVariantMap sixBits;
  for (const QVariant& v : workbench.search()->result().value("front").toList())
    for (const QString& layer : v.toMap().value("config").toMap().keys()) sixBits[layer] = 6;
  workbench.tune()->loadConfiguration(sixBits);
  workbench.quantize()->run({{"weightBits", 4}, {"calibrator", "entropy"}});
  workbench.tune()->measure();
  // Grabbed at once: the bindings follow the runner's signals synchronously and the grab
  // lays out and renders, while no event can deliver a finished job.
  const bool both = workbench.jobs()->running().size() == 2;
  const QImage running = window->grabWindow();
  const QString jobs = QDir(dir).filePath(QStringLiteral("jobs.png"));
  if (!both || running.isNull() || !running.save(jobs)) {
    std::fprintf(stderr, "screenshots: could not catch two jobs running for %s\n",
                 qPrintable(jobs));
    status = 1;
  } else {
    std::printf("%s\n", qPrintable(jobs));
  }
  workbench.jobs()->waitForIdle();
  const QVariantMap errors = workbench.errors();
  for (auto it = errors.begin(); it != errors.end(); ++it) {
    std::fprintf(stderr, "screenshots: the %s page shows an error: %s\n", qPrintable(it.key()),
                 qPrintable(it.value().toString()));
    status = 1;
  }
  return status;
}

}  // namespace qs::gui
