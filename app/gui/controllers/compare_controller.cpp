#include "controllers/compare_controller.h"

#include "quantscope/compare.h"
#include "quantscope/language_model.h"
#include "quantscope/tokenizer.h"
#include "sample_images.h"
#include "workbench_util.h"

namespace qs::gui {

namespace {

QVariantList histogramList(const qs::Histogram& h) {
  QVariantList counts;
  for (std::int64_t c : h.counts) counts.append(qint64(c));
  return counts;
}

QVariantMap comparisonView(const qs::SampleComparison& c, std::int64_t samples,
                           const std::string& evaluation, int images) {
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
  return {{"sample", qint64(c.sample)},
          {"samples", qint64(samples)},
          {"label", c.label >= 0 ? labelName(evaluation, c.label) : QString()},
          {"classifier", c.classifier},
          {"floatTopk", topk(c.float_topk)},
          {"quantTopk", topk(c.quant_topk)},
          {"sqnrDb", finiteOrNull(c.sqnr_db)},
          {"kl", c.kl},
          {"maxAbsError", c.max_abs_error},
          {"images", images},
          {"activations", activations},
          {"weights", weights}};
}

}  // namespace

CompareController::CompareController(Workbench* workbench, SampleImageProvider* images)
    : PageController(workbench, QStringLiteral("compare")), images_(images) {
  connect(workbench, &Workbench::modelChanged, this, [this] {
    result_.clear();
    generation_view_.clear();
    emit resultChanged();
    emit generationChanged();
  });
}

void CompareController::generate(const QString& prompt, int tokens) {
  if (!ready()) return;
  const std::string tokenizer_path = qs::tokenizer_beside(wb().loaded().path.toStdString());
  if (tokenizer_path.empty()) {
    setError(
        tr("No tokenizer beside the model (tokenizer.model or tokenizer.json in its folder): "
           "generation needs one to read the prompt."));
    return;
  }
  setError({});
  const qs::RecipeInputs in = wb().recipeInputs();
  const std::string text = prompt.toStdString();
  wb().jobs()->start(
      page(),
      [this, in, text, tokens, tokenizer_path](const qs::JobControl& job) -> JobRunner::Deliver {
        const std::unique_ptr<qs::Tokenizer> tokenizer = qs::open_tokenizer(tokenizer_path);
        std::vector<std::int64_t> ids;
        if (tokenizer->bos() >= 0) ids.push_back(tokenizer->bos());
        const std::vector<std::int64_t> body = tokenizer->encode(text);
        ids.insert(ids.end(), body.begin(), body.end());
        auto device = openDevice(*in.registry, in.device);
        job.report(0.05, "preparing " + in.device);
        qs::DecoderSession session(*in.graph, *device);
        qs::GenerateOptions options;
        options.max_tokens = std::max(1, tokens);
        options.stop_token = tokenizer->eos();
        std::int64_t made = 0;
        const qs::GenerateResult r = qs::generate(
            session, ids, options,
            [&](std::int64_t) {
              ++made;
              job.report(
                  0.1 + 0.9 * double(made) / double(options.max_tokens),
                  "token " + std::to_string(made) + " of " + std::to_string(options.max_tokens));
            },
            job);
        // As the CLI prints it: without the stop token.
        std::vector<std::int64_t> shown = r.tokens;
        if (!shown.empty() && shown.back() == options.stop_token) shown.pop_back();
        // A model may score more ids than its tokenizer has (Qwen 2 pads its vocabulary): those
        // are shown by number.
        std::string written;
        std::vector<std::int64_t> run;
        for (std::int64_t id : shown) {
          if (id < tokenizer->vocab_size()) {
            run.push_back(id);
            continue;
          }
          written += tokenizer->decode(run) + "[id " + std::to_string(id) + "]";
          run.clear();
        }
        written += tokenizer->decode(run);
        const QVariantMap view{
            {"prompt", QString::fromStdString(text)},
            {"text", QString::fromStdString(written)},
            {"promptTokens", qint64(ids.size())},
            {"tokens", qint64(r.tokens.size())},
            {"prefillTokensPerS", r.prefill_tokens_per_s(std::int64_t(ids.size()))},
            {"decodeTokensPerS", r.decode_tokens_per_s()},
            {"device", QString::fromStdString(in.device)},
            {"model", QStringLiteral("float")}};
        return [this, view] {
          generation_view_ = view;
          emit generationChanged();
        };
      });
}

void CompareController::run(int index) {
  if (!ready()) return;
  const auto q = wb().quantized();
  if (!q) {
    setError(
        tr("Quantize the model first (Quantize or Tune page): the comparison runs the "
           "quantized model beside the float one."));
    return;
  }
  setError({});
  const qs::RecipeInputs in = wb().recipeInputs();
  wb().jobs()->start(page(), [this, in, q, index](const qs::JobControl& job) -> JobRunner::Deliver {
    qs::DataOptions options{in.preprocess, in.eval_limit};
    auto eval = qs::open_dataset(in.evaluation, options);
    auto device = openDevice(*in.registry, in.device);
    job.report(0.1, "running sample " + std::to_string(index));
    const qs::SampleComparison c = qs::compare_sample(*in.graph, *q, *eval, index, *device);
    job.check();
    std::vector<QImage> images = comparisonImages(c, in.preprocess);
    const QVariantMap view = comparisonView(c, eval->size(), in.evaluation, int(images.size()));
    return [this, view, images = std::move(images)]() mutable {
      result_ = view;
      result_["generation"] = ++generation_;
      if (images_) images_->setImages(std::move(images));
      emit resultChanged();
    };
  });
}

}  // namespace qs::gui
