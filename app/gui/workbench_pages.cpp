// The Workbench's Tune, Compare and Measure pages: the Tune table's options, measuring a tuned
// configuration, comparing one sample float vs quantized, and timing the model on a device.
#include <QJsonDocument>
#include <QJsonObject>
#include <algorithm>
#include <cmath>

#include "quantscope/analysis.h"
#include "quantscope/bench.h"
#include "quantscope/compare.h"
#include "quantscope/error.h"
#include "quantscope/evaluate.h"
#include "quantscope/quant.h"
#include "quantscope/search.h"
#include "workbench.h"
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

QVariantList histogramList(const qs::Histogram& h) {
  QVariantList counts;
  for (std::int64_t c : h.counts) counts.append(qint64(c));
  return counts;
}

QVariantMap bitsVariant(const std::map<std::string, int>& bits) {
  QVariantMap m;
  for (const auto& [layer, b] : bits) m[QString::fromStdString(layer)] = b;
  return m;
}

}  // namespace

void Workbench::rebuildTune() {
  if (!graph_ || !sensitivityResult_ || sensitivityResult_->layers.empty()) {
    tune_->clear();
    return;
  }
  const qs::Graph& g = *graph_;
  const qs::SensitivityResult& s = *sensitivityResult_;
  try {
    using qs::SearchObjective;
    const auto size = qs::layer_options(g, s, SearchObjective::size, 8, {});
    const auto bops = qs::layer_options(g, s, SearchObjective::bops, 8, {});
    const qs::LatencyTable* table = latencyTable_ && latencyTable_->device == device_.toStdString()
                                        ? latencyTable_.get()
                                        : nullptr;
    std::vector<qs::LayerOptions> latency;
    if (table) {
      try {
        latency = qs::layer_options(g, s, SearchObjective::latency, 8, {}, table);
      } catch (const std::exception&) {
        table = nullptr;  // the table lacks a layer or width: no predicted latency
      }
    }
    TuneModel::Fixed fixed;
    fixed.bytes = qs::fixed_cost(g, size, SearchObjective::size);
    fixed.bops = qs::fixed_cost(g, bops, SearchObjective::bops);
    fixed.ms = table ? qs::fixed_cost(g, latency, SearchObjective::latency, table) : -1;
    fixed.fp32_bytes = double(qs::model_size_bytes(g));
    if (table) fixed.latency_device = table->device;
    auto costOf = [](const std::vector<qs::LayerOptions>& all, const std::string& layer, int bits) {
      for (const qs::LayerOptions& l : all)
        if (l.layer == layer)
          for (const qs::BitOption& o : l.options)
            if (o.bits == bits) return o.cost;
      return -1.0;
    };
    std::vector<TuneModel::Layer> layers;
    for (const qs::LayerOptions& l : size) {
      TuneModel::Layer row;
      row.name = l.layer;
      for (const qs::LayerSensitivity& ls : s.layers)
        if (ls.name == l.layer) {
          row.op = ls.op;
          row.params = ls.params;
        }
      for (const qs::BitOption& o : l.options)
        row.choices.push_back({o.bits, o.loss, o.cost, costOf(bops, l.layer, o.bits),
                               table ? costOf(latency, l.layer, o.bits) : -1.0});
      std::sort(row.choices.begin(), row.choices.end(),
                [](const auto& a, const auto& b) { return a.bits < b.bits; });
      layers.push_back(std::move(row));
    }
    const bool wasEmpty = tune_->empty();
    tune_->setLayers(std::move(layers), fixed);
    // A configuration chosen before the table existed (a search point, or the project's).
    auto tuned = project_.configurations.find("tuned");
    if (wasEmpty && tuned != project_.configurations.end())
      loadConfiguration(QJsonDocument::fromJson(QByteArray::fromStdString(tuned->second))
                            .object()
                            .value("bits")
                            .toObject()
                            .toVariantMap());
  } catch (const std::exception& e) {
    tune_->clear();
    setError(QStringLiteral("tune"), QString::fromUtf8(e.what()));
  }
}

void Workbench::onTuneBitsChanged() {
  QJsonObject bits;
  for (const auto& [layer, b] : tune_->bitsMap()) bits[QString::fromStdString(layer)] = b;
  project_.configurations["tuned"] =
      QJsonDocument(QJsonObject{{"bits", bits}}).toJson(QJsonDocument::Compact).toStdString();
  if (!tuneResult_.isEmpty()) {
    tuneResult_["stale"] =
        tuneResult_.value(QStringLiteral("bits")).toMap() != bitsVariant(tune_->bitsMap());
    emit tuneResultChanged();
  }
  markModified();
}

void Workbench::loadConfiguration(const QVariantMap& bits) {
  if (tune_->empty()) {  // kept for when the table exists
    project_.configurations["tuned"] =
        QJsonDocument(QJsonObject{{"bits", QJsonObject::fromVariantMap(bits)}})
            .toJson(QJsonDocument::Compact)
            .toStdString();
    markModified();
    return;
  }
  std::map<std::string, int> m;
  for (auto it = bits.begin(); it != bits.end(); ++it)
    m[it.key().toStdString()] = it.value().toInt();
  tune_->setBitsMap(m);
}

void Workbench::installTune(const QVariantMap& view, std::shared_ptr<const qs::QuantizedModel> q) {
  tuneResult_ = view;
  tuneResult_["stale"] =
      view.value(QStringLiteral("bits")).toMap() != bitsVariant(tune_->bitsMap());
  emit tuneResultChanged();
  installQuantize(view, std::move(q));
}

// The Tune table's widths with the sweep's settings (the defaults), so prediction and measurement
// differ only by the interaction of the layers' errors; the same request as a Quantize (or a
// `quantscope-cli quantize --override ...`) of that configuration.
qs::QuantizeRequest Workbench::tuneRequest() const {
  return quantizeRequest(qs::config_for_bits(qs::QuantConfig{}, tune_->bitsMap(), 8));
}

QVariantMap Workbench::tuneExtras() const {
  const QVariantMap totals = tune_->totals();
  return {{"config", tr("mixed precision (Tune), %1 bits on average")
                         .arg(totals.value("averageBits").toDouble(), 0, 'f', 2)},
          {"bits", bitsVariant(tune_->bitsMap())},
          {"predictedKl", totals.value("predictedKl")},
          {"predictedBytes", totals.value("bytes")}};
}

bool Workbench::restoreTune() {
  return !tune_->empty() && restoreQuantized(QStringLiteral("tune"), tuneRequest(), tuneExtras(),
                                             &Workbench::installTune);
}

void Workbench::measureTune() {
  const QString page = QStringLiteral("tune");
  if (!ready(page)) return;
  if (tune_->empty()) {
    setError(page, tr("Run the sensitivity analysis first (Analyze page): the table's predictions "
                      "come from it."));
    return;
  }
  setError(page, {});
  if (restoreTune()) return;
  startQuantized(page, tuneRequest(), tuneExtras(), &Workbench::installTune);
}

void Workbench::compareSample(int index) {
  const QString page = QStringLiteral("compare");
  if (!ready(page)) return;
  if (!quantized_) {
    setError(page, tr("Quantize the model first (Quantize or Tune page): the comparison runs the "
                      "quantized model beside the float one."));
    return;
  }
  setError(page, {});
  const JobInputs in = jobInputs();
  const std::shared_ptr<const qs::QuantizedModel> q = quantized_;
  const std::string evaluation = evaluation_;
  jobs_->start(
      page, [this, in, q, index, evaluation](const qs::JobControl& job) -> JobRunner::Deliver {
        qs::DataOptions options{in.preprocess, in.limit};
        auto eval = qs::open_dataset(in.evaluation, options);
        auto device = openDevice(*in.registry, in.device);
        job.report(0.1, "running sample " + std::to_string(index));
        const qs::SampleComparison c = qs::compare_sample(*in.graph, *q, *eval, index, *device);
        job.check();
        auto topk = [&](const std::vector<qs::ClassScore>& scores) {
          QVariantList list;
          for (const qs::ClassScore& s : scores)
            list.append(QVariantMap{{"index", qint64(s.index)},
                                    {"name", labelName(evaluation, s.index)},
                                    {"probability", s.probability}});
          return list;
        };
        QVariantList activations, weights;
        for (const qs::ActivationComparison& a : c.activations)
          activations.append(QVariantMap{{"layer", QString::fromStdString(a.layer)},
                                         {"tensor", QString::fromStdString(a.tensor)},
                                         {"sqnrDb", finiteOrNull(a.sqnr_db)},
                                         {"lo", a.float_hist.lo},
                                         {"hi", a.float_hist.hi},
                                         {"float", histogramList(a.float_hist)},
                                         {"quant", histogramList(a.quant_hist)}});
        for (const qs::WeightComparison& w : c.weights) {
          QVariantList grid;
          if (w.grid.size() <= 256)  // a wider grid is a continuum at this scale
            for (double level : w.grid) grid.append(level);
          weights.append(QVariantMap{{"layer", QString::fromStdString(w.layer)},
                                     {"bits", w.bits},
                                     {"granularity", QString::fromStdString(w.granularity)},
                                     {"lo", w.float_hist.lo},
                                     {"hi", w.float_hist.hi},
                                     {"float", histogramList(w.float_hist)},
                                     {"quant", histogramList(w.quant_hist)},
                                     {"grid", grid}});
        }
        std::vector<QImage> images = comparisonImages(c, in.preprocess);
        QVariantMap view{{"sample", qint64(c.sample)},
                         {"samples", qint64(eval->size())},
                         {"label", c.label >= 0 ? labelName(evaluation, c.label) : QString()},
                         {"classifier", c.classifier},
                         {"floatTopk", topk(c.float_topk)},
                         {"quantTopk", topk(c.quant_topk)},
                         {"sqnrDb", finiteOrNull(c.sqnr_db)},
                         {"kl", c.kl},
                         {"maxAbsError", c.max_abs_error},
                         {"images", int(images.size())},
                         {"activations", activations},
                         {"weights", weights}};
        return [this, view, images = std::move(images)]() mutable {
          comparison_ = view;
          ++compareGeneration_;
          comparison_["generation"] = compareGeneration_;
          if (compareImages_) compareImages_->setImages(std::move(images));
          emit comparisonChanged();
        };
      });
}

std::string Workbench::errorsKey() const {
  if (!quantized_) return {};
  return resultKey(
      QStringLiteral("errors"),
      {{"config", QString::fromStdString(qs::quant_config_to_json(quantized_->config))}});
}

void Workbench::installErrors(const QVariantMap& view) {
  layerErrors_ = view;
  emit layerErrorsChanged();
}

void Workbench::traceErrors() {
  const QString page = QStringLiteral("errors");
  if (!ready(page)) return;
  if (!quantized_) {
    setError(page, tr("Quantize the model first (Quantize or Tune page): this traces that "
                      "quantization's error through the layers."));
    return;
  }
  setError(page, {});
  const std::string key = errorsKey();
  if (restoreCached(page, key)) return;
  const JobInputs in = jobInputs();
  const std::shared_ptr<const qs::QuantizedModel> q = quantized_;
  const QString label = quantizationLabel();
  jobs_->start(page, [this, in, q, key, label](const qs::JobControl& job) -> JobRunner::Deliver {
    qs::DataOptions options{in.preprocess, in.limit};
    auto eval = qs::open_dataset(in.evaluation, options);
    auto device = openDevice(*in.registry, in.device);
    const std::vector<qs::LayerError> errors =
        qs::error_propagation(*in.graph, *q, *eval, *device, 64, job);
    QVariantList layers;
    for (const qs::LayerError& e : errors)
      layers.append(QVariantMap{{"name", QString::fromStdString(e.name)},
                                {"op", QString::fromStdString(e.op)},
                                {"introduced", finiteOrNull(e.introduced_sqnr_db)},
                                {"accumulated", finiteOrNull(e.accumulated_sqnr_db)}});
    const QVariantMap view{{"config", label},
                           {"samples", qint64(eval->size())},
                           {"device", QString::fromStdString(in.device)},
                           {"layers", layers}};
    const QJsonObject payload{{"view", QJsonObject::fromVariantMap(view)}};
    return [this, view, key, payload] {
      installErrors(view);
      storeCached(QStringLiteral("errors"), key, payload);
    };
  });
}

void Workbench::installMeasurement(const QVariantMap& view,
                                   std::shared_ptr<const qs::LatencyTable> t) {
  measurement_ = view;
  latencyTable_ = std::move(t);
  emit measurementChanged();
  rebuildTune();
}

QVariantMap Workbench::measureSettings() {
  return {{"widths", "2,3,4,5,6,8"}, {"runs", 20}, {"seconds", 0.3}};
}

void Workbench::measureLatency() {
  const QString page = QStringLiteral("measure");
  if (!ready(page)) return;
  setError(page, {});
  const std::string key = resultKey(page, measureSettings());
  if (restoreCached(page, key)) return;
  const JobInputs in = jobInputs();
  jobs_->start(page, [this, in, key](const qs::JobControl& job) -> JobRunner::Deliver {
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
    const qs::BenchResult fp32 = qs::benchmark(g, *device, bench, phase(job, 0.0, 0.15, "float"));
    const qs::QuantizedModel q8 = qs::quantize_model(g, qs::QuantConfig{}, *calib, *calib_device,
                                                     {}, phase(job, 0.15, 0.25, "calibrate"));
    const bool integer = device->use_integer_kernels(true);
    const qs::BenchResult int8 = qs::benchmark(qs::apply_quantization(g, q8), *device, bench,
                                               phase(job, 0.25, 0.4, integer ? "int8" : "W8A8"));
    device->use_integer_kernels(false);
    bench.per_layer = false;
    auto table = std::make_shared<const qs::LatencyTable>(
        qs::build_latency_table(g, qs::QuantConfig{}, *calib, *calib_device, *device, kTableWidths,
                                8, bench, phase(job, 0.4, 1.0, "latency table")));
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
    for (const auto& [bits, ms] : table->total_ms)
      widths.append(QVariantMap{{"bits", bits}, {"ms", ms}});
    QVariantMap environment;
    for (const auto& [k, v] : fp32.environment)
      environment[QString::fromStdString(k)] = QString::fromStdString(v);
    QVariantMap view{{"device", QString::fromStdString(in.device)},
                     {"integerKernels", integer},
                     {"float", statsMap(fp32)},
                     {"quant", statsMap(int8)},
                     {"layers", layers},
                     {"widths", widths},
                     {"environment", environment}};
    const QJsonObject payload{
        {"view", QJsonObject::fromVariantMap(view)},
        {"latency",
         QJsonDocument::fromJson(QByteArray::fromStdString(qs::latency_table_to_json(*table)))
             .object()}};
    return [this, view, table, key, payload] {
      installMeasurement(view, table);
      storeCached(QStringLiteral("measure"), key, payload);
    };
  });
}

}  // namespace qs::gui
