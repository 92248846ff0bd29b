#include "options.h"

#include <map>
#include <sstream>
#include <stdexcept>

namespace qs::cli {

namespace {

const std::map<std::string, Option>& catalogue() {
  static const std::map<std::string, Option> options = [] {
    std::map<std::string, Option> m;
    auto add = [&m](Option o) { m.emplace(o.name, std::move(o)); };
    add({"data", "SPEC",
         "the data set: fashion-mnist:test | fashion-mnist:train | idx:IMAGES[,LABELS] | "
         "folder:DIR | npy:INPUTS.npy[,LABELS.npy] | npz:FILE.npz; for a language model "
         "text:FILE.txt|.jsonl (with --tokenizer) | tokens:IDS.npy"});
    add({"tokenizer", "FILE",
         "a language model's tokenizer: a SentencePiece model or a Hugging Face tokenizer.json "
         "(default: the tokenizer.model or tokenizer.json beside the model)"});
    add({"context", "N", "a language model's window: tokens per run (default 256)"});
    add({"stride", "S",
         "windows start every S tokens; each token is scored once, with up to N - S tokens "
         "of history (default: the context)"});
    add({"eval-data", "SPEC", "the evaluation set (default: the --data samples)"});
    add({"limit", "N", "the first N samples (for text, windows) of each set (default: all)"});
    add({"eval-limit", "N", "the first N samples of the evaluation set (default: --limit)"});
    add({"device", "NAME", "the device to run on (default cpu-ref; 'plugins' lists them)"});
    add({"batch", "B",
         "samples per run (a model whose batch dimension is fixed gets that many at a time)"});
    add({"threads", "T", "threads of the device (default: its own choice)"});
    add({"mean", "M[,M,M]",
         "preprocessing: (x - M) / S per channel, pixels scaled to [0, 1] first (default: the "
         "model's metadata)"});
    add({"std", "S[,S,S]", "see --mean"});
    add({"config", "CONFIG.json", "a quantization configuration (from 'quantize' or 'import')"});
    add({"real", "",
         "run the quantized model with the device's integer kernels (default: simulated)"});
    add({"project", "P.qsproj",
         "keep the result in (and, for the same inputs, take it from) a project, the "
         "workbench's file (created when missing)"});
    add({"json", "", "print the result as JSON on stdout"});
    add({"granularity", "tensor|channel|group:G",
         "weight scales per tensor, per output channel, or per group of G inputs"});
    add({"rounding", "rtn|gptq[:damp=D,order=act|natural]",
         "weight rounding: to nearest, or GPTQ ('plugins' lists the registered methods)"});
    add({"calib", "minmax|percentile[:P]|mse|entropy",
         "how activation ranges are calibrated (default mse)"});
    add({"symmetric", "", "symmetric grids for weights and activations"});
    add({"asymmetric", "", "asymmetric grids (a zero point) for weights and activations"});
    add({"acts", "8|16|float", "activation bits (default 8)"});
    add({"hessian", "TRACES.json",
         "per-layer Hessian traces (the JSON of 'hessian --json'), for HAWQ-V2's estimate "
         "tr(H)/n x ||Q(W) - W||^2"});
    add({"warmup", "W", "warm-up runs, discarded"});
    add({"runs", "N", "timed runs, at least"});
    add({"min-seconds", "S", "seconds of timed runs, at least"});
    return m;
  }();
  return options;
}

// `text` wrapped at `width` columns, every line after the first indented by `indent`.
std::string wrap(const std::string& text, std::size_t indent, std::size_t width) {
  std::istringstream words(text);
  std::string word, out, line;
  while (words >> word) {
    if (!line.empty() && indent + line.size() + 1 + word.size() > width) {
      out += line + "\n" + std::string(indent, ' ');
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  return out + line;
}

}  // namespace

Option common(const std::string& name) {
  const auto it = catalogue().find(name);
  if (it == catalogue().end()) throw std::logic_error("no common option --" + name);
  return it->second;
}

std::string format_options(const std::vector<Option>& options) {
  constexpr std::size_t kColumn = 30, kWidth = 100;
  std::string out;
  for (const Option& o : options) {
    std::string head = (o.name.size() == 1 ? "  -" : "  --") + o.name;
    if (!o.value.empty()) head += " " + o.value;
    head += head.size() + 2 <= kColumn ? std::string(kColumn - head.size(), ' ')
                                       : "\n" + std::string(kColumn, ' ');
    out += head + wrap(o.help, kColumn, kWidth) + "\n";
  }
  return out;
}

}  // namespace qs::cli
