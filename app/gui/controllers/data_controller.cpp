#include "controllers/data_controller.h"

#include <filesystem>

#include "quantscope/dataset.h"
#include "quantscope/text_data.h"
#include "quantscope/tokenizer.h"
#include "sample_images.h"
#include "workbench_util.h"

namespace qs::gui {

DataController::DataController(Workbench* workbench, SampleImageProvider* images)
    : PageController(workbench, QStringLiteral("data")), images_(images) {
  connect(workbench, &Workbench::modelChanged, this, &DataController::reopen);
}

namespace {

// One document's first tokens as HTML: each token's text on alternating backgrounds, line
// breaks made visible, control tokens (<s>) muted.
QString tokensHtml(const qs::Tokenizer& tokenizer, const std::int64_t* ids, std::int64_t n) {
  QString html;
  std::string before;  // the text of the tokens so far: a token's text is what it adds to it
  for (std::int64_t k = 0; k < n; ++k) {
    const std::string now = tokenizer.decode({ids, ids + k + 1});
    const bool control = tokenizer.token_bytes(ids[k]) == 0;
    // A token that is part of a character (a byte of it) leaves U+FFFD: its piece instead.
    std::string piece = now.compare(0, before.size(), before) == 0 ? now.substr(before.size()) : "";
    if (control || piece.empty() || piece.find("\xEF\xBF\xBD") != std::string::npos)
      piece = tokenizer.piece(ids[k]);
    before = now;
    QString text = QString::fromStdString(piece).toHtmlEscaped();
    text.replace(QLatin1Char('\n'), QStringLiteral("↵"));
    const char* background = control ? "#e5e7eb" : (k % 2 ? "#fde3c4" : "#d6e6fb");
    html += QStringLiteral("<span style=\"background-color:%1;%2\">%3</span>")
                .arg(QLatin1String(background),
                     control ? QStringLiteral("color:#6b7280;") : QString(), text);
  }
  return html;
}

}  // namespace

void DataController::reopen() {
  const DataSpecs& specs = wb().dataSpecs();
  if (!specs.calibration.empty())
    open(QString::fromStdString(specs.calibration), QString::fromStdString(specs.evaluation),
         int(specs.limit));
}

// A language model reads text: the image sets a new project starts with give way to the text
// beside the model, when there is one.
void DataController::textBesideModel(DataSpecs& specs) const {
  const bool defaults = specs.calibration.rfind("fashion-mnist:", 0) == 0 &&
                        specs.evaluation.rfind("fashion-mnist:", 0) == 0;
  if (!defaults) return;
  const std::filesystem::path dir =
      std::filesystem::path(wb().loaded().path.toStdString()).parent_path();
  for (const char* name : {"test.txt", "validation.txt", "test.jsonl"}) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(dir / name, ec)) {
      specs.calibration = specs.evaluation = "text:" + (dir / name).string();
      return;
    }
  }
}

void DataController::openText(const DataSpecs& specs) {
  const std::string path = qs::tokenizer_beside(wb().loaded().path.toStdString());
  if (path.empty())
    throw qs::Error("no tokenizer beside the model (tokenizer.model or tokenizer.json in " +
                    std::filesystem::path(wb().loaded().path.toStdString()).parent_path().string() +
                    ")");
  const std::unique_ptr<qs::Tokenizer> tokenizer = qs::open_tokenizer(path);
  const qs::TokenStream calib = qs::open_token_stream(specs.calibration, tokenizer.get());
  const qs::TokenStream eval = specs.evaluation == specs.calibration
                                   ? calib  // the same file: tokenized once
                                   : qs::open_token_stream(specs.evaluation, tokenizer.get());
  info_.text = true;
  info_.calibrationInfo = QString::fromStdString(calib.description);
  info_.evaluationInfo = QString::fromStdString(eval.description);
  info_.calibrationSamples = double(calib.documents);
  info_.evaluationSamples = double(eval.documents);
  info_.sampleShape = tr("windows of tokens (the CLI's --context, 256 by default)");
  info_.preprocess = QString::fromStdString(tokenizer->describe());
  // The first documents: each starts at a beginning token, or the stream is one document.
  const std::int64_t bos = tokenizer->bos();
  const std::int64_t n = static_cast<std::int64_t>(eval.ids.size());
  for (std::int64_t begin = 0; begin < n && samples_.size() < 8;) {
    std::int64_t end = begin + 1;
    while (end < n && eval.ids[static_cast<std::size_t>(end)] != bos) ++end;
    const std::int64_t shown = std::min<std::int64_t>(end - begin, 160);
    // pre-wrap: a token's spaces are kept (and coloured), and lines break at them.
    const QString html = QStringLiteral(
                             "<p style=\"white-space:pre-wrap\">%1%2 <span "
                             "style=\"color:#6b7280\">(%3 tokens)</span></p>")
                             .arg(tokensHtml(*tokenizer, eval.ids.data() + begin, shown),
                                  shown < end - begin ? QStringLiteral(" …") : QString())
                             .arg(end - begin);
    samples_.append(QVariantMap{{"html", html}, {"tokens", qint64(end - begin)}});
    begin = end;
  }
}

bool DataController::open(const QString& calibration, const QString& evaluation, int limit) {
  DataSpecs specs{calibration.toStdString(), evaluation.toStdString(), limit > 0 ? limit : -1};
  if (wb().hasModel() && wb().isDecoder()) textBesideModel(specs);
  info_ = {};
  info_.calibration = QString::fromStdString(specs.calibration);
  info_.evaluation = QString::fromStdString(specs.evaluation);
  info_.limit = limit > 0 ? limit : 0;
  samples_.clear();
  wb().setDataSpecs(specs);
  if (!wb().hasModel()) {
    emit changed();
    return false;
  }
  const qs::Preprocess& preprocess = wb().loaded().preprocess;
  try {
    if (qs::is_text_spec(specs.evaluation) || wb().isDecoder()) {
      openText(specs);
      setError({});
      emit changed();
      return true;
    }
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
