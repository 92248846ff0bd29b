#include "controllers/analyze_controller.h"

#include <algorithm>
#include <optional>

#include "quantscope/evaluate.h"
#include "workbench_util.h"

namespace qs::gui {

namespace {

const QString kErrors = QStringLiteral("errors");  // the error trace's job, error and cache kind

// The page's view: the traces beside the sweep's HAWQ estimate and measured KL.
QVariantMap analysisView(const qs::HessianResult& traces, const qs::SensitivityResult& r,
                         const std::string& device) {
  QVariantList hessian;
  for (const qs::LayerHessian& h : traces.layers) {
    QVariantMap by_bits;  // the HAWQ estimate beside the measured KL, per width
    for (const qs::LayerSensitivity& l : r.layers)
      if (l.name == h.name)
        for (const auto& [b, s] : l.bits)
          by_bits[QString::number(b)] =
              QVariantMap{{"kl", finiteOrNull(s.kl)}, {"hawq", finiteOrNull(s.hawq)}};
    hessian.append(QVariantMap{{"name", QString::fromStdString(h.name)},
                               {"trace", h.trace},
                               {"stderr", finiteOrNull(h.std_error)},
                               {"params", qint64(h.params)},
                               {"byBits", by_bits}});
  }
  return {{"hessian", hessian},
          {"hessianProbes", traces.probes},
          {"hessianSamples", qint64(traces.samples)},
          {"hessianLoss", QString::fromStdString(traces.loss)},
          {"fp32Top1", r.fp32_top1},
          {"samples", qint64(r.samples)},
          {"layers", int(r.layers.size())},
          {"device", QString::fromStdString(device)},
          {"notes", notesList(r.notes)}};
}

QVariantMap errorsView(const qs::ErrorTrace& trace, const QString& label,
                       const std::string& device) {
  QVariantList layers;
  for (const qs::LayerError& e : trace.layers)
    layers.append(QVariantMap{{"name", QString::fromStdString(e.name)},
                              {"op", QString::fromStdString(e.op)},
                              {"introduced", finiteOrNull(e.introduced_sqnr_db)},
                              {"accumulated", finiteOrNull(e.accumulated_sqnr_db)}});
  return {{"config", label},
          {"samples", qint64(trace.samples)},
          {"device", QString::fromStdString(device)},
          {"layers", layers}};
}

}  // namespace

AnalyzeController::AnalyzeController(Workbench* workbench)
    : PageController(workbench, QStringLiteral("analyze")),
      table_(new SensitivityTableModel(this)) {
  connect(workbench, &Workbench::modelChanged, this, &AnalyzeController::clear);
  connect(workbench, &Workbench::quantizationChanged, this, [this] {
    setLayerErrors({});
    wb().jobs()->drop(kErrors);  // a trace of the previous quantization is stale
    restoreErrors();             // traced before for this quantization
  });
}

void AnalyzeController::clear() {
  table_->setResult({});
  sweep_.reset();
  result_.clear();
  emit resultChanged();
  setLayerErrors({});
}

// Hessian traces on the first 256 calibration samples (the first quarter of the job), then the
// sweep with their HAWQ estimate beside the measured KL.
qs::HessianRequest AnalyzeController::tracesRequest() const {
  qs::HessianRequest r;
  r.in = wb().recipeInputs();
  r.in.limit = r.in.limit > 0 ? std::min<std::int64_t>(r.in.limit, 256) : 256;
  r.options.max_probes = 100;
  r.options.tol = 1e-2;
  return r;
}

qs::SensitivityRequest AnalyzeController::sweepRequest() const {
  qs::SensitivityRequest r;
  r.in = wb().recipeInputs();
  r.options.bits = {2, 3, 4, 5, 6, 8};
  return r;
}

void AnalyzeController::install(const QVariantMap& view,
                                std::shared_ptr<const qs::SensitivityResult> r) {
  table_->setResult(*r);
  sweep_ = std::move(r);
  result_ = view;
  emit resultChanged();
}

void AnalyzeController::restore() {
  restoreSweep();
}

bool AnalyzeController::restoreSweep() {
  const qs::HessianRequest traces = tracesRequest();
  const auto known = qs::find_result(wb().store(), traces);
  if (!known) return false;
  qs::SensitivityRequest sweep = sweepRequest();
  sweep.hessian = *known;
  const auto r = qs::find_result(wb().store(), sweep);
  if (!r) return false;
  install(analysisView(*known, *r, sweep.in.device),
          std::make_shared<const qs::SensitivityResult>(*r));
  wb().jobs()->drop(page());  // a running analysis would replace it later
  return true;
}

void AnalyzeController::run() {
  if (!ready()) return;
  setError({});
  if (restoreSweep()) return;
  const qs::HessianRequest traces = tracesRequest();
  const std::optional<qs::HessianResult> known = qs::find_result(wb().store(), traces);
  const qs::SensitivityRequest plan = sweepRequest();
  Workbench* w = &wb();
  wb().jobs()->start(
      page(), [this, w, traces, known, plan](const qs::JobControl& job) -> JobRunner::Deliver {
        qs::JobControl part = job;
        part.progress = [&job](double f, const std::string& m) {
          job.report(0.25 * f, "Hessian: " + m);
        };
        qs::SensitivityRequest sweep = plan;
        sweep.hessian = known ? *known : traces.run(part);
        part.progress = [&job](double f, const std::string& m) { job.report(0.25 + 0.75 * f, m); };
        auto r = std::make_shared<const qs::SensitivityResult>(sweep.run(part));
        const QVariantMap view = analysisView(*sweep.hessian, *r, sweep.in.device);
        // Both parts, each under its own recipe's key: the CLI's hessian and sensitivity find them.
        const qs::CachedResult traced = qs::cache_entry(traces, *sweep.hessian);
        const qs::CachedResult swept = qs::cache_entry(sweep, *r);
        return [this, w, r, view, traced, swept] {
          install(view, r);
          qs::store_cached(w->store(), traced);
          qs::store_cached(w->store(), swept);
          w->markModified();
        };
      });
}

QString AnalyzeController::traceError() const {
  return wb().errors().value(kErrors).toString();
}

bool AnalyzeController::tracing() const {
  return wb().jobs()->kinds().contains(kErrors);
}

qs::ErrorsRequest AnalyzeController::errorsRequest() const {
  qs::ErrorsRequest r;
  r.in = wb().recipeInputs();
  r.quantized = wb().quantized();
  return r;
}

void AnalyzeController::setLayerErrors(const QVariantMap& view) {
  if (view == layerErrors_) return;
  layerErrors_ = view;
  emit layerErrorsChanged();
}

bool AnalyzeController::restoreErrors() {
  if (!wb().quantized()) return false;
  const qs::ErrorsRequest request = errorsRequest();
  const auto trace = qs::find_result(wb().store(), request);
  if (!trace) return false;
  setLayerErrors(errorsView(*trace, wb().quantizationLabel(), request.in.device));
  wb().jobs()->drop(kErrors);  // a running trace would replace it later
  return true;
}

void AnalyzeController::traceErrors() {
  if (!wb().ready(kErrors)) return;
  if (!wb().quantized()) {
    wb().setError(kErrors, tr("Quantize the model first (Quantize or Tune page): this traces that "
                              "quantization's error through the layers."));
    return;
  }
  wb().setError(kErrors, {});
  if (restoreErrors()) return;
  const qs::ErrorsRequest request = errorsRequest();
  const QString label = wb().quantizationLabel();
  Workbench* w = &wb();
  wb().jobs()->start(kErrors,
                     [this, w, request, label](const qs::JobControl& job) -> JobRunner::Deliver {
                       const qs::ErrorTrace trace = request.run(job);
                       const QVariantMap view = errorsView(trace, label, request.in.device);
                       const qs::CachedResult entry = qs::cache_entry(request, trace);
                       return [this, w, view, entry] {
                         setLayerErrors(view);
                         qs::store_cached(w->store(), entry);
                         w->markModified();
                       };
                     });
}

}  // namespace qs::gui
