// quantscope-cli: every step of the workbench from the command line. JSON on stdout with
// --json, progress on stderr when it is a terminal. Exit status: 0 success, 1 failure (one
// line on stderr), 2 bad usage.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli_common.h"
#include "quantscope/memory.h"

namespace {

struct CommandEntry {
  const char* name;
  qs::cli::Command run;
  const char* summary;
  const char* usage;
};

const CommandEntry kCommands[] = {
    {"info", qs::cli::cmd_info, "inputs, outputs, layers, parameters and MACs of a model",
     "usage: quantscope-cli info MODEL [--device NAME] [--json]\n"
     "  Prints the model's inputs and outputs, op histogram, per-layer table (name, op,\n"
     "  parameters, MACs per sample, where it runs on --device) and totals. A model with\n"
     "  unsupported ops is reported with the node, op and reason.\n"},
    {"eval", qs::cli::cmd_eval, "accuracy of a model on a dataset",
     "usage: quantscope-cli eval MODEL --data SPEC [--limit N] [--device NAME] [--batch B]\n"
     "                           [--config CONFIG.json [--real]] [--mean M[,M,M]] [--std S[,S,S]]\n"
     "                           [--project P.qsproj] [--json]\n"
     "  SPEC: fashion-mnist:test | fashion-mnist:train | idx:IMAGES[,LABELS] | folder:DIR |\n"
     "        npy:INPUTS.npy[,LABELS.npy] | npz:FILE.npz\n"
     "  Prints top-1 and top-5 accuracy (with labels), PSNR for image-to-image models,\n"
     "  samples, device and seconds. Preprocessing comes from the model's metadata;\n"
     "  --mean/--std override it. With --config, the quantized model (simulated; --real:\n"
     "  the device's integer kernels) is evaluated beside the float one: fp32 and quantized\n"
     "  top-1, agreement (share of samples whose top-1 is the float model's), KL, SQNR and\n"
     "  the size under the configuration; --project keeps that comparison in (and takes it\n"
     "  from) a project.\n"},
    {"quantize", qs::cli::cmd_quantize,
     "post-training quantization: calibrate, round, write a config",
     "usage: quantscope-cli quantize MODEL --data SPEC [--limit N] -o CONFIG.json\n"
     "         [--weights BITS|float] [--acts 8|16|float] [--granularity tensor|channel|group:G]\n"
     "         [--symmetric|--asymmetric] [--calib minmax|percentile[:P]|mse|entropy]\n"
     "         [--weight-range minmax|mse] [--rounding rtn|gptq[:damp=D]] [--bias-correction]\n"
     "         [--override NODE=BITS|float|wBaA ...] [--device NAME] [--batch B]\n"
     "         [--project P.qsproj] [--json]\n"
     "  Calibrates the activations on SPEC (the first N samples) and quantizes the weights\n"
     "  of every Conv, ConvTranspose, Gemm and MatMul; writes the settings and the computed\n"
     "  parameters to CONFIG.json (atomically). Defaults: 8-bit weights per channel,\n"
     "  symmetric; 8-bit activations, asymmetric; MSE calibration; round to nearest.\n"
     "  --symmetric/--asymmetric set both weights and activations. --project: the result is\n"
     "  kept in (and, for the same inputs, taken from) a project.\n"},
    {"sensitivity", qs::cli::cmd_sensitivity,
     "per-layer sensitivity: each layer alone at each bit width",
     "usage: quantscope-cli sensitivity MODEL --data SPEC [--eval-data SPEC] [--limit N]\n"
     "         [--bits 2,3,4,5,6,8] [--what weights|acts|both] [--granularity ...]\n"
     "         [--rounding rtn|gptq[:damp=D]] [--calib ...] [--shard i/n] [--device NAME]\n"
     "         [--batch B]\n"
     "         [--hessian TRACES.json] [--project P.qsproj] [--json]\n"
     "  Quantizes one layer at a time (its weights, its input activations, or both) at each\n"
     "  bit width, the rest in float, and measures the change of the output against the\n"
     "  float model: KL, SQNR, top-1 agreement, and top-1 with labels. Calibrates on --data\n"
     "  and evaluates on --eval-data (default: the same samples). --shard i/n computes every\n"
     "  n-th point only (a job array); 'merge' joins the parts. --hessian: the JSON of\n"
     "  'hessian --json'; adds HAWQ-V2's estimate tr(H)/n x ||Q(W) - W||^2 per point.\n"
     "  --project: the result is kept in (and, for the same inputs, taken from) a project.\n"},
    {"hessian", qs::cli::cmd_hessian, "per-layer Hessian traces (Hutchinson) with error bars",
     "usage: quantscope-cli hessian MODEL --data SPEC [--limit N] [--probes N] [--tol T]\n"
     "         [--min-probes N] [--step S] [--seed S] [--threads T] [--batch B]\n"
     "         [--no-layerwise] [--project P.qsproj] [--json]\n"
     "  tr(H) of the loss (cross-entropy with labels, else KL from the float output) with\n"
     "  respect to each layer's weights, by Hutchinson's estimator with Rademacher probes over\n"
     "  all SPEC samples; Hv by differences of the engine's gradients with ReLU-like kinks held\n"
     "  fixed. Stops when no layer's running mean moves by more than T (relative, default\n"
     "  0.001) or after N probes (default 200); each trace carries its standard error. Also\n"
     "  tr(2XX^T/n), the layer-wise Hessian GPTQ uses. The JSON feeds sensitivity --hessian.\n"
     "  --project: the result is kept in (and, for the same inputs, taken from) a project.\n"},
    {"merge", qs::cli::cmd_merge, "join the shards of a sensitivity sweep",
     "usage: quantscope-cli merge SHARD.json SHARD.json ... [-o MERGED.json]\n"
     "  Joins the JSON of 'sensitivity --shard i/n --json' runs of one sweep into the JSON\n"
     "  the unsharded sweep prints. Shards of different sweeps, or missing or repeated\n"
     "  points, are errors.\n"},
    {"errors", qs::cli::cmd_errors, "per layer: error introduced vs accumulated under a config",
     "usage: quantscope-cli errors MODEL --config CONFIG.json --data SPEC [--limit N]\n"
     "         [--device NAME] [--batch B] [--json]\n"
     "  For each quantized layer: the SQNR of its output against the float model's when it\n"
     "  alone is quantized with float inputs (the error it introduces), and inside the whole\n"
     "  quantized model (the error it has accumulated): where error is born and where it grows.\n"},
    {"compare", qs::cli::cmd_compare, "one sample, float vs quantized: outputs, histograms",
     "usage: quantscope-cli compare MODEL --config CONFIG.json --data SPEC [--sample K]\n"
     "         [-o DIR] [--bins B] [--topk K] [--device NAME] [--json]\n"
     "  Runs sample K (default 0) through the float and the quantized model: the top-k\n"
     "  classes of both (classifiers), the output SQNR and largest error, and per quantized\n"
     "  layer its output's histogram float vs quantized and its weights' histogram with the\n"
     "  quantization grid. -o DIR writes PNGs there: the input, the output images and their\n"
     "  error map (image-to-image models), and the histograms (bar heights sqrt(count)).\n"},
    {"search", qs::cli::cmd_search,
     "mixed precision: the Pareto front of loss against size, BOPs or latency",
     "usage: quantscope-cli search MODEL --data SPEC [--eval-data SPEC] [--limit N]\n"
     "         [--objective size|bops|latency:DEVICE] [--budget X [-o CONFIG.json]]\n"
     "         [--also size|bops|latency:DEVICE --also-budget Y] [--latency-table TABLE.json]\n"
     "         [--bits 2,3,4,6,8] [--acts 8|16|float] [--rounding rtn|gptq[:damp=D]]\n"
     "         [--keep-ends]\n"
     "         [--pin NODE=BITS ...] [--verify K] [--device NAME] [--batch B] [--json]\n"
     "         [--estimate kl|hawq [--hessian TRACES.json]] [--project P.qsproj]\n"
     "  Sweeps each layer's weight sensitivity, computes the exact Pareto front of predicted\n"
     "  loss (sum of per-layer KL, or of HAWQ-V2 estimates from Hessian traces: read from\n"
     "  --hessian, else computed on the first 256 samples of SPEC) against the cost, the uniform "
     "baselines, and evaluates K\n"
     "  front points and the baselines for real. With --budget, the best point under it;\n"
     "  -o writes its quantized configuration. Latency costs come from a per-layer latency\n"
     "  table (see latency-table), built on DEVICE now unless --latency-table gives one;\n"
     "  verified points are then also timed on DEVICE. --also adds a second cost held under\n"
     "  --also-budget: the front is then the exact front of both costs and the loss.\n"
     "  --project: the result is kept in (and, for the same inputs, taken from) a project\n"
     "  (the workbench's file; created when missing), keyed by the model's SHA-256, every\n"
     "  option, the files options name, and the version.\n"},
    {"latency-table", qs::cli::cmd_latency_table,
     "each layer's measured time at each bit width on a device",
     "usage: quantscope-cli latency-table MODEL --data SPEC [--limit N] --device NAME\n"
     "         [--bits 2,3,4,6,8] [--acts 8|float] [--batch B] [--threads T] [--runs N]\n"
     "         [--warmup W] [--min-seconds S] [--calib-device NAME] -o TABLE.json [--json]\n"
     "  For each bit width: every layer at that width (calibrated on SPEC, default 256\n"
     "  samples), run on the device with its integer kernels where it has them, each node\n"
     "  timed in profiled runs. Writes each layer's median time per width, the end-to-end\n"
     "  time and the rest of it (other nodes, copies), for 'search --objective latency'.\n"},
    {"run", qs::cli::cmd_run, "run a model on raw tensors (.npy)",
     "usage: quantscope-cli run MODEL --input FILE.npy [--input NAME=FILE.npy ...]\n"
     "                          --output PATH [--device NAME] [--config CONFIG.json [--real]]\n"
     "  Inputs are float32 .npy tensors (a bare FILE feeds the first input). Writes each\n"
     "  output as float32 .npy: to PATH when the model has one output and PATH is not a\n"
     "  folder, else as PATH/<output name>.npy.\n"},
    {"bench", qs::cli::cmd_bench, "latency of a model on a device",
     "usage: quantscope-cli bench MODEL [--device NAME] [--batch B] [--threads T] [--warmup W]\n"
     "                            [--runs N] [--min-seconds S] [--per-layer] [--json]\n"
     "                            [--config CONFIG.json [--real]]\n"
     "  Times the model on random inputs: the first (cold) run apart, W warm-up runs\n"
     "  discarded, then at least N runs and at least S seconds. Reports median, p90, p99,\n"
     "  min, mean, the coefficient of variation (flagged above 5 %) and throughput, with\n"
     "  the environment (CPU, ISA, threads). --per-layer also times each node, in\n"
     "  separate profiled runs.\n"},
    {"export", qs::cli::cmd_export, "deployment package: QDQ ONNX, manifest, report, self-check",
     "usage: quantscope-cli export MODEL --config CONFIG.json -o DIR|FILE.zip [--data SPEC]\n"
     "                             [--limit N] [--opset N] [--class-threshold P] [--samples K]\n"
     "                             [--bench DEVICE[,DEVICE]] [--batch B] [--threads T]\n"
     "                             [--sensitivity SENS.json] [--search SEARCH.json] [--json]\n"
     "  Writes model.onnx (QuantizeLinear/DequantizeLinear that ONNX Runtime, TensorRT and\n"
     "  OpenVINO fuse into integer kernels; opset 21 for int4 weights, 16-bit activations or\n"
     "  per-group scales), manifest.json, report.html, checksums.sha256 and selfcheck/ (K\n"
     "  reference inputs, Quantscope's outputs, and scripts for Node or Python ONNX Runtime).\n"
     "  With --data: float vs quantized accuracy, per class; classes that move by more than\n"
     "  P points (default 2) are flagged. --bench times fp32 and quantized on the devices.\n"
     "  --sensitivity / --search: the JSON of those commands, drawn in report.html.\n"},
    {"import", qs::cli::cmd_import, "a QDQ model or package back into a float model and a config",
     "usage: quantscope-cli import MODEL.onnx|PACKAGE_DIR|PACKAGE.zip --config CONFIG.json\n"
     "                             --float-model FLOAT.onnx [--json]\n"
     "  Reads a QDQ ONNX model (Quantscope's exports and others') and writes the float model\n"
     "  (weights dequantized, activation Q/DQ pairs removed, folded Relu/Clip put back) and the\n"
     "  quantization recovered from the Q/DQ nodes, so that eval/sensitivity/search/export\n"
     "  FLOAT.onnx --config CONFIG.json continue from it.\n"},
    {"plugins", qs::cli::cmd_plugins, "devices and plugins: loaded, refused and why",
     "usage: quantscope-cli plugins [--json]\n"
     "  Lists the devices (usable or not, and why), the plugin folders, and each plugin\n"
     "  library found: loaded, or refused with the reason. Folders: beside the program\n"
     "  (plugins/), <prefix>/lib/quantscope/plugins, and QUANTSCOPE_PLUGIN_PATH.\n"},
    {"demo", qs::cli::cmd_demo, "evaluate every bundled model on Fashion-MNIST",
     "usage: quantscope-cli demo [--models DIR] [--device NAME] [--limit N] [--json]\n"
     "  Evaluates each model in the bundled models folder on fashion-mnist:test and prints\n"
     "  a table of accuracy (PSNR for the autoencoder), the accuracy PyTorch recorded, and\n"
     "  throughput, on --device (default: cpu-onednn when it is there, else cpu-ref).\n"},
};

void print_overview() {
  std::printf("usage: quantscope-cli COMMAND [options]   (quantscope-cli COMMAND --help)\n\n");
  for (const CommandEntry& c : kCommands) std::printf("  %-6s %s\n", c.name, c.summary);
  std::printf("\nQuantscope %s\n", QS_VERSION);
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
    std::vector<std::string> rest(argv + 2, argv + argc);
    for (const std::string& a : rest) {
      if (a == "--help" || a == "-h") {
        std::fputs(c.usage, stdout);
        return 0;
      }
    }
    try {
      return c.run(rest);
    } catch (const qs::cli::UsageError& e) {
      std::fprintf(stderr, "quantscope-cli %s: %s\n%s", c.name, e.message.c_str(), c.usage);
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
