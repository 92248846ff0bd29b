#include "cli_common.h"

#include <unistd.h>

#include <cstdio>

#include "quantscope/device.h"
#include "quantscope/language_model.h"
#include "quantscope/model.h"
#include "quantscope/text_data.h"
#include "quantscope/tokenizer.h"

namespace qs::cli {

Registry& registry() {
  static Registry instance = make_default_registry();
  return instance;
}

std::unique_ptr<Device> open_device(const Args& args) {
  std::unique_ptr<Device> device = registry().create_device(args.get("device", "cpu-ref"));
  const DeviceStatus status = device->status();
  if (!status.usable)
    throw Error("device '" + device->name() + "' is not usable here: " + status.reason);
  return device;
}

Preprocess preprocess_for(const Graph& graph, const Args& args) {
  Preprocess p = preprocess_from_model(graph);
  if (args.has("mean")) p.mean = args.get_floats("mean");
  if (args.has("std")) p.std = args.get_floats("std");
  for (float s : p.std)
    if (s == 0.0f) throw UsageError{"--std values must not be zero"};
  return p;
}

DataOptions data_options_for(const Graph& graph, const Args& args) {
  DataOptions options;
  options.preprocess = preprocess_for(graph, args);
  options.limit = args.get_int("limit", -1, 1);
  return options;
}

RecipeInputs recipe_inputs(const Args& args, const std::string& model_path) {
  RecipeInputs in;
  in.graph = std::make_shared<const Graph>(load_model_for_data(model_path));
  const DataOptions options = data_options_for(*in.graph, args);
  in.calibration = args.get("data");
  in.evaluation = args.get("eval-data");
  in.preprocess = options.preprocess;
  in.limit = options.limit;
  in.eval_limit = args.has("eval-limit") ? args.get_int("eval-limit", -1, 1) : options.limit;
  in.device = args.get("device", "cpu-ref");
  in.registry = &registry();
  if (is_text_spec(in.calibration) || is_text_spec(in.evaluation)) {
    in.tokenizer = args.has("tokenizer") ? args.get("tokenizer") : tokenizer_beside(model_path);
    if (!args.has("tokenizer") && !in.tokenizer.empty())
      std::fprintf(stderr, "note: tokenizer %s (beside the model; --tokenizer FILE for another)\n",
                   in.tokenizer.c_str());
    in.context = args.get_int("context", 256, 2);
  }
  return in;
}

JobControl terminal_progress(const std::string& label) {
  JobControl job;
  if (isatty(STDERR_FILENO)) {
    job.progress = [label](double fraction, const std::string& message) {
      std::fprintf(stderr, "\r%s: %3.0f%% %s\033[K", label.c_str(), 100.0 * fraction,
                   message.c_str());
      if (fraction >= 1.0) std::fprintf(stderr, "\n");
      std::fflush(stderr);
    };
  }
  return job;
}

Graph graph_for_config(const Graph& graph, const Args& args, QuantizedModel* quantized) {
  if (!args.has("config")) {
    if (args.flag("real")) throw UsageError{"--real needs --config CONFIG.json"};
    return graph;
  }
  QuantizedModel q = load_quantized_model(args.get("config"));
  if (q.weights.empty() && q.activations.empty())
    throw Error("configuration '" + args.get("config") +
                "' holds settings only, no calibrated parameters: make it with "
                "'quantscope-cli quantize'");
  Graph g = apply_quantization(graph, q);
  if (quantized) *quantized = std::move(q);
  return g;
}

void use_integer_kernels_if_asked(Device& device, const Args& args) {
  if (!args.flag("real")) return;
  if (!device.use_integer_kernels(true)) {
    const auto env = device.environment();
    const auto why = env.find("integer_kernels");
    throw Error("device '" + device.name() + "' has no integer kernels" +
                (why != env.end() ? " here: " + why->second : std::string()) +
                "; run the simulation (without --real)" +
                (device.name() == "cpu-onednn" ? "" : " or use --device cpu-onednn"));
  }
}

std::vector<int> parse_bit_list(const std::string& name, const std::string& text) {
  std::vector<int> bits;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    if (item.empty() || item.size() > 2 ||
        item.find_first_not_of("0123456789") != std::string::npos)
      throw UsageError{"--" + name + " takes numbers separated by commas, got '" + text + "'"};
    bits.push_back(std::stoi(item));
    start = comma + 1;
  }
  return bits;
}

Graph load_model_for_data(const std::string& path) {
  Graph g = load_model(path);
  if (const std::int64_t batch = fixed_batch(g); batch > 0 && !decoder_layout(g))
    std::fprintf(stderr,
                 "note: %s fixes its batch to %lld (input '%s' %s): samples go in %lld at a time\n",
                 path.c_str(), static_cast<long long>(batch), g.inputs[0].name.c_str(),
                 shape_to_string(g.inputs[0].shape).c_str(), static_cast<long long>(batch));
  return g;
}

std::string single_model_argument(const Args& args) {
  if (args.positional().size() != 1)
    throw UsageError{args.positional().empty()
                         ? "missing MODEL"
                         : "expected one MODEL, got " + std::to_string(args.positional().size()) +
                               " arguments"};
  return args.positional()[0];
}

}  // namespace qs::cli
