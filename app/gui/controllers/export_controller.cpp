#include "controllers/export_controller.h"

#include <QDir>
#include <QFileInfo>

#include "controllers/analyze_controller.h"
#include "controllers/search_controller.h"
#include "quantscope/export_package.h"
#include "workbench_util.h"

namespace qs::gui {

namespace {

QVariantMap packageView(const qs::PackageResult& r, const QString& target, double threshold) {
  QVariantList classes;
  for (const qs::ClassAccuracy& c : r.classes)
    classes.append(QVariantMap{{"label", qint64(c.label)},
                               {"samples", qint64(c.samples)},
                               {"floatTop1", c.float_top1},
                               {"quantTop1", c.quantized_top1},
                               {"flagged", c.flagged}});
  QStringList files;
  for (const std::string& f : r.files) files.append(QString::fromStdString(f));
  return {{"path", QString::fromStdString(r.path)},
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
          {"threshold", threshold},
          {"notes", notesList(r.notes)}};
}

}  // namespace

ExportController::ExportController(Workbench* workbench)
    : PageController(workbench, QStringLiteral("export")) {
  // A package of an earlier quantization is not this one's.
  connect(workbench, &Workbench::quantizationChanged, this, [this] {
    setResult({});
    emit suggestedPathChanged();
  });
  connect(workbench, &Workbench::modelChanged, this, &ExportController::suggestedPathChanged);
}

void ExportController::setResult(const QVariantMap& result) {
  result_ = result;
  emit resultChanged();
}

QString ExportController::suggestedPath() const {
  if (!wb().hasModel()) return {};
  const QString model = QFileInfo(wb().loaded().path).completeBaseName();
  const auto q = wb().quantized();
  const auto& d = q ? q->config.defaults : qs::LayerQuantSettings{};
  const QString tag = QStringLiteral("w%1a%2")
                          .arg(d.weight_bits ? QString::number(d.weight_bits) : "f")
                          .arg(d.act_bits ? QString::number(d.act_bits) : "f");
  return QDir(QDir::homePath()).filePath(QStringLiteral("quantscope-export/%1-%2").arg(model, tag));
}

void ExportController::run(const QString& output) {
  if (!ready()) return;
  const auto q = wb().quantized();
  if (!q) {
    setError(tr("Quantize the model first (Quantize page): the package carries that result."));
    return;
  }
  const QString target = output.trimmed();
  if (target.isEmpty()) {
    setError(tr("Give a folder, or a file ending in .zip, to write the package to."));
    return;
  }
  QDir().mkpath(QFileInfo(target).absolutePath());  // the folder the package goes into
  setError({});
  const qs::RecipeInputs in = wb().recipeInputs();
  const std::string source = wb().loaded().path.toStdString();
  const auto analysed = wb().analyze()->sweep();
  const auto searched = wb().search()->raw();
  wb().jobs()->start(page(),
                     [this, in, q, source, target, analysed,
                      searched](const qs::JobControl& job) -> JobRunner::Deliver {
                       qs::DataOptions options{in.preprocess, in.eval_limit};
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
                       const QVariantMap view = packageView(r, target, po.class_threshold);
                       return [this, view] { setResult(view); };
                     });
}

}  // namespace qs::gui
