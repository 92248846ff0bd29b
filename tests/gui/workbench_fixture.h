// A workbench on the default registry, as the GUI tests build it, and its page controllers.
#pragma once

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

}  // namespace qs::gui::test
