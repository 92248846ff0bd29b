// A workbench on the default registry, as the GUI tests build it, and its page controllers.
#pragma once

#include <QObject>
#include <functional>
#include <memory>

#include "controllers/analyze_controller.h"
#include "controllers/compare_controller.h"
#include "controllers/data_controller.h"
#include "controllers/export_controller.h"
#include "controllers/measure_controller.h"
#include "controllers/model_controller.h"
#include "controllers/project_controller.h"
#include "controllers/quantize_controller.h"
#include "controllers/search_controller.h"
#include "controllers/tune_controller.h"
#include "quantscope/registry.h"
#include "sample_images.h"
#include "workbench.h"

namespace qs::gui::test {

// On the default device (cpu-onednn where it is usable); tests that compare numbers with other
// tests choose cpu-ref.
inline std::unique_ptr<Workbench> make_workbench() {
  auto* images = new SampleImageProvider;  // leaked on purpose: QML would own it
  return std::make_unique<Workbench>(std::make_unique<qs::Registry>(qs::make_default_registry()),
                                     images);
}

// Opening a project, a model or the autosave runs as a job: these start one, wait for it and
// return whether it succeeded (the "project" error says why not).
inline bool awaitOpening(Workbench& w, const std::function<void()>& start) {
  bool ok = false;
  const auto connection = QObject::connect(
      w.jobs(), &JobRunner::finished, [&ok](const QString& kind, bool success, const QString&) {
        if (kind == QStringLiteral("project")) ok = success;
      });
  start();
  w.jobs()->waitForIdle();
  QObject::disconnect(connection);
  return ok;
}

inline bool createProject(Workbench& w, const QString& model, const QString& calibration = {},
                          const QString& evaluation = {}, int limit = 0) {
  return awaitOpening(w, [&] { w.project()->create(model, calibration, evaluation, limit); });
}

// A model into an untitled project, on the current data sets.
inline bool openModel(Workbench& w, const QString& model) {
  return createProject(w, model);
}

inline bool openProject(Workbench& w, const QString& path, bool asTemplate = false) {
  return awaitOpening(w, [&] { w.project()->open(path, asTemplate); });
}

inline bool recover(Workbench& w) {
  return awaitOpening(w, [&] { w.project()->recover(); });
}

}  // namespace qs::gui::test
