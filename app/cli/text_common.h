// Pieces shared by the commands that handle language models (eval on text, generate, bench
// --decode).
#pragma once

#include <memory>
#include <string>

#include "args.h"
#include "quantscope/graph.h"
#include "quantscope/language_model.h"
#include "quantscope/tokenizer.h"

namespace qs::cli {

// The tokenizer of --tokenizer, else the tokenizer.model or .json beside the model (as Hugging Face
// folders keep it; a note on stderr says so); nullptr when there is none, unless `required`
// (then a UsageError).
std::unique_ptr<Tokenizer> tokenizer_for(const Args& args, const std::string& model_path,
                                         bool required);
// --context, --stride and --limit (windows).
TextEvalOptions text_eval_options(const Args& args);
// 'eval' of a decoder on text: perplexity and bits per byte; with --config or --against, the
// other model beside it with the per-token statistics.
int eval_text(const std::string& path, const Graph& graph, const Args& args);

}  // namespace qs::cli
