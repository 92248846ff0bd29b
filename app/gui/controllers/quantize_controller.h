// The Quantize page: one set of settings for every layer (weight and activation bits,
// granularity, calibrator, rounding); calibrate, quantize, then score float and quantized on the
// evaluation set. Its result becomes the workbench's current quantization.
#pragma once

#include <QStringList>
#include <QVariantList>
#include <QVariantMap>

#include "controllers/page_controller.h"

namespace qs::gui {

class QuantizeController : public PageController {
  Q_OBJECT
  QML_ELEMENT
  QML_UNCREATABLE("Workbench.quantize")
  // The settings of the last run (saved in the project): weightBits, actBits (0 = float),
  // granularity ("tensor", "channel", "group:G"), calibrator, rounding; empty before any.
  Q_PROPERTY(QVariantMap settings READ settings NOTIFY settingsChanged)
  // The registry's calibrators, the engine's default first.
  Q_PROPERTY(QStringList calibrators READ calibrators CONSTANT)
  // The registry's rounding methods, the default first: {value: name, label: its description up
  // to the first ": "}.
  Q_PROPERTY(QVariantList roundings READ roundings CONSTANT)

 public:
  explicit QuantizeController(Workbench* workbench);

  // Quantizes with `settings` (the keys of `settings`; missing ones take their defaults).
  Q_INVOKABLE void run(const QVariantMap& settings);
  void restore() override;

  QVariantMap settings() const { return settings_; }
  void setSettings(const QVariantMap& settings);
  QStringList calibrators() const;
  QVariantList roundings() const;

 signals:
  void settingsChanged();

 private:
  bool restoreFor(const QVariantMap& settings);

  QVariantMap settings_;
};

}  // namespace qs::gui
