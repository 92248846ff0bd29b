// The bodies of the fuzz targets, shared by the libFuzzer programs (tests/fuzz/fuzz_*.cpp)
// and the unit test that replays every regression file in tests/fuzz/regressions/<target>/.
// Each returns 0; bad input must end in qs::Error, never in a crash.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "fuzz_file_util.h"
#include "quantscope/dataset.h"
#include "quantscope/executor.h"
#include "quantscope/export.h"
#include "quantscope/model.h"
#include "quantscope/npy.h"
#include "quantscope/project.h"
#include "quantscope/quant.h"
#include "quantscope/results_json.h"

namespace qs_fuzz {

// Fuzz target: ONNX bytes -> a runnable graph (parse, validation, folding, shape inference),
// then one run on small zero inputs when the model declares small static shapes.
inline int onnx_import(const std::uint8_t* data, std::size_t size) {
  qs::set_max_tensor_bytes(std::size_t{1} << 24);  // bounded memory and time per input
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  qs::LoadOptions options;
  options.max_bytes = std::int64_t{1} << 26;  // keep each input's memory bounded
  try {
    qs::Graph g = qs::load_model_from_bytes(bytes, "", "fuzz.onnx", options);
    qs::TensorMap inputs;
    std::int64_t total = 0;
    for (const qs::ValueInfo& in : g.inputs) {
      qs::Shape shape = in.shape;
      for (auto& d : shape)
        if (d < 0) d = 1;
      total += qs::shape_numel(shape);
      if (total > (1 << 16)) return 0;
      inputs[in.name] = qs::Tensor(in.dtype, shape);
    }
    qs::ReferenceExecutor(g).run(inputs);
  } catch (const qs::Error&) {
  }
  return 0;
}

// Fuzz target: a QDQ model (or, starting with "PK", a package .zip) -> import_qdq, then the
// simulation graph of what it recovered.
inline int qdq_import(const std::uint8_t* data, std::size_t size) {
  qs::set_max_tensor_bytes(std::size_t{1} << 24);
  const bool zip = size >= 2 && data[0] == 'P' && data[1] == 'K';
  const std::string path = fuzz_input_file(data, size, zip ? ".zip" : ".onnx");
  try {
    const qs::QdqImport r = qs::import_qdq(path);
    qs::apply_quantization(r.graph, r.quantized);
  } catch (const qs::Error&) {
  }
  return 0;
}

// Fuzz target: .npy bytes -> read_npy, and the same file as an npy dataset read in batches.
inline int npy(const std::uint8_t* data, std::size_t size) {
  const std::string path = fuzz_input_file(data, size, ".npy");
  try {
    qs::read_npy(path);
  } catch (const qs::Error&) {
  }
  try {
    auto ds = qs::open_dataset("npy:" + path, {});
    for (std::int64_t i = 0; i < std::min<std::int64_t>(ds->size(), 64); i += 16)
      ds->read(i, std::min<std::int64_t>(16, ds->size() - i));
  } catch (const qs::Error&) {
  }
  return 0;
}

// Fuzz target: .npz (zip) bytes -> read_npz.
inline int npz(const std::uint8_t* data, std::size_t size) {
  const std::string path = fuzz_input_file(data, size, ".npz");
  try {
    qs::read_npz(path);
  } catch (const qs::Error&) {
  }
  return 0;
}

// Fuzz target: IDX image bytes (plain or gzip, told apart by the reader) -> a dataset read in
// batches, with resizing to 8x8 to cover the preprocessing path.
inline int idx(const std::uint8_t* data, std::size_t size) {
  const std::string path = fuzz_input_file(data, size, ".idx");
  for (std::int64_t side : {0, 8}) {
    try {
      qs::DataOptions options;
      options.preprocess.height = options.preprocess.width = side;
      auto ds = qs::open_dataset("idx:" + path, options);
      for (std::int64_t i = 0; i < std::min<std::int64_t>(ds->size(), 32); i += 8)
        ds->read(i, std::min<std::int64_t>(8, ds->size() - i));
    } catch (const qs::Error&) {
    }
  }
  return 0;
}

// Fuzz target: image bytes (PNG or JPEG by their magic) -> a folder dataset of one image,
// decoded and resized to 16x16 RGB.
inline int image(const std::uint8_t* data, std::size_t size) {
  const std::filesystem::path dir = "/tmp/qs-fuzz-images-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir / "class");
  const bool png = size >= 4 && data[0] == 0x89 && data[1] == 'P';
  const std::string file = (dir / "class" / (png ? "x.png" : "x.jpg")).string();
  std::filesystem::remove(dir / "class" / "x.png");
  std::filesystem::remove(dir / "class" / "x.jpg");
  std::ofstream(file, std::ios::binary)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  try {
    qs::DataOptions options;
    options.preprocess.channels = 3;
    options.preprocess.height = options.preprocess.width = 16;
    auto ds = qs::open_dataset("folder:" + dir.string(), options);
    ds->read(0, ds->size());
  } catch (const qs::Error&) {
  }
  return 0;
}

// Fuzz target: quantization configuration JSON -> parsed, validated against the bundled LeNet,
// and applied to it (the simulation graph is built, not run).
inline int quant_config(const std::uint8_t* data, std::size_t size) {
  static const qs::Graph* lenet = [] {
    try {
      return new qs::Graph(qs::load_model(std::string(QS_FUZZ_MODELS_DIR) + "/lenet.onnx"));
    } catch (const qs::Error&) {
      return static_cast<qs::Graph*>(nullptr);
    }
  }();
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const qs::QuantizedModel q = qs::quantized_model_from_json(text);
    qs::quantized_model_to_json(q);
    if (lenet) {
      qs::config_problems(q.config, *lenet);
      qs::model_size_bytes(*lenet, &q);
      qs::apply_quantization(*lenet, q);
    }
  } catch (const qs::Error&) {
  }
  return 0;
}

// Fuzz target: a project file -> parsed and written again; its cached results (and the whole
// input) through the readers of sensitivity sweeps, Hessian traces and search results.
inline int project(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto results = [](const std::string& json) {
    try {
      qs::sensitivity_to_json(qs::sensitivity_from_json(json, "fuzz"));
    } catch (const qs::Error&) {
    }
    try {
      qs::hessian_to_json(qs::hessian_from_json(json, "fuzz"));
    } catch (const qs::Error&) {
    }
    try {
      qs::search_result_to_json(qs::search_result_from_json(json, "fuzz"));
    } catch (const qs::Error&) {
    }
  };
  try {
    const qs::Project p = qs::project_from_json(text, "fuzz.qsproj", "/nonexistent/project");
    qs::project_to_json(p, "/nonexistent/project");
    for (const qs::CachedResult& c : p.cache) {
      qs::find_cached(p, c.kind, c.key);
      results(c.json);
    }
  } catch (const qs::Error&) {
  }
  results(text);
  return 0;
}

}  // namespace qs_fuzz
