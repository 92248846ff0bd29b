// quantscope-cli: every step of the workbench from the command line. JSON on stdout with
// --json, progress on stderr when it is a terminal. Exit status: 0 success, 1 failure (one
// line on stderr), 2 bad usage.
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "cli_common.h"
#include "quantscope/memory.h"

namespace {

struct CommandEntry {
  const char* name;
  qs::cli::Command run;
  const char* summary;
  const char* synopsis;     // the arguments a run needs; the options come from the command
  const char* description;  // one paragraph
};

const CommandEntry kCommands[] = {
    {"info", qs::cli::cmd_info, "inputs, outputs, layers, parameters and MACs of a model", "MODEL",
     "Prints the model's inputs and outputs, op histogram, per-layer table (name, op, "
     "parameters, MACs per sample, where it runs on --device) and totals. A model with "
     "unsupported ops is reported with the node, op and reason."},
    {"eval", qs::cli::cmd_eval, "accuracy of a model on a dataset", "MODEL --data SPEC",
     "Prints top-1 and top-5 accuracy (with labels), PSNR for image-to-image models, "
     "samples, device and seconds. Preprocessing comes from the model's metadata; "
     "--mean/--std override it. With --config, the quantized model (simulated; --real: the "
     "device's integer kernels) is evaluated beside the float one: fp32 and quantized top-1, "
     "agreement (share of samples whose top-1 is the float model's), KL, SQNR and the size "
     "under the configuration; --project keeps that comparison in (and takes it from) a "
     "project. A language model (int64 input_ids, logits out) is scored on text "
     "instead: --data text:FILE (one document per line, or .jsonl records with \"text\") "
     "with --tokenizer, or tokens:IDS.npy; windows of --context tokens every --stride tokens "
     "(--limit: the first N windows); prints perplexity and bits per byte. --against "
     "OTHER.onnx (or --config) scores a second model on the same windows beside it with "
     "llama.cpp's statistics: PPL ratio, KL divergence and delta p percentiles, same top "
     "token."},
    {"quantize", qs::cli::cmd_quantize,
     "post-training quantization: calibrate, round, write a config",
     "MODEL --data SPEC -o CONFIG.json",
     "Calibrates the activations on SPEC (the first N samples) and quantizes the weights of "
     "every Conv, ConvTranspose, Gemm and MatMul; writes the settings and the computed "
     "parameters to CONFIG.json (atomically). Defaults: 8-bit weights per channel, "
     "symmetric; 8-bit activations, asymmetric; MSE calibration; round to nearest. "
     "--symmetric/--asymmetric set both weights and activations. --project: the result is "
     "kept in (and, for the same inputs, taken from) a project."},
    {"sensitivity", qs::cli::cmd_sensitivity,
     "per-layer sensitivity: each layer alone at each bit width", "MODEL --data SPEC",
     "Quantizes one layer at a time (its weights, its input activations, or both) at each "
     "bit width, the rest in float, and measures the change of the output against the float "
     "model: KL, SQNR, top-1 agreement, and top-1 with labels. Calibrates on --data and "
     "evaluates on --eval-data (default: the same samples). --shard i/n computes every n-th "
     "point only (a job array); 'merge' joins the parts. --hessian: the JSON of 'hessian "
     "--json'; adds HAWQ-V2's estimate tr(H)/n x ||Q(W) - W||^2 per point. --project: the "
     "result is kept in (and, for the same inputs, taken from) a project."},
    {"hessian", qs::cli::cmd_hessian, "per-layer Hessian traces (Hutchinson) with error bars",
     "MODEL --data SPEC",
     "tr(H) of the loss (cross-entropy with labels, else KL from the float output) with "
     "respect to each layer's weights, by Hutchinson's estimator with Rademacher probes over "
     "all SPEC samples; Hv by differences of the engine's gradients with ReLU-like kinks "
     "held fixed. Stops when no layer's running mean moves by more than T (relative, default "
     "0.001) or after N probes (default 200); each trace carries its standard error. Also "
     "tr(2XX^T/n), the layer-wise Hessian GPTQ uses. The JSON feeds sensitivity --hessian. "
     "--project: the result is kept in (and, for the same inputs, taken from) a project."},
    {"merge", qs::cli::cmd_merge, "join the shards of a sensitivity sweep",
     "SHARD.json SHARD.json ...",
     "Joins the JSON of 'sensitivity --shard i/n --json' runs of one sweep into the JSON the "
     "unsharded sweep prints. Shards of different sweeps, or missing or repeated points, are "
     "errors."},
    {"errors", qs::cli::cmd_errors, "per layer: error introduced vs accumulated under a config",
     "MODEL --config CONFIG.json --data SPEC",
     "For each quantized layer: the SQNR of its output against the float model's when it "
     "alone is quantized with float inputs (the error it introduces), and inside the whole "
     "quantized model (the error it has accumulated): where error is born and where it "
     "grows."},
    {"compare", qs::cli::cmd_compare, "one sample, float vs quantized: outputs, histograms",
     "MODEL --config CONFIG.json --data SPEC",
     "Runs sample K (default 0) through the float and the quantized model: the top-k classes "
     "of both (classifiers), the output SQNR and largest error, and per quantized layer its "
     "output's histogram float vs quantized and its weights' histogram with the quantization "
     "grid. -o DIR writes PNGs there: the input, the output images and their error map "
     "(image-to-image models), and the histograms (bar heights sqrt(count))."},
    {"search", qs::cli::cmd_search,
     "mixed precision: the Pareto front of loss against size, BOPs or latency", "MODEL --data SPEC",
     "Sweeps each layer's weight sensitivity, computes the exact Pareto front of predicted "
     "loss (sum of per-layer KL, or of HAWQ-V2 estimates from Hessian traces: read from "
     "--hessian, else computed on the first 256 samples of SPEC) against the cost, the "
     "uniform baselines, and evaluates K front points and the baselines for real. With "
     "--budget, the best point under it; -o writes its quantized configuration. Latency "
     "costs come from a per-layer latency table (see latency-table), built on DEVICE now "
     "unless --latency-table gives one; verified points are then also timed on DEVICE. "
     "--also adds a second cost held under --also-budget: the front is then the exact front "
     "of both costs and the loss. --project: the result is kept in (and, for the same "
     "inputs, taken from) a project (the workbench's file; created when missing), keyed by "
     "the model's SHA-256, every option, the files options name, and the version."},
    {"latency-table", qs::cli::cmd_latency_table,
     "each layer's measured time at each bit width on a device",
     "MODEL --data SPEC --device NAME -o TABLE.json",
     "For each bit width: every layer at that width (calibrated on SPEC, default 256 "
     "samples), run on the device with its integer kernels where it has them, each node "
     "timed in profiled runs. Writes each layer's median time per width, the end-to-end time "
     "and the rest of it (other nodes, copies), for 'search --objective latency'."},
    {"run", qs::cli::cmd_run, "run a model on raw tensors (.npy)",
     "MODEL --input FILE.npy --output PATH",
     "Inputs are float32 .npy tensors (a bare FILE feeds the first input). Writes each "
     "output as float32 .npy: to PATH when the model has one output and PATH is not a "
     "folder, else as PATH/<output name>.npy."},
    {"bench", qs::cli::cmd_bench, "latency of a model on a device", "MODEL",
     "Times the model on random inputs: the first (cold) run apart, W warm-up runs "
     "discarded, then at least N runs and at least S seconds. Reports median, p90, p99, min, "
     "mean, the coefficient of variation (flagged above 5 %) and throughput, with the "
     "environment (CPU, ISA, threads). --per-layer also times each node, in separate "
     "profiled runs. For a language model, --prompt-tokens P --decode N time the prefill of "
     "a random P-token prompt and N greedy decode steps after it (one generation discarded, "
     "then --runs of them): prefill tokens/s and each decode step's median, p90 and p99."},
    {"export", qs::cli::cmd_export, "deployment package: QDQ ONNX, manifest, report, self-check",
     "MODEL --config CONFIG.json -o DIR|FILE.zip",
     "Writes model.onnx (QuantizeLinear/DequantizeLinear that ONNX Runtime, TensorRT and "
     "OpenVINO fuse into integer kernels; opset 21 for int4 weights, 16-bit activations or "
     "per-group scales), manifest.json, report.html, checksums.sha256 and selfcheck/ (K "
     "reference inputs, Quantscope's outputs, and scripts for Node or Python ONNX Runtime). "
     "With --data: float vs quantized accuracy, per class; classes that move by more than P "
     "points (default 2) are flagged. --bench times fp32 and quantized on the devices. "
     "--sensitivity / --search: the JSON of those commands, drawn in report.html."},
    {"import", qs::cli::cmd_import, "a QDQ model or package back into a float model and a config",
     "MODEL.onnx|PACKAGE_DIR|PACKAGE.zip --config CONFIG.json --float-model FLOAT.onnx",
     "Reads a QDQ ONNX model (Quantscope's exports and others') and writes the float model "
     "(weights dequantized, activation Q/DQ pairs removed, folded Relu/Clip put back) and "
     "the quantization recovered from the Q/DQ nodes, so that eval/sensitivity/search/export "
     "FLOAT.onnx --config CONFIG.json continue from it."},
    {"generate", qs::cli::cmd_generate, "text from a language model, with tokens per second",
     "MODEL --tokenizer FILE --prompt TEXT",
     "Feeds the prompt (led by the tokenizer's <s>) in one step, then generates up to -n "
     "tokens one at a time with the model's key/value cache (a decoder without one is fed the "
     "whole text at each step), greedy unless --temperature is above 0 (then sampled, from "
     "the --top-k most likely with --top-k). Prints the text as it comes, then the prefill and "
     "decode speed; --json also the token ids and each step's time. --config runs the "
     "quantized model."},
    {"tokenize", qs::cli::cmd_tokenize, "text to token ids with a language model's tokenizer",
     "--tokenizer FILE --text TEXT",
     "Prints the token ids and pieces of each text (each --text, each line of --file). With "
     "--json, also the text decoded back from the ids."},
    {"plugins", qs::cli::cmd_plugins, "devices and plugins: loaded, refused and why", "",
     "Lists the devices (usable or not, and why), the plugin folders, and each plugin "
     "library found: loaded, or refused with the reason. Folders: beside the program "
     "(plugins/), <prefix>/lib/quantscope/plugins, and QUANTSCOPE_PLUGIN_PATH."},
    {"demo", qs::cli::cmd_demo, "evaluate every bundled model on Fashion-MNIST", "",
     "Evaluates each model in the bundled models folder on fashion-mnist:test and prints a "
     "table of accuracy (PSNR for the autoencoder), the accuracy PyTorch recorded, and "
     "throughput, on --device (default: cpu-onednn when it is there, else cpu-ref)."},
};

void print_overview() {
  std::printf("usage: quantscope-cli COMMAND [options]   (quantscope-cli COMMAND --help)\n\n");
  for (const CommandEntry& c : kCommands) std::printf("  %-13s %s\n", c.name, c.summary);
  std::printf("\nQuantscope %s\n", QS_VERSION);
}

std::string usage_line(const CommandEntry& c) {
  std::string line = std::string("usage: quantscope-cli ") + c.name;
  if (*c.synopsis) line += std::string(" ") + c.synopsis;
  return line + " [options]\n";
}

// `text` wrapped at 100 columns, each line indented by two spaces.
std::string paragraph(const std::string& text) {
  std::istringstream words(text);
  std::string word, out, line;
  while (words >> word) {
    if (!line.empty() && 2 + line.size() + 1 + word.size() > 100) {
      out += "  " + line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  return out + "  " + line + "\n";
}

}  // namespace

int main(int argc, char** argv) {
  qs::keep_freed_memory();
  if (argc < 2) {
    print_overview();
    return 2;
  }
  const std::string command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    print_overview();
    return 0;
  }
  if (command == "--version") {
    std::printf("quantscope-cli %s\n", QS_VERSION);
    return 0;
  }
  for (const CommandEntry& c : kCommands) {
    if (command != c.name) continue;
    const std::vector<std::string> rest(argv + 2, argv + argc);
    try {
      return c.run(rest);
    } catch (const qs::cli::HelpRequested& help) {
      std::printf("%s%s\noptions:\n%s", usage_line(c).c_str(), paragraph(c.description).c_str(),
                  help.options.c_str());
      return 0;
    } catch (const qs::cli::UsageError& e) {
      std::fprintf(stderr, "quantscope-cli %s: %s\n%s  (quantscope-cli %s --help: the options)\n",
                   c.name, e.message.c_str(), usage_line(c).c_str(), c.name);
      return 2;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "quantscope-cli %s: error: %s\n", c.name, e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "quantscope-cli: unknown command '%s'\n", command.c_str());
  print_overview();
  return 2;
}
