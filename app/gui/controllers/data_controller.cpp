#include "controllers/data_controller.h"

#include "quantscope/dataset.h"
#include "sample_images.h"
#include "workbench_util.h"

namespace qs::gui {

DataController::DataController(Workbench* workbench, SampleImageProvider* images)
    : PageController(workbench, QStringLiteral("data")), images_(images) {
  connect(workbench, &Workbench::modelChanged, this, &DataController::reopen);
}

void DataController::reopen() {
  const DataSpecs& specs = wb().dataSpecs();
  if (!specs.calibration.empty())
    open(QString::fromStdString(specs.calibration), QString::fromStdString(specs.evaluation),
         int(specs.limit));
}

bool DataController::open(const QString& calibration, const QString& evaluation, int limit) {
  DataSpecs specs{calibration.toStdString(), evaluation.toStdString(), limit > 0 ? limit : -1};
  info_ = {};
  info_.calibration = calibration;
  info_.evaluation = evaluation;
  info_.limit = limit > 0 ? limit : 0;
  samples_.clear();
  wb().setDataSpecs(specs);
  if (!wb().hasModel()) {
    emit changed();
    return false;
  }
  const qs::Preprocess& preprocess = wb().loaded().preprocess;
  try {
    qs::DataOptions options{preprocess, specs.limit};
    auto calib = qs::open_dataset(specs.calibration, options);
    auto eval = qs::open_dataset(specs.evaluation, options);
    QStringList mean, std;
    for (float m : preprocess.mean) mean.append(QString::number(m));
    for (float s : preprocess.std) std.append(QString::number(s));
    info_.calibrationInfo = QString::fromStdString(calib->describe());
    info_.evaluationInfo = QString::fromStdString(eval->describe());
    info_.calibrationSamples = double(calib->size());
    info_.evaluationSamples = double(eval->size());
    info_.sampleShape = QString::fromStdString(qs::shape_to_string(eval->sample_shape()));
    info_.preprocess = QStringLiteral("pixels scaled to [0, 1], then (x − %1) / %2")
                           .arg(mean.join(", "), std.join(", "));
    const qs::Batch batch = eval->read(0, std::min<std::int64_t>(32, eval->size()));
    if (images_) images_->setImages(images_from_batch(batch, preprocess));
    ++generation_;
    for (std::int64_t i = 0; i < batch.inputs.dim(0); ++i) {
      const std::size_t n = static_cast<std::size_t>(i);
      samples_.append(QVariantMap{
          {"source", QStringLiteral("image://samples/%1?%2").arg(i).arg(generation_)},
          {"label", n < batch.labels.size() ? labelName(specs.evaluation, batch.labels[n])
                                            : tr("no label")}});
    }
    setError({});
  } catch (const std::exception& e) {
    setError(QString::fromUtf8(e.what()));
  }
  emit changed();
  return !wb().errors().contains(page());
}

}  // namespace qs::gui
