#include "controllers/tune_controller.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <algorithm>

#include "controllers/analyze_controller.h"
#include "controllers/measure_controller.h"
#include "controllers/quantized_job.h"
#include "quantscope/search.h"

namespace qs::gui {

namespace {

const char* const kTuned = "tuned";  // the project's configuration of the table

QVariantMap bitsVariant(const std::map<std::string, int>& bits) {
  QVariantMap m;
  for (const auto& [layer, b] : bits) m[QString::fromStdString(layer)] = b;
  return m;
}

std::string tunedJson(const QJsonObject& bits) {
  return QJsonDocument(QJsonObject{{"bits", bits}}).toJson(QJsonDocument::Compact).toStdString();
}

// What one width of one layer costs by `objective`; -1 when the options lack it.
double costOf(const std::vector<qs::LayerOptions>& all, const std::string& layer, int bits) {
  for (const qs::LayerOptions& l : all)
    if (l.layer == layer)
      for (const qs::BitOption& o : l.options)
        if (o.bits == bits) return o.cost;
  return -1.0;
}

}  // namespace

TuneController::TuneController(Workbench* workbench)
    : PageController(workbench, QStringLiteral("tune")), table_(new TuneModel(this)) {
  connect(table_, &TuneModel::bitsChanged, this, &TuneController::onBitsChanged);
  connect(workbench->analyze(), &AnalyzeController::resultChanged, this, &TuneController::rebuild);
  connect(workbench->measure(), &MeasureController::resultChanged, this, &TuneController::rebuild);
  connect(workbench, &Workbench::modelChanged, this, [this] {
    table_->clear();
    setResult({});
  });
}

void TuneController::rebuild() {
  const auto sweep = wb().analyze()->sweep();
  if (!wb().hasModel() || !sweep || sweep->layers.empty()) {
    table_->clear();
    return;
  }
  const qs::Graph& g = *wb().loaded().graph;
  const qs::SensitivityResult& s = *sweep;
  try {
    using qs::SearchObjective;
    const auto size = qs::layer_options(g, s, SearchObjective::size, 8, {});
    const auto bops = qs::layer_options(g, s, SearchObjective::bops, 8, {});
    const auto measured = wb().measure()->table();
    const qs::LatencyTable* table =
        measured && measured->device == wb().device().toStdString() ? measured.get() : nullptr;
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
    const bool wasEmpty = table_->empty();
    table_->setLayers(std::move(layers), fixed);
    // A configuration chosen before the table existed (a search point, or the project's).
    if (wasEmpty && wb().store().configurations.count(kTuned)) loadConfiguration(storedBits());
  } catch (const std::exception& e) {
    table_->clear();
    setError(QString::fromUtf8(e.what()));
  }
}

QVariantMap TuneController::storedBits() const {
  const auto tuned = wb().store().configurations.find(kTuned);
  if (tuned == wb().store().configurations.end()) return {};
  return QJsonDocument::fromJson(QByteArray::fromStdString(tuned->second))
      .object()
      .value("bits")
      .toObject()
      .toVariantMap();
}

void TuneController::setResult(const QVariantMap& view) {
  result_ = view;
  if (!result_.isEmpty())
    result_["stale"] = view.value(QStringLiteral("bits")).toMap() != bitsVariant(table_->bitsMap());
  emit resultChanged();
}

void TuneController::onBitsChanged() {
  QJsonObject bits;
  for (const auto& [layer, b] : table_->bitsMap()) bits[QString::fromStdString(layer)] = b;
  wb().store().configurations[kTuned] = tunedJson(bits);
  if (!result_.isEmpty()) setResult(result_);  // stale or not
  wb().markModified();
}

void TuneController::loadConfiguration(const QVariantMap& bits) {
  if (table_->empty()) {  // kept for when the table exists
    wb().store().configurations[kTuned] = tunedJson(QJsonObject::fromVariantMap(bits));
    wb().markModified();
    return;
  }
  std::map<std::string, int> m;
  for (auto it = bits.begin(); it != bits.end(); ++it)
    m[it.key().toStdString()] = it.value().toInt();
  table_->setBitsMap(m);
}

void TuneController::install(const QVariantMap& view, std::shared_ptr<const qs::QuantizedModel> q) {
  setResult(view);
  wb().setQuantization(view, std::move(q));
}

// The table's widths with the sweep's settings (the defaults), so prediction and measurement
// differ only by the interaction of the layers' errors; the same request as a Quantize (or a
// `quantscope-cli quantize --override ...`) of that configuration.
qs::QuantizeRequest TuneController::request() const {
  qs::QuantizeRequest r;
  r.in = wb().recipeInputs();
  r.config = qs::config_for_bits(qs::QuantConfig{}, table_->bitsMap(), 8);
  return r;
}

QVariantMap TuneController::extras() const {
  const QVariantMap totals = table_->totals();
  return {{"config", tr("mixed precision (Tune), %1 bits on average")
                         .arg(totals.value("averageBits").toDouble(), 0, 'f', 2)},
          {"bits", bitsVariant(table_->bitsMap())},
          {"predictedKl", totals.value("predictedKl")},
          {"predictedBytes", totals.value("bytes")}};
}

void TuneController::restore() {
  if (!wb().store().configurations.count(kTuned)) return;
  loadConfiguration(storedBits());
  if (!table_->empty())
    restoreQuantized(wb(), page(), request(), extras(),
                     [this](const QVariantMap& view, auto q) { install(view, std::move(q)); });
}

void TuneController::measure() {
  if (!ready()) return;
  if (table_->empty()) {
    setError(
        tr("Run the sensitivity analysis first (Analyze page): the table's predictions "
           "come from it."));
    return;
  }
  setError({});
  const InstallQuantized installer = [this](const QVariantMap& view, auto q) {
    install(view, std::move(q));
  };
  if (restoreQuantized(wb(), page(), request(), extras(), installer)) return;
  startQuantized(wb(), page(), request(), extras(), installer);
}

}  // namespace qs::gui
