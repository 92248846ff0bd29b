#include "controllers/quantize_controller.h"

#include "controllers/quantized_job.h"
#include "quantscope/quant.h"

namespace qs::gui {

namespace {

// The page's settings as a configuration; throws Error naming a bad value.
qs::QuantConfig quantizeConfig(const QVariantMap& settings) {
  qs::QuantConfig config;
  qs::LayerQuantSettings& d = config.defaults;
  d.weight_bits = settings.value("weightBits", 8).toInt();
  d.act_bits = settings.value("actBits", 8).toInt();
  qs::parse_granularity(settings.value("granularity", "channel").toString().toStdString(), d);
  d.calibrator = settings.value("calibrator", "mse").toString().toStdString();
  d.rounding = settings.value("rounding", "rtn").toString().toStdString();
  return config;
}

QString configLabel(const qs::LayerQuantSettings& s) {
  return QStringLiteral("W%1A%2 %3, %4, %5")
      .arg(s.weight_bits ? QString::number(s.weight_bits) : "float")
      .arg(s.act_bits ? QString::number(s.act_bits) : "float")
      .arg(s.granularity == qs::QuantGranularity::per_tensor    ? "per tensor"
           : s.granularity == qs::QuantGranularity::per_channel ? "per channel"
                                                                : "per group")
      .arg(QString::fromStdString(s.calibrator), QString::fromStdString(s.rounding));
}

qs::QuantizeRequest requestFor(const Workbench& wb, const qs::QuantConfig& config) {
  qs::QuantizeRequest r;
  r.in = wb.recipeInputs();
  r.config = config;
  return r;
}

}  // namespace

QuantizeController::QuantizeController(Workbench* workbench)
    : PageController(workbench, QStringLiteral("quantize")) {}

void QuantizeController::setSettings(const QVariantMap& settings) {
  if (settings == settings_) return;
  settings_ = settings;
  emit settingsChanged();
}

QStringList QuantizeController::calibrators() const {
  const std::string preferred = qs::LayerQuantSettings{}.calibrator;
  QStringList names{QString::fromStdString(preferred)};
  for (const std::string& name : wb().registry().calibrator_names())
    if (name != preferred) names.append(QString::fromStdString(name));
  return names;
}

QVariantList QuantizeController::roundings() const {
  const qs::Registry& registry = wb().registry();
  const std::string preferred = qs::LayerQuantSettings{}.rounding;
  std::vector<std::string> names{preferred};
  for (const std::string& name : registry.rounding_names())
    if (name != preferred) names.push_back(name);
  QVariantList list;
  for (const std::string& name : names) {
    const QString description = QString::fromStdString(registry.rounding_description(name));
    const qsizetype colon = description.indexOf(QStringLiteral(": "));
    list.append(QVariantMap{{"value", QString::fromStdString(name)},
                            {"label", colon < 0 ? description : description.left(colon)}});
  }
  return list;
}

bool QuantizeController::restoreFor(const QVariantMap& settings) {
  try {
    const qs::QuantizeRequest request = requestFor(wb(), quantizeConfig(settings));
    return restoreQuantized(
        wb(), page(), request, {{"config", configLabel(request.config.defaults)}},
        [this](const QVariantMap& view, auto q) { wb().setQuantization(view, std::move(q)); });
  } catch (const std::exception&) {
    return false;  // settings that no longer parse: nothing to restore
  }
}

void QuantizeController::restore() {
  if (!settings_.isEmpty()) restoreFor(settings_);
}

void QuantizeController::run(const QVariantMap& settings) {
  if (!ready()) return;
  qs::QuantConfig config;
  try {
    config = quantizeConfig(settings);
  } catch (const std::exception& e) {
    setError(QString::fromUtf8(e.what()));
    return;
  }
  setError({});
  const QVariantMap used{{"weightBits", config.defaults.weight_bits},
                         {"actBits", config.defaults.act_bits},
                         {"granularity", settings.value("granularity", "channel").toString()},
                         {"calibrator", QString::fromStdString(config.defaults.calibrator)},
                         {"rounding", QString::fromStdString(config.defaults.rounding)}};
  if (used != settings_) {
    setSettings(used);
    wb().markModified();
  }
  if (restoreFor(used)) return;
  startQuantized(
      wb(), page(), requestFor(wb(), config), {{"config", configLabel(config.defaults)}},
      [this](const QVariantMap& view, auto q) { wb().setQuantization(view, std::move(q)); });
}

}  // namespace qs::gui
