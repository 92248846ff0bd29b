#include "controllers/quantized_job.h"

#include <optional>

#include "workbench_util.h"

namespace qs::gui {

bool restoreQuantized(Workbench& wb, const QString& page, const qs::QuantizeRequest& request,
                      const QVariantMap& extras, const InstallQuantized& install) {
  auto q = qs::find_result(wb.store(), request);
  if (!q) return false;
  auto quantized = std::make_shared<const qs::QuantizedModel>(std::move(*q));
  qs::CompareRequest compare;
  compare.in = wb.recipeInputs();
  compare.quantized = quantized;
  const auto pair = qs::find_result(wb.store(), compare);
  if (!pair) return false;
  install(quantizedView(*request.in.graph, *quantized, *pair, compare.in.device, extras),
          quantized);
  wb.jobs()->drop(page);  // a running job would replace it later
  return true;
}

void startQuantized(Workbench& wb, const QString& page, const qs::QuantizeRequest& request,
                    const QVariantMap& extras, const InstallQuantized& install) {
  const std::optional<qs::QuantizedModel> known = qs::find_result(wb.store(), request);
  qs::CompareRequest plan;
  plan.in = wb.recipeInputs();
  Workbench* w = &wb;
  wb.jobs()->start(
      page,
      [w, request, known, plan, extras, install](const qs::JobControl& job) -> JobRunner::Deliver {
        auto q = std::make_shared<const qs::QuantizedModel>(
            known ? *known : request.run(phase(job, 0.0, 0.5, "calibrate")));
        qs::CompareRequest compare = plan;
        compare.quantized = q;
        const qs::PairEvalResult pair = compare.run(phase(job, 0.5, 1.0, "evaluate"));
        const QVariantMap view =
            quantizedView(*request.in.graph, *q, pair, request.in.device, extras);
        // Keys and JSON here, on the worker: for a large model they take a while.
        const qs::CachedResult quantized = qs::cache_entry(request, *q);
        const qs::CachedResult compared = qs::cache_entry(compare, pair);
        return [w, q, view, install, quantized, compared] {
          install(view, q);
          qs::store_cached(w->store(), quantized);
          qs::store_cached(w->store(), compared);
          w->markModified();
        };
      });
}

}  // namespace qs::gui
