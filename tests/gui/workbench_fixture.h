// A workbench on the default registry, as the GUI tests build it.
#pragma once

#include <memory>

#include "quantscope/registry.h"
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
