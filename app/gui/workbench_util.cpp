#include "workbench_util.h"

#include <QJsonDocument>
#include <algorithm>
#include <cmath>

#include "quantscope/error.h"
#include "sample_images.h"

namespace qs::gui {

qs::JobControl phase(const qs::JobControl& job, double from, double to, const std::string& label) {
  qs::JobControl part;
  part.cancel = job.cancel;
  part.progress = [&job, from, to, label](double fraction, const std::string& message) {
    job.report(from + (to - from) * fraction, label + ": " + message);
  };
  return part;
}

std::unique_ptr<qs::Device> openDevice(const qs::Registry& registry, const std::string& name) {
  std::unique_ptr<qs::Device> device = registry.create_device(name);
  const qs::DeviceStatus status = device->status();
  if (!status.usable) throw qs::Error("device '" + name + "' is not usable here: " + status.reason);
  return device;
}

QVariant finiteOrNull(double v) {
  return std::isfinite(v) ? QVariant(v) : QVariant();
}

QStringList notesList(const std::vector<std::string>& notes) {
  QStringList list;
  for (const std::string& n : notes) list.append(QString::fromStdString(n));
  return list;
}

QString labelName(const std::string& spec, std::int64_t label) {
  static const char* fashion[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                  "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  if (spec.rfind("fashion-mnist", 0) == 0 && label >= 0 && label < 10)
    return QString::fromLatin1(fashion[label]);
  return QStringLiteral("label %1").arg(label);
}

QVariantMap pairView(const qs::PairEvalResult& pair) {
  return {{"hasTop1", pair.reference.has_labels && pair.classifier},
          {"floatTop1", pair.reference.top1},
          {"quantTop1", pair.candidate.top1},
          {"classifier", pair.classifier},
          {"agreement", pair.agreement},
          {"kl", pair.kl},
          {"sqnrDb", finiteOrNull(pair.sqnr_db)},
          {"onlyFloat", qint64(pair.only_reference)},
          {"onlyQuant", qint64(pair.only_candidate)},
          {"mcnemarZ", pair.mcnemar_z()},
          {"samples", qint64(pair.reference.samples)}};
}

QVariantMap quantizedView(const qs::Graph& graph, const qs::QuantizedModel& q,
                          const qs::PairEvalResult& pair, const std::string& device,
                          const QVariantMap& extra) {
  QVariantMap view = pairView(pair);
  view.insert(QVariantMap{{"calibrationSamples", qint64(q.calibration_samples)},
                          {"floatBytes", qint64(qs::model_size_bytes(graph))},
                          {"quantBytes", qint64(qs::model_size_bytes(graph, &q))},
                          {"layers", int(q.weights.size())},
                          {"device", QString::fromStdString(device)},
                          {"notes", notesList(q.notes)}});
  view.insert(extra);
  return view;
}

namespace {

// [1, C, H, W] with C 1 or 3, or [1, H, W]: its channels, height and width; false otherwise.
bool imageDims(const qs::Tensor& t, std::int64_t& c, std::int64_t& h, std::int64_t& w) {
  const qs::Shape& s = t.shape();
  if (t.dtype() != qs::DType::f32 || s.empty() || s[0] != 1) return false;
  if (s.size() == 3) {
    c = 1, h = s[1], w = s[2];
  } else if (s.size() == 4 && (s[1] == 1 || s[1] == 3)) {
    c = s[1], h = s[2], w = s[3];
  } else {
    return false;
  }
  return h > 0 && w > 0 && h * w <= (1 << 22);
}

int toByte(double v) {
  return std::clamp(int(std::lround(v * 255.0)), 0, 255);
}

QImage rangeImage(const qs::Tensor& t, double lo, double hi) {
  std::int64_t c = 0, h = 0, w = 0;
  imageDims(t, c, h, w);
  const float* p = t.data<float>();
  QImage image(int(w), int(h), QImage::Format_RGB32);
  const double span = hi > lo ? hi - lo : 1.0;
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x) {
      int rgb[3];
      for (std::int64_t k = 0; k < 3; ++k)
        rgb[k] = toByte((p[(c == 1 ? 0 : k) * h * w + y * w + x] - lo) / span);
      image.setPixel(int(x), int(y), qRgb(rgb[0], rgb[1], rgb[2]));
    }
  return image;
}

QImage errorImage(const qs::Tensor& t, double max_error) {
  std::int64_t c = 0, h = 0, w = 0;
  imageDims(t, c, h, w);
  const float* p = t.data<float>();
  QImage image(int(w), int(h), QImage::Format_RGB32);
  for (std::int64_t i = 0; i < h * w; ++i) {
    double e = 0;  // the largest error over the channels
    for (std::int64_t k = 0; k < c; ++k) e = std::max(e, double(p[k * h * w + i]));
    const double v = max_error > 0 ? e / max_error : 0.0;
    image.setPixel(int(i % w), int(i / w), qRgb(toByte(2 * v), toByte(2 * v - 1), 0));
  }
  return image;
}

}  // namespace

std::vector<QImage> comparisonImages(const qs::SampleComparison& c,
                                     const qs::Preprocess& preprocess) {
  std::vector<QImage> images;
  try {
    images = images_from_batch(qs::Batch{c.input, {}}, preprocess);
  } catch (const qs::Error&) {
    images.emplace_back();  // not an image input: no picture, the indices stay fixed
  }
  std::int64_t ch = 0, h = 0, w = 0;
  if (!c.classifier && imageDims(c.float_output, ch, h, w) && imageDims(c.quant_output, ch, h, w)) {
    const float* f = c.float_output.data<float>();
    const auto [lo, hi] = std::minmax_element(f, f + c.float_output.numel());
    images.push_back(rangeImage(c.float_output, *lo, *hi));
    images.push_back(rangeImage(c.quant_output, *lo, *hi));
    images.push_back(errorImage(c.error_map, c.max_abs_error));
  }
  return images;
}

}  // namespace qs::gui
