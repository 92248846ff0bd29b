// Pieces shared by the quantscope-cli subcommands.
#pragma once

#include <string>
#include <vector>

#include "args.h"
#include "quantscope/dataset.h"
#include "quantscope/graph.h"
#include "quantscope/job.h"
#include "quantscope/quant.h"
#include "quantscope/recipes.h"
#include "quantscope/registry.h"

namespace qs::cli {

using Command = int (*)(const std::vector<std::string>& argv);

int cmd_info(const std::vector<std::string>& argv);
int cmd_eval(const std::vector<std::string>& argv);
int cmd_run(const std::vector<std::string>& argv);
int cmd_demo(const std::vector<std::string>& argv);
int cmd_plugins(const std::vector<std::string>& argv);
int cmd_bench(const std::vector<std::string>& argv);
int cmd_quantize(const std::vector<std::string>& argv);
int cmd_sensitivity(const std::vector<std::string>& argv);
int cmd_hessian(const std::vector<std::string>& argv);
int cmd_compare(const std::vector<std::string>& argv);
int cmd_errors(const std::vector<std::string>& argv);
int cmd_search(const std::vector<std::string>& argv);
int cmd_merge(const std::vector<std::string>& argv);
int cmd_export(const std::vector<std::string>& argv);
int cmd_import(const std::vector<std::string>& argv);
int cmd_latency_table(const std::vector<std::string>& argv);
int cmd_tokenize(const std::vector<std::string>& argv);
int cmd_generate(const std::vector<std::string>& argv);

// The registry with the built-ins and the plugins, loaded on first use.
Registry& registry();
// The device named by --device (default cpu-ref); Error when unknown or unusable here.
std::unique_ptr<Device> open_device(const Args& args);
// Preprocessing from the model's metadata, overridden by --mean/--std.
Preprocess preprocess_for(const Graph& graph, const Args& args);
// Preprocessing as preprocess_for, and --limit N (the first N samples; all without it).
DataOptions data_options_for(const Graph& graph, const Args& args);
// A recipe's inputs from the command line: the model, --data, --eval-data (--eval-limit, else
// --limit), --mean/--std, --device and the plugins' registry. The model's identity is left to
// ProjectCache.
RecipeInputs recipe_inputs(const Args& args, const std::string& model_path);
// Progress lines on stderr, only when stderr is a terminal.
JobControl terminal_progress(const std::string& label);
// The graph to run for --config CONFIG.json: the simulation graph (or `graph` unchanged
// without --config). Sets `quantized` when a configuration was applied.
Graph graph_for_config(const Graph& graph, const Args& args, QuantizedModel* quantized = nullptr);
// With --real: switches the device to its integer kernels, or throws Error when it has none.
void use_integer_kernels_if_asked(Device& device, const Args& args);
// "2,3,4" -> {2, 3, 4} for option --name; UsageError naming it otherwise.
std::vector<int> parse_bit_list(const std::string& name, const std::string& text);
// load_model(path), and one line on stderr when the model (not a language model) fixes its
// batch: the commands that read data then feed it that many samples at a time.
Graph load_model_for_data(const std::string& path);
// Exactly one positional argument (the model path), else a UsageError.
std::string single_model_argument(const Args& args);

}  // namespace qs::cli
