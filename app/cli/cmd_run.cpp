// quantscope-cli run: raw tensors in, raw tensors out (.npy).
#include <filesystem>

#include "cli_common.h"
#include "quantscope/device.h"
#include "quantscope/executor.h"
#include "quantscope/model.h"
#include "quantscope/npy.h"

namespace qs::cli {

namespace fs = std::filesystem;

namespace {

// Output names may hold characters that are not safe in file names ("/" in TF exports).
std::string file_name_for(const std::string& tensor_name) {
  std::string s = tensor_name;
  for (char& ch : s)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.'))
      ch = '_';
  if (s.empty() || s == "." || s == "..") s = "output";
  return s + ".npy";
}

}  // namespace

int cmd_run(const std::vector<std::string>& argv) {
  Args args(argv,
            {{"input", "[NAME=]FILE.npy",
              "a float32 input (a bare FILE feeds the first input; repeatable)"},
             {"output", "PATH",
              "where the outputs go: a .npy file for one output, else a folder of <name>.npy"},
             common("device"),
             common("config"),
             common("real")});
  const std::string path = single_model_argument(args);
  if (!args.has("input")) throw UsageError{"missing --input FILE.npy"};
  if (!args.has("output")) throw UsageError{"missing --output PATH"};
  std::unique_ptr<Device> device = open_device(args);
  const Graph g = graph_for_config(load_model_for_data(path), args);
  use_integer_kernels_if_asked(*device, args);
  if (g.inputs.empty()) throw Error("the model has no runtime inputs");

  TensorMap inputs;
  for (const std::string& spec : args.all("input")) {
    std::string name = g.inputs[0].name, file = spec;
    if (auto eq = spec.find('='); eq != std::string::npos && !fs::exists(spec)) {
      name = spec.substr(0, eq);
      file = spec.substr(eq + 1);
    }
    if (inputs.count(name)) throw UsageError{"input '" + name + "' is given twice"};
    inputs[name] = read_npy(file);
  }
  TensorMap outputs = compile_any_batch(*device, g)->run(inputs);

  const std::string out = args.get("output");
  const bool to_folder =
      g.outputs.size() > 1 || fs::is_directory(out) || (!out.empty() && out.back() == '/');
  if (!to_folder) {
    write_npy(out, outputs.at(g.outputs[0].name));
    return 0;
  }
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) throw Error(out + ": cannot create the folder: " + ec.message());
  for (const ValueInfo& o : g.outputs)
    write_npy((fs::path(out) / file_name_for(o.name)).string(), outputs.at(o.name));
  return 0;
}

}  // namespace qs::cli
