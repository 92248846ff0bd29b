// Helpers shared by the Workbench's jobs: progress phases, devices, and the conversions of
// engine results into the QVariant maps the pages read.
#pragma once

#include <QImage>
#include <QJsonObject>
#include <QStringList>
#include <QVariantMap>
#include <memory>
#include <string>
#include <vector>

#include "quantscope/compare.h"
#include "quantscope/dataset.h"
#include "quantscope/evaluate.h"
#include "quantscope/job.h"
#include "quantscope/quant.h"
#include "quantscope/registry.h"

namespace qs::gui {

// Maps a phase's 0..1 progress onto [from, to] of the whole job, with a label in front. The
// result refers to `job`, which must outlive it.
qs::JobControl phase(const qs::JobControl& job, double from, double to, const std::string& label);
// Error when the device is not usable here, with the reason.
std::unique_ptr<qs::Device> openDevice(const qs::Registry& registry, const std::string& name);
QVariant finiteOrNull(double v);
QStringList notesList(const std::vector<std::string>& notes);
// A class's name: Fashion-MNIST's for its specs, else "label N".
QString labelName(const std::string& spec, std::int64_t label);
// Float vs quantized scores: hasTop1, floatTop1, quantTop1, classifier, agreement, kl, sqnrDb,
// samples.
QVariantMap pairView(const qs::PairEvalResult& pair);
// pairView plus what a quantization is: calibration samples, float and quantized bytes, layers,
// device, notes; `extra` (its label, predictions) added.
QVariantMap quantizedView(const qs::Graph& graph, const qs::QuantizedModel& q,
                          const qs::PairEvalResult& pair, const std::string& device,
                          const QVariantMap& extra);
// The Compare page's pictures: the input, then for image outputs the float and quantized
// outputs (one shared range) and the error map (black, red, yellow at the largest error).
std::vector<QImage> comparisonImages(const qs::SampleComparison& c,
                                     const qs::Preprocess& preprocess);

}  // namespace qs::gui
