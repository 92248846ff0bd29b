// Helpers for the export tests (test_export_qdq.cpp, test_export_package.cpp): small models and
// their quantization, running the QDQ model against the simulation, reading its ONNX protobuf,
// a minimal zip reader written from the PKWARE APPNOTE, and scratch files.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "export/opset_upgrade.h"
#include "export/sha256.h"
#include "export/zip_writer.h"
#include "graph/onnx_proto.h"
#include "graph/onnx_write.h"
#include "model_builder.h"
#include "quantscope/error.h"
#include "quantscope/export.h"
#include "quantscope/export_package.h"
#include "quantscope/model.h"
#include "quantscope/npy.h"
#include "quantscope/quant.h"
#include "quantscope/registry.h"
#include "random_dataset.h"

namespace export_test {

using namespace qs;
using qs::test::ModelBuilder;
namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Helpers

using qs::test::random_values;

inline TensorMap run_cpu_ref(const Graph& g, const TensorMap& inputs) {
  auto device = make_default_registry().create_device("cpu-ref");
  auto compiled = device->compile(g);
  return compiled->run(inputs);
}

// Every output of `expected` is in `actual`, same shape, within rel x (max - min of expected).
inline void expect_outputs_match(const TensorMap& expected, const TensorMap& actual, double rel,
                                 const std::string& what) {
  for (const auto& [name, e] : expected) {
    auto it = actual.find(name);
    ASSERT_NE(it, actual.end()) << what << ": output '" << name << "' missing";
    const Tensor& a = it->second;
    ASSERT_EQ(a.shape(), e.shape()) << what << ": output '" << name << "'";
    const std::vector<float> ev = e.to_f32(), av = a.to_f32();
    ASSERT_FALSE(ev.empty());
    const auto [lo, hi] = std::minmax_element(ev.begin(), ev.end());
    const double range = double(*hi) - double(*lo);
    ASSERT_GT(range, 0.0) << what << ": output '" << name << "' is constant; a weak test";
    const double tol = rel * range;
    std::size_t bad = 0, first_bad = 0;
    double worst = 0;
    for (std::size_t i = 0; i < ev.size(); ++i) {
      const double d = std::abs(double(ev[i]) - double(av[i]));
      if (!(d <= tol)) {
        if (bad++ == 0) first_bad = i;
      }
      worst = std::max(worst, d);
    }
    EXPECT_EQ(bad, 0u) << what << ": output '" << name << "': " << bad << " of " << ev.size()
                       << " elements differ by more than " << tol << " (range " << range
                       << "); worst " << worst << "; first at " << first_bad << ": expected "
                       << ev[first_bad] << ", got " << av[first_bad];
  }
}

enum class ReluReaders { only_maxpool, also_graph_output, also_add };

// x[N,2,6,6] -> Conv(4, 3x3, pad 1) -> Relu(r) -> MaxPool(2x2, s2) -> Flatten -> Gemm(36 -> 5) -> y
// With also_graph_output, r is a second graph output; with also_add, Add(r, k) -> z is one.
inline Graph small_cnn(ReluReaders readers = ReluReaders::only_maxpool, bool trans_b = true) {
  ModelBuilder b(13);
  b.input("x", {-1, 2, 6, 6});
  b.initializer("w", {4, 2, 3, 3}, random_values(72, 1));
  b.initializer("b", {4}, random_values(4, 2));
  if (trans_b)
    b.initializer("fw", {5, 36}, random_values(180, 3, 0.2f));
  else
    b.initializer("fw", {36, 5}, random_values(180, 3, 0.2f));
  b.initializer("fb", {5}, random_values(5, 4));
  auto& conv = b.node("Conv", {"x", "w", "b"}, {"c"}, "conv");
  qs::test::set_attr(conv, "pads", std::vector<std::int64_t>{1, 1, 1, 1});
  b.node("Relu", {"c"}, {"r"}, "relu");
  auto& pool = b.node("MaxPool", {"r"}, {"m"}, "pool");
  qs::test::set_attr(pool, "kernel_shape", std::vector<std::int64_t>{2, 2});
  qs::test::set_attr(pool, "strides", std::vector<std::int64_t>{2, 2});
  b.node("Flatten", {"m"}, {"f"}, "flatten");
  auto& gemm = b.node("Gemm", {"f", "fw", "fb"}, {"y"}, "fc");
  if (trans_b) qs::test::set_attr(gemm, "transB", std::int64_t{1});
  b.output("y");
  if (readers == ReluReaders::also_graph_output) b.output("r");
  if (readers == ReluReaders::also_add) {
    b.initializer("k", {4, 1, 1}, random_values(4, 5));
    b.node("Add", {"r", "k"}, {"z"}, "add");
    b.output("z");
  }
  return b.load();
}

inline QuantizedModel quantize(const Graph& g, const QuantConfig& c) {
  qs::test::RandomDataset data(32, {2, 6, 6}, 7);
  auto device = make_default_registry().create_device("cpu-ref");
  return quantize_model(g, c, data, *device);
}

inline QuantConfig w8a8() {
  QuantConfig c;
  c.defaults.weight_bits = 8;
  c.defaults.act_bits = 8;
  c.defaults.calibrator = "minmax";
  return c;
}

inline TensorMap sample_inputs(std::int64_t n = 6, unsigned seed = 11) {
  qs::test::RandomDataset data(n, {2, 6, 6}, seed);
  return {{"x", data.read(0, n).inputs}};
}

// The reloaded QDQ file against the simulation, with and without constant folding at load (the
// latter runs every DequantizeLinear of the weights).
inline void expect_qdq_equals_simulation(const Graph& g, const QuantizedModel& q, const QdqModel& m,
                                         const std::string& what) {
  const TensorMap in = sample_inputs();
  const Graph sim = apply_quantization(g, q);
  const TensorMap expected = run_cpu_ref(sim, in);
  // The comparison can see quantization: the float model is far outside its tolerance.
  const TensorMap float_out = run_cpu_ref(g, in);
  for (const auto& [name, e] : expected) {
    const std::vector<float> ev = e.to_f32(), fv = float_out.at(name).to_f32();
    const auto [lo, hi] = std::minmax_element(ev.begin(), ev.end());
    double worst = 0;
    for (std::size_t i = 0; i < ev.size(); ++i)
      worst = std::max(worst, std::abs(double(ev[i]) - double(fv[i])));
    EXPECT_GT(worst, 1e-3 * (double(*hi) - double(*lo)))
        << what << ": output '" << name << "' is the float model's; a weak test";
  }
  for (bool fold : {false, true}) {
    LoadOptions options;
    options.fold_constants = fold;
    const Graph reloaded = load_model_from_bytes(m.onnx, "", "qdq.onnx", options);
    EXPECT_EQ(reloaded.opset, m.opset);
    expect_outputs_match(expected, run_cpu_ref(reloaded, in), 1e-5,
                         what + (fold ? " (folded at load)" : " (not folded)"));
  }
}

// A parsed ModelProto with lookups by tensor name.
struct Proto {
  onnx::ModelProto model;
  std::map<std::string, const onnx::NodeProto*> producer;
  std::map<std::string, const onnx::TensorProto*> init;

  explicit Proto(const std::string& bytes) {
    if (!model.ParseFromString(bytes)) throw std::runtime_error("not a ModelProto");
    for (const auto& n : model.graph().node())
      for (const auto& o : n.output()) producer[o] = &n;
    for (const auto& t : model.graph().initializer()) init[t.name()] = &t;
  }
  const onnx::GraphProto& graph() const { return model.graph(); }
  std::int64_t opset() const {
    for (const auto& o : model.opset_import())
      if (o.domain().empty() || o.domain() == "ai.onnx") return o.version();
    return -1;
  }
  int count(const std::string& op) const {
    int k = 0;
    for (const auto& n : graph().node()) k += n.op_type() == op;
    return k;
  }
  const onnx::NodeProto* node(const std::string& name) const {
    for (const auto& n : graph().node())
      if (n.name() == name) return &n;
    return nullptr;
  }
  const onnx::NodeProto* made_by(const std::string& tensor) const {
    auto it = producer.find(tensor);
    return it == producer.end() ? nullptr : it->second;
  }
  const onnx::TensorProto* initializer(const std::string& name) const {
    auto it = init.find(name);
    return it == init.end() ? nullptr : it->second;
  }
};

inline const onnx::AttributeProto* attribute(const onnx::NodeProto& n, const std::string& name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

inline std::vector<std::int64_t> dims_of(const onnx::TensorProto& t) {
  return {t.dims().begin(), t.dims().end()};
}

template <typename T>
inline std::vector<T> raw_values(const onnx::TensorProto& t) {
  const std::string& raw = t.raw_data();
  if (raw.size() % sizeof(T) != 0) throw std::runtime_error(t.name() + ": odd raw_data size");
  std::vector<T> v(raw.size() / sizeof(T));
  std::memcpy(v.data(), raw.data(), raw.size());
  return v;
}

// int4 packed two per byte, low nibble first, sign-extended.
inline std::vector<int> unpack_int4(const onnx::TensorProto& t, std::size_t n) {
  std::vector<int> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto byte = static_cast<unsigned char>(t.raw_data().at(i / 2));
    const int nibble = i % 2 ? byte >> 4 : byte & 0x0F;
    v[i] = nibble >= 8 ? nibble - 16 : nibble;
  }
  return v;
}

// The weight matrix [rows, cols] of `w` in the weight tensor's own element order.
inline std::vector<int> codes_in_weight_order(const WeightQuantParams& w, bool transposed) {
  std::vector<int> out(w.codes.size());
  for (std::int64_t r = 0; r < w.rows; ++r)
    for (std::int64_t c = 0; c < w.cols; ++c)
      out[static_cast<std::size_t>(transposed ? c * w.rows + r : r * w.cols + c)] =
          w.codes[static_cast<std::size_t>(r * w.cols + c)];
  return out;
}

// ---------------------------------------------------------------------------------------------
// A minimal zip reader, written from the PKWARE APPNOTE, for the archives the writer makes.

struct ZipEntry {
  std::string name, data;
  std::uint32_t crc = 0;
};

inline std::uint32_t le16(const std::string& s, std::size_t at) {
  if (at + 2 > s.size())
    throw std::runtime_error("zip: read past the end at " + std::to_string(at));
  return std::uint32_t(static_cast<unsigned char>(s[at])) |
         std::uint32_t(static_cast<unsigned char>(s[at + 1])) << 8;
}
inline std::uint32_t le32(const std::string& s, std::size_t at) {
  return le16(s, at) | le16(s, at + 2) << 16;
}

inline void zip_check(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("zip: " + what);
}

inline std::vector<ZipEntry> parse_zip(const std::string& z) {
  zip_check(z.size() >= 22, "shorter than an end record");
  const std::size_t eocd = z.size() - 22;  // the writer adds no comment
  zip_check(le32(z, eocd) == 0x06054b50, "no end of central directory record");
  zip_check(le16(z, eocd + 4) == 0 && le16(z, eocd + 6) == 0, "multi-disk numbers");
  const std::uint32_t on_disk = le16(z, eocd + 8), total = le16(z, eocd + 10);
  zip_check(on_disk == total, "entry counts differ");
  const std::uint32_t cd_size = le32(z, eocd + 12), cd_offset = le32(z, eocd + 16);
  zip_check(le16(z, eocd + 20) == 0, "comment length");
  zip_check(std::size_t{cd_offset} + cd_size == eocd, "central directory is not before the end");

  std::vector<ZipEntry> entries;
  std::size_t at = cd_offset, next_local = 0;
  for (std::uint32_t i = 0; i < total; ++i) {
    zip_check(le32(z, at) == 0x02014b50, "central record " + std::to_string(i) + " signature");
    zip_check(le16(z, at + 6) == 20, "version needed");
    const std::uint32_t flags = le16(z, at + 8), method = le16(z, at + 10);
    const std::uint32_t crc = le32(z, at + 16), csize = le32(z, at + 20), usize = le32(z, at + 24);
    const std::uint32_t nlen = le16(z, at + 28), xlen = le16(z, at + 30), clen = le16(z, at + 32);
    const std::uint32_t offset = le32(z, at + 42);
    zip_check(at + 46 + nlen <= z.size(), "central name past the end");
    const std::string name = z.substr(at + 46, nlen);
    zip_check(method == 0 && csize == usize, "'" + name + "' is not stored");
    zip_check(flags == 0x0800, "'" + name + "' flags");
    zip_check(offset == next_local, "'" + name + "' local header not contiguous");
    // The local header repeats what the central record says.
    zip_check(le32(z, offset) == 0x04034b50, "'" + name + "' local signature");
    zip_check(le16(z, offset + 4) == 20, "local version needed");
    zip_check(le16(z, offset + 6) == flags && le16(z, offset + 8) == method, "local flags/method");
    zip_check(le16(z, offset + 10) == le16(z, at + 12) && le16(z, offset + 12) == le16(z, at + 14),
              "local time/date");
    zip_check(le32(z, offset + 14) == crc && le32(z, offset + 18) == csize &&
                  le32(z, offset + 22) == usize,
              "'" + name + "' local crc/sizes");
    const std::uint32_t lnlen = le16(z, offset + 26), lxlen = le16(z, offset + 28);
    zip_check(z.substr(offset + 30, lnlen) == name, "'" + name + "' local name");
    const std::size_t data_at = std::size_t{offset} + 30 + lnlen + lxlen;
    zip_check(data_at + csize <= cd_offset, "'" + name + "' data runs into the directory");
    entries.push_back({name, z.substr(data_at, csize), crc});
    next_local = data_at + csize;
    at += 46 + nlen + xlen + clen;
  }
  zip_check(next_local == cd_offset, "bytes between the last entry and the directory");
  zip_check(at == eocd, "central directory size");
  return entries;
}

inline std::uint32_t zlib_crc(const std::string& data) {
  return static_cast<std::uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

// ---------------------------------------------------------------------------------------------
// Files

class ScratchDir {
 public:
  ScratchDir() {
    std::string templ = (fs::temp_directory_path() / "qs_test_export_XXXXXX").string();
    if (!mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
    path_ = templ;
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void spit(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

inline std::set<std::string> listing(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

// "HASH  FILE" lines as sha256sum writes them.
inline std::vector<std::pair<std::string, std::string>> checksum_lines(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() < 67 || line.substr(64, 2) != "  ")
      throw std::runtime_error("checksums.sha256: malformed line '" + line + "'");
    out.emplace_back(line.substr(0, 64), line.substr(66));
  }
  return out;
}

}  // namespace export_test
