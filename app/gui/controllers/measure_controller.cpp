#include "controllers/measure_controller.h"

#include <QJsonDocument>
#include <algorithm>

#include "controllers/keyed_cache.h"
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

std::string MeasureController::key() const {
  return resultKey(wb(), page(), {{"widths", "2,3,4,5,6,8"}, {"runs", 20}, {"seconds", 0.3}});
}

void MeasureController::install(const QVariantMap& view,
                                std::shared_ptr<const qs::LatencyTable> t) {
  result_ = view;
  table_ = std::move(t);
  emit resultChanged();
}

bool MeasureController::restoreResult() {
  const auto payload = findPayload(wb(), page(), key());
  if (!payload) return false;
  const QVariantMap view = payload->value("view").toObject().toVariantMap();
  if (view.isEmpty()) return false;
  try {
    const QJsonObject latency = payload->value("latency").toObject();
    install(view, std::make_shared<const qs::LatencyTable>(qs::latency_table_from_json(
                      QJsonDocument(latency).toJson(QJsonDocument::Compact).toStdString())));
  } catch (const std::exception&) {
    return false;  // a damaged entry is measured again
  }
  wb().jobs()->drop(page());  // a running measurement would replace it later
  return true;
}

void MeasureController::run() {
  if (!ready()) return;
  setError({});
  if (restoreResult()) return;
  const std::string cacheKey = key();
  const qs::RecipeInputs in = wb().recipeInputs();
  Workbench* w = &wb();
  wb().jobs()->start(
      page(), [this, w, in, cacheKey](const qs::JobControl& job) -> JobRunner::Deliver {
        const qs::Graph& g = *in.graph;
        qs::DataOptions options{in.preprocess,
                                std::min<std::int64_t>(in.limit > 0 ? in.limit : 256, 256)};
        auto calib = qs::open_dataset(in.calibration, options);
        auto device = openDevice(*in.registry, in.device);
        auto calib_device = openDevice(*in.registry, in.device);
        qs::BenchOptions bench;
        bench.warmup = 3;
        bench.runs = 20;
        bench.min_seconds = 0.3;
        bench.per_layer = true;
        const qs::BenchResult fp32 =
            qs::benchmark(g, *device, bench, phase(job, 0.0, 0.15, "float"));
        const qs::QuantizedModel q8 = qs::quantize_model(
            g, qs::QuantConfig{}, *calib, *calib_device, {}, phase(job, 0.15, 0.25, "calibrate"));
        const bool integer = device->use_integer_kernels(true);
        const qs::BenchResult int8 =
            qs::benchmark(qs::apply_quantization(g, q8), *device, bench,
                          phase(job, 0.25, 0.4, integer ? "int8" : "W8A8"));
        device->use_integer_kernels(false);
        bench.per_layer = false;
        auto table = std::make_shared<const qs::LatencyTable>(
            qs::build_latency_table(g, qs::QuantConfig{}, *calib, *calib_device, *device,
                                    kTableWidths, 8, bench, phase(job, 0.4, 1.0, "latency table")));
        const QVariantMap view = measurementView(in.device, integer, fp32, int8, *table);
        const QJsonObject payload{
            {"view", QJsonObject::fromVariantMap(view)},
            {"latency",
             QJsonDocument::fromJson(QByteArray::fromStdString(qs::latency_table_to_json(*table)))
                 .object()}};
        return [this, w, view, table, cacheKey, payload] {
          install(view, table);
          storePayload(*w, page(), cacheKey, payload);
        };
      });
}

}  // namespace qs::gui
