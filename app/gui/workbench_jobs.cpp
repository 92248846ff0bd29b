// The Workbench's jobs: each copies what it needs, runs the engine on the worker thread, and
// returns a closure that installs the finished result on the GUI thread.
#include <QDir>
#include <QFileInfo>
#include <QJsonDocument>
#include <QStringList>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>

#include "quantscope/analysis.h"
#include "quantscope/evaluate.h"
#include "quantscope/export_package.h"
#include "quantscope/quant.h"
#include "quantscope/recipes.h"
#include "quantscope/results_json.h"
#include "quantscope/search.h"
#include "workbench.h"
#include "workbench_util.h"

namespace qs::gui {

namespace {

QVariantMap pointMap(const qs::SearchPoint& p) {
  QStringList bits;
  QVariantMap config;
  for (const auto& [layer, b] : p.bits) {
    bits.append(QStringLiteral("%1=%2").arg(layer.c_str()).arg(b));
    config[QString::fromStdString(layer)] = b;
  }
  return {{"label", QString::fromStdString(p.label)},
          {"costBytes", p.cost},
          {"predictedKl", p.predicted_loss},
          {"measured", p.measured.measured},
          {"measuredKl", p.measured.kl},
          {"top1", p.measured.top1},
          {"agreement", p.measured.agreement},
          {"sqnrDb", finiteOrNull(p.measured.sqnr_db)},
          {"bits", bits.join(QStringLiteral("  "))},
          {"config", config}};
}

// The Analyze page's view: the traces beside the sweep's HAWQ estimate and measured KL.
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

QVariantMap searchView(const qs::SearchResult& r, const std::string& device) {
  QVariantList front, baselines;
  for (const qs::SearchPoint& p : r.front) front.append(pointMap(p));
  for (const qs::SearchPoint& p : r.baselines) baselines.append(pointMap(p));
  return {{"front", front},
          {"baselines", baselines},
          {"fp32Bytes", r.fp32_cost},
          {"fp32Top1", r.fp32_top1},
          {"rankCorrelation", finiteOrNull(r.rank_correlation)},
          {"device", QString::fromStdString(device)},
          {"notes", notesList(r.notes)}};
}

}  // namespace

qs::RecipeInputs Workbench::recipeInputs() const {
  qs::RecipeInputs in;
  in.graph = graph_;
  // A package folder has no digest: its absolute path stands in for it (as in the CLI).
  in.model_id =
      !modelSha_.isEmpty()
          ? modelSha_.toStdString()
          : "path:" +
                std::filesystem::absolute(modelPath_.toStdString()).lexically_normal().string();
  in.calibration = calibration_;
  in.evaluation = evaluation_;
  in.preprocess = preprocess_;
  in.limit = in.eval_limit = limit_;
  in.device = device_.toStdString();
  in.registry = registry_.get();
  return in;
}

// Analyze: Hessian traces on the first 256 calibration samples (the first quarter of the job),
// then the sweep with their HAWQ estimate beside the measured KL.
qs::HessianRequest Workbench::analysisTraces() const {
  qs::HessianRequest r;
  r.in = recipeInputs();
  r.in.limit = r.in.limit > 0 ? std::min<std::int64_t>(r.in.limit, 256) : 256;
  r.options.max_probes = 100;
  r.options.tol = 1e-2;
  return r;
}

qs::SensitivityRequest Workbench::analysisSweep() const {
  qs::SensitivityRequest r;
  r.in = recipeInputs();
  r.options.bits = {2, 3, 4, 5, 6, 8};
  return r;
}

qs::SearchRequest Workbench::searchRequest() const {
  qs::SearchRequest r;
  r.in = recipeInputs();
  r.options.verify = 5;
  return r;
}

bool Workbench::restoreAnalysis() {
  const qs::HessianRequest traces = analysisTraces();
  const auto known = qs::find_result(project_, traces);
  if (!known) return false;
  qs::SensitivityRequest sweep = analysisSweep();
  sweep.hessian = *known;
  const auto r = qs::find_result(project_, sweep);
  if (!r) return false;
  installAnalysis(analysisView(*known, *r, sweep.in.device),
                  std::make_shared<const qs::SensitivityResult>(*r));
  jobs_->drop(QStringLiteral("analyze"));  // a running analysis would replace it later
  return true;
}

bool Workbench::restoreSearch() {
  const qs::SearchRequest request = searchRequest();
  const auto r = qs::find_result(project_, request);
  if (!r) return false;
  installSearch(searchView(*r, request.in.device), std::make_shared<const qs::SearchResult>(*r));
  jobs_->drop(QStringLiteral("search"));
  return true;
}

void Workbench::installQuantize(const QVariantMap& view,
                                std::shared_ptr<const qs::QuantizedModel> q) {
  quantResult_ = view;
  quantized_ = std::move(q);
  exportResult_.clear();
  layerErrors_.clear();
  emit quantResultChanged();
  emit exportResultChanged();
  emit layerErrorsChanged();
  jobs_->drop(QStringLiteral("errors"));  // a trace of the previous quantization is stale
  restoreCached(QStringLiteral("errors"), errorsKey());  // traced before for this quantization
}

void Workbench::installAnalysis(const QVariantMap& view,
                                std::shared_ptr<const qs::SensitivityResult> r) {
  sensitivity_->setResult(*r);
  sensitivityResult_ = std::move(r);
  analysis_ = view;
  emit analysisChanged();
  rebuildTune();
}

void Workbench::installSearch(const QVariantMap& view, std::shared_ptr<const qs::SearchResult> r) {
  searchRaw_ = std::move(r);
  searchResult_ = view;
  emit searchResultChanged();
}

namespace {

// The Quantize page's settings as a configuration; throws Error naming a bad value.
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

}  // namespace

qs::QuantizeRequest Workbench::quantizeRequest(const qs::QuantConfig& config) const {
  qs::QuantizeRequest r;
  r.in = recipeInputs();
  r.config = config;
  return r;
}

qs::CompareRequest Workbench::compareRequest(
    std::shared_ptr<const qs::QuantizedModel> quantized) const {
  qs::CompareRequest r;
  r.in = recipeInputs();
  r.quantized = std::move(quantized);
  return r;
}

bool Workbench::restoreQuantized(const QString& page, const qs::QuantizeRequest& request,
                                 const QVariantMap& extras, Install install) {
  auto q = qs::find_result(project_, request);
  if (!q) return false;
  auto quantized = std::make_shared<const qs::QuantizedModel>(std::move(*q));
  const qs::CompareRequest compare = compareRequest(quantized);
  const auto pair = qs::find_result(project_, compare);
  if (!pair) return false;
  (this->*install)(quantizedView(*graph_, *quantized, *pair, compare.in.device, extras), quantized);
  jobs_->drop(page);  // a running job would replace it later
  return true;
}

void Workbench::startQuantized(const QString& page, const qs::QuantizeRequest& request,
                               const QVariantMap& extras, Install install) {
  // Calibration (or its cached result, computed by another page or by `quantscope-cli
  // quantize --project`), then the float and quantized models side by side.
  const std::optional<qs::QuantizedModel> known = qs::find_result(project_, request);
  const qs::CompareRequest plan = compareRequest(nullptr);
  jobs_->start(page,
               [this, request, known, plan, extras,
                install](const qs::JobControl& job) -> JobRunner::Deliver {
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
                 return [this, q, view, install, quantized, compared] {
                   (this->*install)(view, q);
                   qs::store_cached(project_, quantized);
                   qs::store_cached(project_, compared);
                   markModified();
                 };
               });
}

bool Workbench::restoreQuantize(const QVariantMap& settings) {
  try {
    const qs::QuantizeRequest request = quantizeRequest(quantizeConfig(settings));
    return restoreQuantized(QStringLiteral("quantize"), request,
                            {{"config", configLabel(request.config.defaults)}},
                            &Workbench::installQuantize);
  } catch (const std::exception&) {
    return false;  // settings that no longer parse: nothing to restore
  }
}

void Workbench::quantize(const QVariantMap& settings) {
  const QString page = QStringLiteral("quantize");
  if (!ready(page)) return;
  qs::QuantConfig config;
  try {
    config = quantizeConfig(settings);
  } catch (const std::exception& e) {
    setError(page, QString::fromUtf8(e.what()));
    return;
  }
  setError(page, {});
  const QVariantMap used{{"weightBits", config.defaults.weight_bits},
                         {"actBits", config.defaults.act_bits},
                         {"granularity", settings.value("granularity", "channel").toString()},
                         {"calibrator", QString::fromStdString(config.defaults.calibrator)},
                         {"rounding", QString::fromStdString(config.defaults.rounding)}};
  if (used != quantizeSettings_) {
    quantizeSettings_ = used;
    markModified();
  }
  if (restoreQuantize(used)) return;
  startQuantized(page, quantizeRequest(config), {{"config", configLabel(config.defaults)}},
                 &Workbench::installQuantize);
}

void Workbench::analyze() {
  const QString page = QStringLiteral("analyze");
  if (!ready(page)) return;
  setError(page, {});
  if (restoreAnalysis()) return;
  const qs::HessianRequest traces = analysisTraces();
  const std::optional<qs::HessianResult> known = qs::find_result(project_, traces);
  const qs::SensitivityRequest plan = analysisSweep();
  jobs_->start(page, [this, traces, known, plan](const qs::JobControl& job) -> JobRunner::Deliver {
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
    return [this, r, view, traced, swept] {
      installAnalysis(view, r);
      qs::store_cached(project_, traced);
      qs::store_cached(project_, swept);
      markModified();
    };
  });
}

void Workbench::search() {
  const QString page = QStringLiteral("search");
  if (!ready(page)) return;
  setError(page, {});
  if (restoreSearch()) return;
  const qs::SearchRequest request = searchRequest();
  jobs_->start(page, [this, request](const qs::JobControl& job) -> JobRunner::Deliver {
    auto r = std::make_shared<const qs::SearchResult>(request.run(job));
    const QVariantMap view = searchView(*r, request.in.device);
    const qs::CachedResult entry = qs::cache_entry(request, *r);
    return [this, r, view, entry] {
      installSearch(view, r);
      qs::store_cached(project_, entry);
      markModified();
    };
  });
}

QString Workbench::suggestedExportPath() const {
  if (!graph_) return {};
  const QString model = QFileInfo(modelPath_).completeBaseName();
  const auto& d = quantized_ ? quantized_->config.defaults : qs::LayerQuantSettings{};
  const QString tag = QStringLiteral("w%1a%2")
                          .arg(d.weight_bits ? QString::number(d.weight_bits) : "f")
                          .arg(d.act_bits ? QString::number(d.act_bits) : "f");
  return QDir(QDir::homePath()).filePath(QStringLiteral("quantscope-export/%1-%2").arg(model, tag));
}

QString Workbench::quantizationLabel() const {
  if (!quantized_) return {};
  if (quantResult_.contains(QStringLiteral("config")))
    return quantResult_.value(QStringLiteral("config")).toString();
  return tr("recovered from %1").arg(QFileInfo(modelPath_).fileName());
}

void Workbench::exportPackage(const QString& output) {
  const QString page = QStringLiteral("export");
  if (!ready(page)) return;
  if (!quantized_) {
    setError(page,
             tr("Quantize the model first (Quantize page): the package carries that result."));
    return;
  }
  const QString target = output.trimmed();
  if (target.isEmpty()) {
    setError(page, tr("Give a folder, or a file ending in .zip, to write the package to."));
    return;
  }
  QDir().mkpath(QFileInfo(target).absolutePath());  // the folder the package goes into
  setError(page, {});
  const JobInputs in = jobInputs();
  const std::shared_ptr<const qs::QuantizedModel> q = quantized_;
  const std::string source = modelPath_.toStdString();
  const auto analysed = sensitivityResult_;
  const auto searched = searchRaw_;
  jobs_->start(page,
               [this, in, q, source, target, analysed,
                searched](const qs::JobControl& job) -> JobRunner::Deliver {
                 qs::DataOptions options{in.preprocess, in.limit};
                 auto eval = qs::open_dataset(in.evaluation, options);
                 auto device = openDevice(*in.registry, in.device);
                 qs::PackageOptions po;
                 po.output = target.toStdString();
                 po.source_path = source;
                 po.data = eval.get();
                 po.data_description = eval->describe();
                 po.device = device.get();
                 po.tool_version = QS_VERSION;
                 po.sensitivity = analysed.get();
                 po.search = searched.get();
                 const qs::PackageResult r = qs::export_package(*in.graph, *q, po, job);
                 QVariantList classes;
                 for (const qs::ClassAccuracy& c : r.classes)
                   classes.append(QVariantMap{{"label", qint64(c.label)},
                                              {"samples", qint64(c.samples)},
                                              {"floatTop1", c.float_top1},
                                              {"quantTop1", c.quantized_top1},
                                              {"flagged", c.flagged}});
                 QStringList files;
                 for (const std::string& f : r.files) files.append(QString::fromStdString(f));
                 QVariantMap result{{"path", QString::fromStdString(r.path)},
                                    {"zip", target.endsWith(QStringLiteral(".zip"))},
                                    {"files", files},
                                    {"opset", qint64(r.opset)},
                                    {"evaluated", r.evaluated},
                                    {"floatTop1", r.metrics.reference.top1},
                                    {"quantTop1", r.metrics.candidate.top1},
                                    {"agreement", r.metrics.agreement},
                                    {"samples", qint64(r.metrics.candidate.samples)},
                                    {"classes", classes},
                                    {"flagged", int(r.flagged_classes.size())},
                                    {"threshold", po.class_threshold},
                                    {"notes", notesList(r.notes)}};
                 return [this, result] {
                   exportResult_ = result;
                   emit exportResultChanged();
                 };
               });
}

void Workbench::onJobFinished(const QString& kind, bool ok, const QString& error) {
  if (!ok)
    setError(kind, error == tr("cancelled") ? tr("Cancelled; press Run to start again.") : error);
}

}  // namespace qs::gui
