// A quantization and its comparison with the float model, shared by the Quantize and Tune pages:
// from the project's cache, or as a job of the page; `install` puts the view in place.
#pragma once

#include <QVariantMap>
#include <functional>
#include <memory>

#include "quantscope/recipes.h"
#include "workbench.h"

namespace qs::gui {

using InstallQuantized =
    std::function<void(const QVariantMap& view, std::shared_ptr<const qs::QuantizedModel> q)>;

// The cached result of `request` (and its comparison) installed with `extras` added to its
// view; false when either is not cached.
bool restoreQuantized(Workbench& wb, const QString& page, const qs::QuantizeRequest& request,
                      const QVariantMap& extras, const InstallQuantized& install);
// Calibrates (or takes the cached calibration, computed by another page or by
// `quantscope-cli quantize --project`), then evaluates float and quantized side by side.
void startQuantized(Workbench& wb, const QString& page, const qs::QuantizeRequest& request,
                    const QVariantMap& extras, const InstallQuantized& install);

}  // namespace qs::gui
