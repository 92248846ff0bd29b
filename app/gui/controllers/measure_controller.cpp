#include "controllers/measure_controller.h"

#include <algorithm>
#include <optional>

#include "quantscope/bench.h"
#include "quantscope/results_json.h"
#include "workbench_util.h"

namespace qs::gui {

namespace {

const std::vector<int> kTableWidths{2, 3, 4, 5, 6, 8};

QVariantMap statsMap(const qs::BenchResult& r) {
  const qs::LatencyStats& s = r.end_to_end;
  return {{"median", s.median_ms},
          {"p90", s.p90_ms},
          {"p99", s.p99_ms},
          {"min", s.min_ms},
          {"max", s.max_ms},
          {"mean", s.mean_ms},
          {"cv", s.cv},
          {"runs", qint64(s.runs)},
          {"cold", r.cold_ms},
          {"threads", r.threads},
          {"throughput", r.throughput_per_s},
          {"unstable", r.unstable}};
}

QVariantMap measurementView(const std::string& device, bool integer, const qs::BenchResult& fp32,
                            const qs::BenchResult& int8, const qs::LatencyTable& table) {
  QVariantList layers;
  for (const qs::LayerLatency& l : fp32.layers) {
    QVariant quant;
    for (const qs::LayerLatency& m : int8.layers)
      if (m.name == l.name) quant = m.median_ms;
    layers.append(QVariantMap{{"name", QString::fromStdString(l.name)},
                              {"op", QString::fromStdString(l.op)},
                              {"floatMs", l.median_ms},
                              {"quantMs", quant}});
  }
  QVariantList widths;
  for (const auto& [bits, ms] : table.total_ms)
    widths.append(QVariantMap{{"bits", bits}, {"ms", ms}});
  QVariantMap environment;
  for (const auto& [k, v] : fp32.environment)
    environment[QString::fromStdString(k)] = QString::fromStdString(v);
  return {{"device", QString::fromStdString(device)},
          {"integerKernels", integer},
          {"float", statsMap(fp32)},
          {"quant", statsMap(int8)},
          {"layers", layers},
          {"widths", widths},
          {"environment", environment}};
}

}  // namespace

MeasureController::MeasureController(Workbench* workbench)
    : PageController(workbench, QStringLiteral("measure")) {
  connect(workbench, &Workbench::modelChanged, this, [this] { install({}, nullptr); });
}

// Float and 8-bit end to end and per layer, and the table of every width: calibrated on at most
// 256 samples (the defaults: W8A8 per channel, mse), 20 runs and 0.3 s at least.
MeasureController::Requests MeasureController::requests() const {
  Requests r;
  qs::RecipeInputs in = wb().recipeInputs();
  in.limit = std::min<std::int64_t>(in.limit > 0 ? in.limit : 256, 256);
  qs::BenchOptions bench;
  bench.warmup = 3;
  bench.runs = 20;
  bench.min_seconds = 0.3;
  bench.per_layer = true;
  r.fp32.in = in;
  r.fp32.options = bench;
  r.quantize.in = in;
  r.int8 = r.fp32;
  r.int8.integer_kernels = wb().integerKernels(QString::fromStdString(in.device));
  r.table.in = in;
  r.table.bits = kTableWidths;
  r.table.calibration_device = in.device;
  r.table.options = bench;
  r.table.options.per_layer = false;
  return r;
}

void MeasureController::install(const QVariantMap& view,
                                std::shared_ptr<const qs::LatencyTable> t) {
  result_ = view;
  table_ = std::move(t);
  emit resultChanged();
}

bool MeasureController::restoreResult() {
  Requests r = requests();
  const qs::Project& store = wb().store();
  const auto q8 = qs::find_result(store, r.quantize);
  if (!q8) return false;
  r.int8.quantized = std::make_shared<const qs::QuantizedModel>(*q8);
  const auto fp32 = qs::find_result(store, r.fp32);
  const auto int8 = fp32 ? qs::find_result(store, r.int8) : std::nullopt;
  const auto table = int8 ? qs::find_result(store, r.table) : std::nullopt;
  if (!table) return false;
  install(measurementView(r.fp32.in.device, r.int8.integer_kernels, *fp32, *int8, *table),
          std::make_shared<const qs::LatencyTable>(*table));
  wb().jobs()->drop(page());  // a running measurement would replace it later
  return true;
}

void MeasureController::run() {
  if (!ready()) return;
  setError({});
  if (restoreResult()) return;
  const Requests plan = requests();
  Workbench* w = &wb();
  wb().jobs()->start(page(), [this, w, plan](const qs::JobControl& job) -> JobRunner::Deliver {
    Requests r = plan;
    const qs::BenchResult fp32 = r.fp32.run(phase(job, 0.0, 0.15, "float"));
    const qs::QuantizedModel q8 = r.quantize.run(phase(job, 0.15, 0.25, "calibrate"));
    r.int8.quantized = std::make_shared<const qs::QuantizedModel>(q8);
    const qs::BenchResult int8 =
        r.int8.run(phase(job, 0.25, 0.4, r.int8.integer_kernels ? "int8" : "W8A8"));
    auto table = std::make_shared<const qs::LatencyTable>(
        r.table.run(phase(job, 0.4, 1.0, "latency table")));
    const QVariantMap view =
        measurementView(r.fp32.in.device, r.int8.integer_kernels, fp32, int8, *table);
    // Each part under its own recipe's key (the CLI's bench and latency-table find them).
    const std::vector<qs::CachedResult> entries{
        qs::cache_entry(r.fp32, fp32), qs::cache_entry(r.quantize, q8),
        qs::cache_entry(r.int8, int8), qs::cache_entry(r.table, *table)};
    return [this, w, view, table, entries] {
      install(view, table);
      for (const qs::CachedResult& e : entries) qs::store_cached(w->store(), e);
      w->markModified();
    };
  });
}

}  // namespace qs::gui
