// Export: SHA-256 and the zip writer against their standards, the QDQ model against the
// simulation it stands for (reloaded and run), opset handling, and the deployment package's
// folder and .zip outputs.
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

using namespace qs;
using qs::test::ModelBuilder;
namespace fs = std::filesystem;

namespace {

// ---------------------------------------------------------------------------------------------
// Helpers

using qs::test::random_values;

TensorMap run_cpu_ref(const Graph& g, const TensorMap& inputs) {
  auto device = make_default_registry().create_device("cpu-ref");
  auto compiled = device->compile(g);
  return compiled->run(inputs);
}

// Every output of `expected` is in `actual`, same shape, within rel x (max - min of expected).
void expect_outputs_match(const TensorMap& expected, const TensorMap& actual, double rel,
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
Graph small_cnn(ReluReaders readers = ReluReaders::only_maxpool, bool trans_b = true) {
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

QuantizedModel quantize(const Graph& g, const QuantConfig& c) {
  qs::test::RandomDataset data(32, {2, 6, 6}, 7);
  auto device = make_default_registry().create_device("cpu-ref");
  return quantize_model(g, c, data, *device);
}

QuantConfig w8a8() {
  QuantConfig c;
  c.defaults.weight_bits = 8;
  c.defaults.act_bits = 8;
  c.defaults.calibrator = "minmax";
  return c;
}

TensorMap sample_inputs(std::int64_t n = 6, unsigned seed = 11) {
  qs::test::RandomDataset data(n, {2, 6, 6}, seed);
  return {{"x", data.read(0, n).inputs}};
}

// The reloaded QDQ file against the simulation, with and without constant folding at load (the
// latter runs every DequantizeLinear of the weights).
void expect_qdq_equals_simulation(const Graph& g, const QuantizedModel& q, const QdqModel& m,
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

const onnx::AttributeProto* attribute(const onnx::NodeProto& n, const std::string& name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

std::vector<std::int64_t> dims_of(const onnx::TensorProto& t) {
  return {t.dims().begin(), t.dims().end()};
}

template <typename T>
std::vector<T> raw_values(const onnx::TensorProto& t) {
  const std::string& raw = t.raw_data();
  if (raw.size() % sizeof(T) != 0) throw std::runtime_error(t.name() + ": odd raw_data size");
  std::vector<T> v(raw.size() / sizeof(T));
  std::memcpy(v.data(), raw.data(), raw.size());
  return v;
}

// int4 packed two per byte, low nibble first, sign-extended.
std::vector<int> unpack_int4(const onnx::TensorProto& t, std::size_t n) {
  std::vector<int> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto byte = static_cast<unsigned char>(t.raw_data().at(i / 2));
    const int nibble = i % 2 ? byte >> 4 : byte & 0x0F;
    v[i] = nibble >= 8 ? nibble - 16 : nibble;
  }
  return v;
}

// The weight matrix [rows, cols] of `w` in the weight tensor's own element order.
std::vector<int> codes_in_weight_order(const WeightQuantParams& w, bool transposed) {
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

std::uint32_t le16(const std::string& s, std::size_t at) {
  if (at + 2 > s.size())
    throw std::runtime_error("zip: read past the end at " + std::to_string(at));
  return std::uint32_t(static_cast<unsigned char>(s[at])) |
         std::uint32_t(static_cast<unsigned char>(s[at + 1])) << 8;
}
std::uint32_t le32(const std::string& s, std::size_t at) {
  return le16(s, at) | le16(s, at + 2) << 16;
}

void zip_check(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("zip: " + what);
}

std::vector<ZipEntry> parse_zip(const std::string& z) {
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

std::uint32_t zlib_crc(const std::string& data) {
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

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void spit(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

std::set<std::string> listing(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

// "HASH  FILE" lines as sha256sum writes them.
std::vector<std::pair<std::string, std::string>> checksum_lines(const std::string& text) {
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

}  // namespace

// ---------------------------------------------------------------------------------------------
// SHA-256

TEST(ExportSha256, FipsVectors) {
  using exporter::sha256_hex;
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(
      sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklm"
                 "nopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
      "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

TEST(ExportSha256, MillionAInUnevenChunks) {
  const std::string million(1000000, 'a');
  const std::string expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
  EXPECT_EQ(exporter::sha256_hex(million), expected);
  exporter::Sha256 s;
  std::size_t at = 0, step = 1;
  while (at < million.size()) {
    const std::size_t take = std::min(step, million.size() - at);
    s.update(million.data() + at, take);
    at += take;
    step = step * 7 % 1021 + 1;  // 1, 8, 57, ...: crosses every block boundary differently
  }
  EXPECT_EQ(s.hex_digest(), expected);
}

// Every message length around the padding boundaries (55, 56, 64 bytes) hashes the same fed
// whole or byte by byte, and a file hashes as its bytes.
TEST(ExportSha256, ChunkingAndFilesAgree) {
  std::mt19937 rng(3);
  std::string text;
  for (int len = 0; len <= 200; ++len) {
    const std::string whole = exporter::sha256_hex(text);
    exporter::Sha256 bytes;
    for (char c : text) bytes.update(&c, 1);
    EXPECT_EQ(bytes.hex_digest(), whole) << "length " << len;
    text += static_cast<char>(rng() & 0xFF);
  }
  ScratchDir dir;
  const fs::path file = dir.path() / "f.bin";
  std::string big(3 * 65536 + 17, '\0');
  for (char& c : big) c = static_cast<char>(rng() & 0xFF);
  spit(file, big);
  EXPECT_EQ(exporter::sha256_file(file.string()), exporter::sha256_hex(big));
  EXPECT_THROW(exporter::sha256_file((dir.path() / "missing").string()), Error);
}

// ---------------------------------------------------------------------------------------------
// zip

TEST(ExportZip, EntriesReadBackWithZlibCrc) {
  std::string binary(300, '\0');
  for (std::size_t i = 0; i < binary.size(); ++i) binary[i] = static_cast<char>(i * 37 + 1);
  const std::vector<std::pair<std::string, std::string>> entries = {
      {"model.onnx", binary},
      {"empty.txt", ""},
      {"selfcheck/deep/name.json", "{\"a\": 1}\n"},
      {"caf\xc3\xa9.txt", "utf-8 name"},
  };
  const std::string z = exporter::zip_archive(entries);
  const std::vector<ZipEntry> back = parse_zip(z);
  ASSERT_EQ(back.size(), entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(back[i].name, entries[i].first);
    EXPECT_EQ(back[i].data.size(), entries[i].second.size()) << back[i].name;
    EXPECT_EQ(back[i].data, entries[i].second) << back[i].name;
    EXPECT_EQ(back[i].crc, zlib_crc(entries[i].second)) << back[i].name;
  }
  EXPECT_EQ(back[1].crc, 0u);  // crc32 of nothing
  // Stored, so the archive is the data plus fixed-size headers: 30 + 46 per entry, names twice.
  std::size_t expected_size = 22;
  for (const auto& [name, data] : entries) expected_size += 30 + 46 + 2 * name.size() + data.size();
  EXPECT_EQ(z.size(), expected_size);
  // Deterministic: the same entries give the same bytes.
  EXPECT_EQ(exporter::zip_archive(entries), z);
}

TEST(ExportZip, EmptyArchiveIsJustTheEndRecord) {
  const std::string z = exporter::zip_archive({});
  EXPECT_EQ(z.size(), 22u);
  EXPECT_TRUE(parse_zip(z).empty());
}

// ---------------------------------------------------------------------------------------------
// QDQ export at W8A8

TEST(ExportQdq, FoldsReluAndMatchesSimulation) {
  const Graph g = small_cnn();
  const QuantizedModel q = quantize(g, w8a8());
  ASSERT_EQ(q.activations.count("x"), 1u);
  ASSERT_EQ(q.activations.count("f"), 1u);
  const QdqModel m = export_qdq(g, q);
  EXPECT_EQ(m.opset, 13);
  EXPECT_EQ(m.folded_activations, 1);
  expect_qdq_equals_simulation(g, q, m, "W8A8 folded");
  for (std::int64_t bad : {12, 22}) {
    QdqExportOptions o;
    o.opset = bad;
    EXPECT_THROW(export_qdq(g, q, o), Error) << "opset " << bad;
  }

  const Proto p(m.onnx);
  EXPECT_EQ(p.opset(), 13);
  EXPECT_EQ(p.count("Relu"), 0);
  EXPECT_EQ(p.count("QuantizeLinear"), m.quantize_nodes);
  EXPECT_EQ(p.count("DequantizeLinear"), m.dequantize_nodes);
  // x, f, and the same grid as f before Flatten and before MaxPool.
  EXPECT_EQ(m.quantize_nodes, 4);
  // Those four, and the weights and biases of conv and fc.
  EXPECT_EQ(m.dequantize_nodes, 8);
  for (const auto& n : p.graph().node()) {
    EXPECT_TRUE(n.domain().empty() || n.domain() == "ai.onnx") << n.name() << " " << n.domain();
    for (const auto& a : n.attribute())
      EXPECT_NE(a.name().rfind("qs.", 0), 0u) << n.name() << " keeps " << a.name();
  }

  // MaxPool and Flatten read a Q -> DQ pair on f's grid; MaxPool's comes straight from Conv.
  const float f_scale = q.activations.at("f").scale;
  for (const std::string name : {"pool", "flatten"}) {
    const onnx::NodeProto* n = p.node(name);
    ASSERT_NE(n, nullptr) << name;
    const onnx::NodeProto* dq = p.made_by(n->input(0));
    ASSERT_NE(dq, nullptr) << name;
    ASSERT_EQ(dq->op_type(), "DequantizeLinear") << name;
    const onnx::NodeProto* ql = p.made_by(dq->input(0));
    ASSERT_NE(ql, nullptr) << name;
    ASSERT_EQ(ql->op_type(), "QuantizeLinear") << name;
    const onnx::TensorProto* s = p.initializer(ql->input(1));
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(raw_values<float>(*s).at(0), f_scale) << name;
    const onnx::TensorProto* zp = p.initializer(ql->input(2));
    ASSERT_NE(zp, nullptr);
    EXPECT_EQ(zp->data_type(), onnx::TensorProto::UINT8);
    EXPECT_EQ(int(raw_values<std::uint8_t>(*zp).at(0)), q.activations.at("f").zero_point);
    if (name == "pool") {
      const onnx::NodeProto* conv = p.made_by(ql->input(0));
      ASSERT_NE(conv, nullptr);
      EXPECT_EQ(conv->op_type(), "Conv") << "the Relu between Conv and MaxPool is not folded";
    }
  }

  // Weights: int8 codes as initializers, per-channel DequantizeLinear with axis.
  struct WeightCase {
    std::string node;
    std::int64_t axis;
    std::vector<std::int64_t> dims;
  };
  for (const WeightCase& c : {WeightCase{"conv", 0, {4, 2, 3, 3}}, WeightCase{"fc", 0, {5, 36}}}) {
    const onnx::NodeProto* n = p.node(c.node);
    ASSERT_NE(n, nullptr);
    const WeightQuantParams& wq = q.weights.at(c.node);
    const onnx::NodeProto* dq = p.made_by(n->input(1));
    ASSERT_NE(dq, nullptr) << c.node;
    ASSERT_EQ(dq->op_type(), "DequantizeLinear") << c.node;
    const onnx::AttributeProto* axis = attribute(*dq, "axis");
    ASSERT_NE(axis, nullptr) << c.node;
    EXPECT_EQ(axis->i(), c.axis) << c.node;
    const onnx::TensorProto* codes = p.initializer(dq->input(0));
    ASSERT_NE(codes, nullptr) << c.node;
    EXPECT_EQ(codes->data_type(), onnx::TensorProto::INT8) << c.node;
    EXPECT_EQ(dims_of(*codes), c.dims) << c.node;
    const std::vector<std::int8_t> stored = raw_values<std::int8_t>(*codes);
    EXPECT_EQ(std::vector<int>(stored.begin(), stored.end()), codes_in_weight_order(wq, false))
        << c.node;
    const onnx::TensorProto* scales = p.initializer(dq->input(1));
    ASSERT_NE(scales, nullptr);
    EXPECT_EQ(raw_values<float>(*scales), wq.scales) << c.node;

    // Bias: int32 codes on scale = x scale x weight scale, read by a DequantizeLinear.
    const onnx::NodeProto* bdq = p.made_by(n->input(2));
    ASSERT_NE(bdq, nullptr) << c.node;
    ASSERT_EQ(bdq->op_type(), "DequantizeLinear") << c.node;
    const onnx::TensorProto* bcodes = p.initializer(bdq->input(0));
    ASSERT_NE(bcodes, nullptr);
    EXPECT_EQ(bcodes->data_type(), onnx::TensorProto::INT32);
    const std::string x_name = c.node == "conv" ? "x" : "f";
    const std::string b_name = c.node == "conv" ? "b" : "fb";
    const float x_scale = q.activations.at(x_name).scale;
    const std::vector<float> bias = g.initializers.at(b_name).to_f32();
    const std::vector<std::int32_t> got = raw_values<std::int32_t>(*bcodes);
    ASSERT_EQ(got.size(), bias.size());
    for (std::size_t r = 0; r < bias.size(); ++r)
      EXPECT_EQ(got[r], static_cast<std::int32_t>(
                            std::nearbyint(double(bias[r]) / double(x_scale * wq.scales[r]))))
          << c.node << " bias " << r;
  }
  // No float copy of the weights stays in the file.
  EXPECT_EQ(p.initializer("w"), nullptr);
  EXPECT_EQ(p.initializer("fw"), nullptr);
  for (const auto& t : p.graph().initializer()) {
    if (t.data_type() == onnx::TensorProto::FLOAT) {
      EXPECT_LE(t.raw_data().size(), 5 * sizeof(float)) << t.name() << " looks like a weight";
    }
  }
}

TEST(ExportQdq, ReluWithAnotherReaderIsKept) {
  for (ReluReaders readers : {ReluReaders::also_graph_output, ReluReaders::also_add}) {
    const std::string what =
        readers == ReluReaders::also_add ? "relu read by Add" : "relu is a graph output";
    const Graph g = small_cnn(readers);
    const QuantizedModel q = quantize(g, w8a8());
    const QdqModel m = export_qdq(g, q);
    EXPECT_EQ(m.folded_activations, 0) << what;
    const Proto p(m.onnx);
    EXPECT_EQ(p.count("Relu"), 1) << what;
    const onnx::NodeProto* pool = p.node("pool");
    ASSERT_NE(pool, nullptr);
    EXPECT_EQ(pool->input(0), "r") << what;
    const onnx::NodeProto* relu = p.made_by("r");
    ASSERT_NE(relu, nullptr) << what;
    EXPECT_EQ(relu->op_type(), "Relu") << what;
    expect_qdq_equals_simulation(g, q, m, what);
  }
}

TEST(ExportQdq, GemmWithoutTransposeUsesAxisOne) {
  const Graph g = small_cnn(ReluReaders::only_maxpool, /*trans_b=*/false);
  const QuantizedModel q = quantize(g, w8a8());
  const QdqModel m = export_qdq(g, q);
  const Proto p(m.onnx);
  const onnx::NodeProto* fc = p.node("fc");
  ASSERT_NE(fc, nullptr);
  const onnx::NodeProto* dq = p.made_by(fc->input(1));
  ASSERT_NE(dq, nullptr);
  ASSERT_NE(attribute(*dq, "axis"), nullptr);
  EXPECT_EQ(attribute(*dq, "axis")->i(), 1);
  const onnx::TensorProto* codes = p.initializer(dq->input(0));
  ASSERT_NE(codes, nullptr);
  EXPECT_EQ(dims_of(*codes), (std::vector<std::int64_t>{36, 5}));
  const std::vector<std::int8_t> stored = raw_values<std::int8_t>(*codes);
  EXPECT_EQ(std::vector<int>(stored.begin(), stored.end()),
            codes_in_weight_order(q.weights.at("fc"), true));
  expect_qdq_equals_simulation(g, q, m, "W8A8 Gemm transB=0");
}

// ---------------------------------------------------------------------------------------------
// Opsets

TEST(ExportQdq, FourBitWeightsNeedOpset21OrInt8Storage) {
  const Graph g = small_cnn();
  QuantConfig c = w8a8();
  c.defaults.weight_bits = 4;
  const QuantizedModel q = quantize(g, c);

  const QdqModel m21 = export_qdq(g, q);
  EXPECT_EQ(m21.opset, 21);
  const Proto p21(m21.onnx);
  EXPECT_EQ(p21.opset(), 21);
  EXPECT_EQ(p21.model.ir_version(), 10);
  for (const std::string node : {"conv", "fc"}) {
    const onnx::NodeProto* n = p21.node(node);
    ASSERT_NE(n, nullptr);
    const onnx::NodeProto* dq = p21.made_by(n->input(1));
    ASSERT_NE(dq, nullptr);
    const onnx::TensorProto* codes = p21.initializer(dq->input(0));
    ASSERT_NE(codes, nullptr);
    EXPECT_EQ(codes->data_type(), 22) << node;  // INT4
    const WeightQuantParams& wq = q.weights.at(node);
    const std::size_t n_codes = wq.codes.size();
    EXPECT_EQ(codes->raw_data().size(), (n_codes + 1) / 2) << node;
    EXPECT_EQ(unpack_int4(*codes, n_codes), codes_in_weight_order(wq, false)) << node;
    const onnx::TensorProto* zp = p21.initializer(dq->input(2));
    ASSERT_NE(zp, nullptr);
    EXPECT_EQ(zp->data_type(), 22) << node << " zero point";
  }
  for (const std::string& note : m21.notes)
    EXPECT_EQ(note.find("stored as int8"), std::string::npos) << note;

  QdqExportOptions o17;
  o17.opset = 17;
  const QdqModel m17 = export_qdq(g, q, o17);
  EXPECT_EQ(m17.opset, 17);
  const Proto p17(m17.onnx);
  EXPECT_EQ(p17.opset(), 17);
  for (const auto& t : p17.graph().initializer()) EXPECT_NE(t.data_type(), 22) << t.name();
  bool int8_note = false;
  for (const std::string& note : m17.notes)
    int8_note = int8_note || note.find("int8") != std::string::npos;
  EXPECT_TRUE(int8_note) << "no note says the 4-bit weights are stored as int8";
  // Stored in int8, the engine reads it back: it computes the simulation.
  expect_qdq_equals_simulation(g, q, m17, "W4A8 at opset 17");
}

TEST(ExportQdq, PerGroupWeightsNeedOpset21) {
  for (bool trans_b : {true, false}) {
    const Graph g = small_cnn(ReluReaders::only_maxpool, trans_b);
    QuantConfig c = w8a8();
    c.defaults.granularity = QuantGranularity::per_group;
    c.defaults.group_size = 6;  // conv: 18 inputs per output, fc: 36
    const QuantizedModel q = quantize(g, c);
    ASSERT_EQ(q.weights.at("fc").groups_per_row, 6);

    QdqExportOptions o17;
    o17.opset = 17;
    try {
      export_qdq(g, q, o17);
      ADD_FAILURE() << "per-group weights exported at opset 17";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("opset 21"), std::string::npos) << e.what();
    }

    // At opset 21 (the default for them) 8-bit blocked weights read back, and compute the
    // simulation.
    const QdqModel m = export_qdq(g, q);
    EXPECT_EQ(m.opset, 21);
    const Proto p(m.onnx);
    const onnx::NodeProto* fc = p.node("fc");
    ASSERT_NE(fc, nullptr);
    const onnx::NodeProto* dq = p.made_by(fc->input(1));
    ASSERT_NE(dq, nullptr);
    ASSERT_NE(attribute(*dq, "block_size"), nullptr);
    EXPECT_EQ(attribute(*dq, "block_size")->i(), 6);
    EXPECT_EQ(attribute(*dq, "axis")->i(), trans_b ? 1 : 0);
    expect_qdq_equals_simulation(g, q, m,
                                 std::string("per-group W8A8, transB=") + (trans_b ? "1" : "0"));
  }
}

TEST(ExportQdq, SixteenBitActivationsUseUint16AtOpset21) {
  const Graph g = small_cnn();
  QuantConfig c = w8a8();
  c.defaults.act_bits = 16;
  const QuantizedModel q = quantize(g, c);
  const QdqModel m = export_qdq(g, q);
  EXPECT_EQ(m.opset, 21);
  const Proto p(m.onnx);
  int checked = 0;
  for (const auto& n : p.graph().node()) {
    if (n.op_type() != "QuantizeLinear" || n.input(0) != "x") continue;
    const onnx::TensorProto* zp = p.initializer(n.input(2));
    ASSERT_NE(zp, nullptr);
    EXPECT_EQ(zp->data_type(), onnx::TensorProto::UINT16);
    EXPECT_EQ(int(raw_values<std::uint16_t>(*zp).at(0)), q.activations.at("x").zero_point);
    ++checked;
  }
  EXPECT_EQ(checked, 1);
  QdqExportOptions o17;
  o17.opset = 17;
  EXPECT_THROW(export_qdq(g, q, o17), Error);
}

// Other weight and activation schemes: the reloaded file computes the simulation.
TEST(ExportQdq, OtherSchemesMatchSimulation) {
  const Graph g = small_cnn();
  struct Case {
    std::string name;
    QuantConfig config;
    std::int64_t opset;
  };
  std::vector<Case> cases;
  {
    QuantConfig c = w8a8();
    c.defaults.granularity = QuantGranularity::per_tensor;
    cases.push_back({"per-tensor W8A8", c, 0});
  }
  {
    QuantConfig c = w8a8();
    c.defaults.weight_symmetric = false;
    cases.push_back({"asymmetric weights W8A8", c, 0});
  }
  {
    QuantConfig c = w8a8();
    c.defaults.act_bits = 0;
    cases.push_back({"weight-only W8", c, 0});
  }
  {
    QuantConfig c = w8a8();
    c.defaults.act_bits = 0;
    c.defaults.weight_bits = 4;
    c.defaults.weight_symmetric = false;
    cases.push_back({"weight-only asymmetric W4 at opset 17", c, 17});
  }
  {
    QuantConfig c = w8a8();
    c.defaults.weight_bits = 2;
    cases.push_back({"W2A8 at opset 13", c, 13});
  }
  {
    QuantConfig c = w8a8();
    c.overrides["conv"] = parse_override("float");
    cases.push_back({"conv left in float", c, 0});
  }
  for (const Case& c : cases) {
    const QuantizedModel q = quantize(g, c.config);
    QdqExportOptions o;
    o.opset = c.opset;
    const QdqModel m = export_qdq(g, q, o);
    if (c.opset) {
      EXPECT_EQ(m.opset, c.opset) << c.name;
    }
    const Proto p(m.onnx);
    EXPECT_EQ(p.count("QuantizeLinear"), m.quantize_nodes) << c.name;
    EXPECT_EQ(p.count("DequantizeLinear"), m.dequantize_nodes) << c.name;
    expect_qdq_equals_simulation(g, q, m, c.name);
  }
}

// Symmetric activations use signed codes -127..127; ONNX's int8 QuantizeLinear also has -128, so
// the export says so, and inside the calibrated range the two agree.
TEST(ExportQdq, SymmetricActivationsAgreeInsideTheCalibratedRange) {
  const Graph g = small_cnn();
  QuantConfig c = w8a8();
  c.defaults.act_symmetric = true;
  const QuantizedModel q = quantize(g, c);
  ASSERT_TRUE(q.activations.at("x").is_signed);
  const QdqModel m = export_qdq(g, q);
  EXPECT_EQ(m.folded_activations, 0);  // the signed grid reaches below 0: Relu stays
  bool note = false;
  for (const std::string& n : m.notes) note = note || n.find("symmetric grid") != std::string::npos;
  EXPECT_TRUE(note);
  // The calibration samples themselves lie inside the (min-max) calibrated ranges.
  qs::test::RandomDataset data(32, {2, 6, 6}, 7);
  const TensorMap in = {{"x", data.read(0, 32).inputs}};
  const TensorMap expected = run_cpu_ref(apply_quantization(g, q), in);
  LoadOptions lo;
  lo.fold_constants = false;
  expect_outputs_match(expected, run_cpu_ref(load_model_from_bytes(m.onnx, "", "s.onnx", lo), in),
                       1e-5, "symmetric activations");
}

// x -> ConvTranspose(2 -> 3, 3x3) -> Clip(0, 6) -> Reshape([-1, 192]) -> MatMul(W[192, 5]) -> y
Graph transpose_matmul() {
  ModelBuilder b(13);
  b.input("x", {-1, 2, 6, 6});
  b.initializer("tw", {2, 3, 3, 3}, random_values(54, 12, 0.2f));
  b.initializer("tb", {3}, random_values(3, 13, 0.1f));
  b.initializer("lo", {}, {0.0f});
  b.initializer("hi", {}, {6.0f});
  b.initializer_i64("shape", {2}, {-1, 192});
  b.initializer("mw", {192, 5}, random_values(960, 14, 0.1f));
  b.node("ConvTranspose", {"x", "tw", "tb"}, {"t"}, "deconv");
  b.node("Clip", {"t", "lo", "hi"}, {"c"}, "clip");
  b.node("Reshape", {"c", "shape"}, {"f"}, "reshape");
  b.node("MatMul", {"f", "mw"}, {"y"}, "mm");
  b.output("y");
  return b.load();
}

TEST(ExportQdq, ConvTransposeClipReshapeMatMul) {
  const Graph g = transpose_matmul();
  const QuantizedModel q = quantize(g, w8a8());
  ASSERT_LT(q.activations.at("f").hi, 6.0f) << "the Clip's upper bound is reached; a weak test";
  const QdqModel m = export_qdq(g, q);
  EXPECT_EQ(m.folded_activations, 1);
  const Proto p(m.onnx);
  EXPECT_EQ(p.count("Clip"), 0);
  const onnx::NodeProto* reshape = p.node("reshape");
  ASSERT_NE(reshape, nullptr);
  const onnx::NodeProto* dq = p.made_by(reshape->input(0));
  ASSERT_NE(dq, nullptr);
  EXPECT_EQ(dq->op_type(), "DequantizeLinear");
  // ConvTranspose weights [C, M, k, k] are per output channel along axis 1; MatMul's [K, N] too.
  for (const std::string node : {"deconv", "mm"}) {
    const onnx::NodeProto* n = p.node(node);
    ASSERT_NE(n, nullptr);
    const onnx::NodeProto* w = p.made_by(n->input(1));
    ASSERT_NE(w, nullptr) << node;
    ASSERT_EQ(w->op_type(), "DequantizeLinear") << node;
    ASSERT_NE(attribute(*w, "axis"), nullptr) << node;
    EXPECT_EQ(attribute(*w, "axis")->i(), 1) << node;
  }
  expect_qdq_equals_simulation(g, q, m, "ConvTranspose/Clip/Reshape/MatMul");

  // MatMul per group (blocked along K, axis 0 of B) next to a per-channel ConvTranspose.
  QuantConfig c = w8a8();
  c.overrides["mm"].granularity = QuantGranularity::per_group;
  c.overrides["mm"].group_size = 16;
  const QuantizedModel qg = quantize(g, c);
  const QdqModel mg = export_qdq(g, qg);
  EXPECT_EQ(mg.opset, 21);
  const Proto pg(mg.onnx);
  const onnx::NodeProto* w = pg.made_by(pg.node("mm")->input(1));
  ASSERT_NE(w, nullptr);
  ASSERT_NE(attribute(*w, "block_size"), nullptr);
  EXPECT_EQ(attribute(*w, "block_size")->i(), 16);
  EXPECT_EQ(attribute(*w, "axis")->i(), 0);
  expect_qdq_equals_simulation(g, qg, mg, "per-group MatMul");
}

TEST(ExportOpsetUpgrade, ReduceMeanAxesMoveToAnInput) {
  ModelBuilder b(13);
  b.input("x", {2, 3, 4});
  auto& n = b.node("ReduceMean", {"x"}, {"y"}, "mean");
  qs::test::set_attr(n, "axes", std::vector<std::int64_t>{1, -1});
  qs::test::set_attr(n, "keepdims", std::int64_t{0});
  b.output("y");
  const Graph g13 = b.load();
  ASSERT_EQ(g13.opset, 13);
  Tensor x(DType::f32, {2, 3, 4});
  const std::vector<float> xv = random_values(24, 9, 1.0f);
  std::copy(xv.begin(), xv.end(), x.data<float>());
  const TensorMap before = run_cpu_ref(g13, {{"x", x}});

  Graph g18 = g13;
  exporter::upgrade_opset(g18, 18);
  EXPECT_EQ(g18.opset, 18);
  const Node* mean = g18.find_node("mean");
  ASSERT_NE(mean, nullptr);
  EXPECT_FALSE(mean->has_attr("axes"));
  ASSERT_TRUE(mean->has_input(1));
  auto it = g18.initializers.find(mean->inputs[1]);
  ASSERT_NE(it, g18.initializers.end());
  EXPECT_EQ(it->second.dtype(), DType::i64);
  EXPECT_EQ(it->second.to_i64(), (std::vector<std::int64_t>{1, -1}));
  const TensorMap after = run_cpu_ref(g18, {{"x", x}});
  ASSERT_EQ(after.at("y").shape(), (Shape{2}));
  EXPECT_EQ(after.at("y").to_f32(), before.at("y").to_f32());
  // Expected values computed here: the mean over axes 1 and 2.
  for (int i = 0; i < 2; ++i) {
    double sum = 0;
    for (int k = 0; k < 12; ++k) sum += xv[static_cast<std::size_t>(i * 12 + k)];
    EXPECT_NEAR(after.at("y").to_f32()[static_cast<std::size_t>(i)], sum / 12, 1e-5);
  }
  // Written at opset 18, the file loads and computes the same.
  OnnxWriteOptions w;
  w.opset = 18;
  const Graph reloaded = load_model_from_bytes(write_onnx(g18, w), "", "up.onnx");
  EXPECT_EQ(reloaded.opset, 18);
  EXPECT_EQ(run_cpu_ref(reloaded, {{"x", x}}).at("y").to_f32(), before.at("y").to_f32());

  // Downgrading is refused; upgrading to the same opset changes nothing.
  Graph down = g13;
  EXPECT_THROW(exporter::upgrade_opset(down, 12), Error);
  Graph same = g13;
  exporter::upgrade_opset(same, 13);
  ASSERT_NE(same.find_node("mean"), nullptr);
  EXPECT_TRUE(same.find_node("mean")->has_attr("axes"));
}

TEST(ExportOpsetUpgrade, ClipBoundsMoveToInputsAndChangedOpsAreRefused) {
  ModelBuilder b(10);
  b.input("x", {8});
  auto& n = b.node("Clip", {"x"}, {"y"}, "clip");
  qs::test::set_attr(n, "min", -0.25f);
  qs::test::set_attr(n, "max", 0.5f);
  b.output("y");
  const Graph g10 = b.load();
  Tensor x(DType::f32, {8});
  const std::vector<float> xv = random_values(8, 4, 1.0f);
  std::copy(xv.begin(), xv.end(), x.data<float>());
  Graph g13 = g10;
  exporter::upgrade_opset(g13, 13);
  const Node* clip = g13.find_node("clip");
  ASSERT_NE(clip, nullptr);
  EXPECT_FALSE(clip->has_attr("min"));
  EXPECT_FALSE(clip->has_attr("max"));
  ASSERT_EQ(clip->inputs.size(), 3u);
  const std::vector<float> y = run_cpu_ref(g13, {{"x", x}}).at("y").to_f32();
  for (std::size_t i = 0; i < xv.size(); ++i) EXPECT_EQ(y[i], std::clamp(xv[i], -0.25f, 0.5f)) << i;

  ModelBuilder d(10);
  d.input("x", {8});
  d.node("Dropout", {"x"}, {"y"}, "drop");
  d.output("y");
  Graph dropout = d.load();
  try {
    exporter::upgrade_opset(dropout, 13);
    ADD_FAILURE() << "Dropout carried across opset 12 without conversion";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("drop"), std::string::npos) << e.what();
  }
}

// Split's sizes and Squeeze/Unsqueeze's axes became inputs at 13, and Split needs num_outputs
// from 18 when it has no sizes: carried from 11 to 18, the graph computes the same.
TEST(ExportOpsetUpgrade, SplitSqueezeUnsqueezeFrom11To18) {
  ModelBuilder b(11);
  b.input("x", {2, 6, 1});
  auto& split = b.node("Split", {"x"}, {"a", "b"}, "split_sizes");
  qs::test::set_attr(split, "axis", std::int64_t{1});
  qs::test::set_attr(split, "split", std::vector<std::int64_t>{2, 4});
  b.node("Split", {"b"}, {"c", "d"}, "split_even");  // axis 0: two halves
  auto& sq = b.node("Squeeze", {"a"}, {"e"}, "squeeze");
  qs::test::set_attr(sq, "axes", std::vector<std::int64_t>{2});
  auto& usq = b.node("Unsqueeze", {"e"}, {"f"}, "unsqueeze");
  qs::test::set_attr(usq, "axes", std::vector<std::int64_t>{0});
  b.output("f");
  b.output("c");
  b.output("d");
  const Graph g11 = b.load();
  Tensor x(DType::f32, {2, 6, 1});
  for (int i = 0; i < 12; ++i) x.data<float>()[i] = float(i);
  const TensorMap before = run_cpu_ref(g11, {{"x", x}});
  ASSERT_EQ(before.at("f").shape(), (Shape{1, 2, 2}));
  EXPECT_EQ(before.at("f").to_f32(), (std::vector<float>{0, 1, 6, 7}));

  Graph g18 = g11;
  exporter::upgrade_opset(g18, 18);
  for (const std::string name : {"split_sizes", "squeeze", "unsqueeze"}) {
    const Node* n = g18.find_node(name);
    ASSERT_NE(n, nullptr);
    EXPECT_FALSE(n->has_attr("split") || n->has_attr("axes")) << name;
    ASSERT_TRUE(n->has_input(1)) << name;
    EXPECT_EQ(g18.initializers.at(n->inputs[1]).dtype(), DType::i64) << name;
  }
  const Node* even = g18.find_node("split_even");
  ASSERT_NE(even, nullptr);
  EXPECT_EQ(even->attr_int("num_outputs", 0), 2);
  OnnxWriteOptions w;
  w.opset = 18;
  const Graph reloaded = load_model_from_bytes(write_onnx(g18, w), "", "split.onnx");
  for (const Graph* g : {static_cast<const Graph*>(&g18), &reloaded}) {
    const TensorMap after = run_cpu_ref(*g, {{"x", x}});
    for (const std::string out : {"f", "c", "d"}) {
      EXPECT_EQ(after.at(out).shape(), before.at(out).shape()) << out;
      EXPECT_EQ(after.at(out).to_f32(), before.at(out).to_f32()) << out;
    }
  }
}

// Before opset 13, Softmax coerces its input to 2-D at `axis` (default 1); from 13 it normalizes
// along that one axis (default -1). Carried across 13 unchanged, a Softmax over a rank-3 tensor
// computes something else: the upgrade must convert it or refuse it by name.
TEST(ExportOpsetUpgrade, SoftmaxBeforeOpset13KeepsItsMeaningOrIsRefused) {
  ModelBuilder b(11);
  b.input("x", {2, 3, 4});
  auto& n = b.node("Softmax", {"x"}, {"y"}, "softmax");
  qs::test::set_attr(n, "axis", std::int64_t{1});
  b.output("y");
  const Graph g11 = b.load();
  Tensor x(DType::f32, {2, 3, 4});
  const std::vector<float> xv = random_values(24, 17, 1.0f);
  std::copy(xv.begin(), xv.end(), x.data<float>());
  const TensorMap before = run_cpu_ref(g11, {{"x", x}});
  // Opset 11 semantics, computed here: per sample, one softmax over all 12 values.
  for (int i = 0; i < 2; ++i) {
    double sum = 0;
    for (int k = 0; k < 12; ++k) sum += std::exp(double(xv[static_cast<std::size_t>(i * 12 + k)]));
    for (int k = 0; k < 12; ++k) {
      const auto at = static_cast<std::size_t>(i * 12 + k);
      ASSERT_NEAR(before.at("y").to_f32()[at], std::exp(double(xv[at])) / sum, 1e-6);
    }
  }
  // What users meet: an opset-11 model with such a Softmax, exported (always at opset >= 13).
  {
    ModelBuilder mb(11);
    mb.input("x", {-1, 2, 6, 6});
    mb.initializer("w", {4, 2, 3, 3}, random_values(72, 1));
    mb.initializer("b", {4}, random_values(4, 2));
    mb.node("Conv", {"x", "w", "b"}, {"c"}, "conv");
    auto& sm = mb.node("Softmax", {"c"}, {"y"}, "softmax");
    qs::test::set_attr(sm, "axis", std::int64_t{1});
    mb.output("y");
    const Graph model = mb.load();
    const QuantizedModel q = quantize(model, w8a8());
    bool refused = false;
    QdqModel m;
    try {
      m = export_qdq(model, q);
    } catch (const Error& e) {
      refused = true;
      EXPECT_NE(std::string(e.what()).find("softmax"), std::string::npos) << e.what();
    }
    if (!refused) {
      EXPECT_EQ(m.opset, 13);
      const TensorMap in = sample_inputs();
      LoadOptions lo;
      lo.fold_constants = false;
      expect_outputs_match(run_cpu_ref(apply_quantization(model, q), in),
                           run_cpu_ref(load_model_from_bytes(m.onnx, "", "sm.onnx", lo), in), 1e-5,
                           "opset-11 Conv -> Softmax(axis=1) exported at opset 13");
    }
  }
  Graph g13 = g11;
  try {
    exporter::upgrade_opset(g13, 13);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("softmax"), std::string::npos) << e.what();
    return;
  }
  EXPECT_EQ(run_cpu_ref(g13, {{"x", x}}).at("y").to_f32(), before.at("y").to_f32())
      << "Softmax(axis=1) of an opset-11 model changed meaning when carried to opset 13";
}

// ---------------------------------------------------------------------------------------------
// The package

class ExportPackage : public ::testing::Test {
 protected:
  void SetUp() override {
    graph_ = small_cnn();
    q_ = quantize(graph_, w8a8());
  }
  PackageOptions options(const fs::path& out, const std::string& version) const {
    PackageOptions o;
    o.output = out.string();
    o.tool_version = version;
    o.reference_samples = 3;
    return o;
  }
  Graph graph_;
  QuantizedModel q_;
};

TEST_F(ExportPackage, AFolderThatIsNotAPackageIsLeftAlone) {
  ScratchDir dir;
  const fs::path out = dir.path() / "mine";
  fs::create_directories(out);
  spit(out / "notes.txt", "my own notes");
  try {
    export_package(graph_, q_, options(out, "t"));
    ADD_FAILURE() << "wrote a package over a folder that is not one";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a Quantscope package"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(slurp(out / "notes.txt"), "my own notes");
  EXPECT_EQ(listing(out), std::set<std::string>{"notes.txt"});
  EXPECT_EQ(listing(dir.path()), std::set<std::string>{"mine"});

  // A manifest.json of something else is not a package's either.
  spit(out / "manifest.json", "{\"format\": \"something-else\"}");
  EXPECT_THROW(export_package(graph_, q_, options(out, "t")), Error);
  EXPECT_EQ(slurp(out / "manifest.json"), "{\"format\": \"something-else\"}");
  EXPECT_EQ(listing(dir.path()), std::set<std::string>{"mine"});

  // A plain file in place of the folder.
  const fs::path file = dir.path() / "file";
  spit(file, "x");
  EXPECT_THROW(export_package(graph_, q_, options(file, "t")), Error);
  EXPECT_EQ(slurp(file), "x");
}

TEST_F(ExportPackage, WritingTwiceReplacesThePackage) {
  ScratchDir dir;
  const fs::path out = dir.path() / "pkg";
  const PackageResult first = export_package(graph_, q_, options(out, "first-version"));
  EXPECT_EQ(fs::path(first.path), fs::absolute(out));
  EXPECT_EQ(listing(dir.path()), std::set<std::string>{"pkg"});
  spit(out / "stale.txt", "from before");

  const PackageResult second = export_package(graph_, q_, options(out, "second-version"));
  EXPECT_EQ(listing(dir.path()), std::set<std::string>{"pkg"}) << "staging or old folder left";
  EXPECT_FALSE(fs::exists(out / "stale.txt")) << "the earlier package was not replaced whole";
  const nlohmann::json manifest = nlohmann::json::parse(slurp(out / "manifest.json"));
  EXPECT_EQ(manifest.at("format"), "quantscope-package");
  EXPECT_EQ(manifest.at("tool").at("version"), "second-version");
  EXPECT_EQ(manifest.at("model").at("opset"), second.opset);
  EXPECT_EQ(manifest.at("model").at("sha256"),
            exporter::sha256_file((out / "model.onnx").string()));

  // Files on disk are what the result lists, and the checksums match each of them.
  std::set<std::string> on_disk;
  for (const auto& e : fs::recursive_directory_iterator(out))
    if (e.is_regular_file()) on_disk.insert(fs::relative(e.path(), out).generic_string());
  EXPECT_EQ(on_disk, std::set<std::string>(second.files.begin(), second.files.end()));
  const auto sums = checksum_lines(slurp(out / "checksums.sha256"));
  EXPECT_EQ(sums.size() + 1, second.files.size());
  std::set<std::string> summed;
  for (const auto& [hash, file] : sums) {
    EXPECT_EQ(hash, exporter::sha256_file((out / file).string())) << file;
    summed.insert(file);
  }
  on_disk.erase("checksums.sha256");
  EXPECT_EQ(summed, on_disk);

  // The model in the package computes the simulation on the self-check's inputs.
  const nlohmann::json check = nlohmann::json::parse(slurp(out / "selfcheck" / "selfcheck.json"));
  TensorMap inputs;
  for (const auto& in : check.at("inputs"))
    inputs[in.at("name").get<std::string>()] =
        read_npy((out / in.at("file").get<std::string>()).string());
  ASSERT_EQ(inputs.count("x"), 1u);
  EXPECT_EQ(inputs.at("x").dim(0), 3);
  TensorMap expected;
  for (const auto& o : check.at("outputs"))
    expected[o.at("name").get<std::string>()] =
        read_npy((out / o.at("file").get<std::string>()).string());
  const Graph model = load_model((out / "model.onnx").string());
  expect_outputs_match(expected, run_cpu_ref(model, inputs), 1e-5, "package model.onnx");
}

TEST_F(ExportPackage, ZipHoldsTheFilesWithTheirChecksums) {
  ScratchDir dir;
  const fs::path out = dir.path() / "pkg.zip";
  qs::test::RandomDataset data(16, {2, 6, 6}, 21);
  PackageOptions o = options(out, "zip-version");
  const fs::path source = dir.path() / "source.onnx";
  spit(source, "the source model's bytes");
  o.source_path = source.string();
  o.data = &data;
  o.data_description = "random, 16 samples";
  const PackageResult r = export_package(graph_, q_, o);
  EXPECT_TRUE(r.evaluated);
  EXPECT_EQ(listing(dir.path()), (std::set<std::string>{"pkg.zip", "source.onnx"}))
      << "staging folder left";

  const std::vector<ZipEntry> entries = parse_zip(slurp(out));
  std::vector<std::string> names;
  std::map<std::string, std::string> by_name;
  for (const ZipEntry& e : entries) {
    names.push_back(e.name);
    by_name[e.name] = e.data;
    EXPECT_EQ(e.crc, zlib_crc(e.data)) << e.name;
  }
  EXPECT_EQ(names, r.files);
  for (const std::string f :
       {"model.onnx", "manifest.json", "report.html", "checksums.sha256",
        "selfcheck/selfcheck.json", "selfcheck/selfcheck.py", "selfcheck/selfcheck.mjs"})
    EXPECT_EQ(by_name.count(f), 1u) << f;
  const auto sums = checksum_lines(by_name.at("checksums.sha256"));
  EXPECT_EQ(sums.size() + 1, entries.size());
  for (const auto& [hash, file] : sums) {
    ASSERT_EQ(by_name.count(file), 1u) << file;
    EXPECT_EQ(hash, exporter::sha256_hex(by_name.at(file))) << file;
  }
  const nlohmann::json manifest = nlohmann::json::parse(by_name.at("manifest.json"));
  EXPECT_EQ(manifest.at("tool").at("version"), "zip-version");
  EXPECT_EQ(manifest.at("model").at("sha256"), exporter::sha256_hex(by_name.at("model.onnx")));
  EXPECT_EQ(manifest.at("evaluation").at("samples"), 16);
  EXPECT_EQ(manifest.at("source_model").at("name"), "source.onnx");
  EXPECT_EQ(manifest.at("source_model").at("sha256"),
            exporter::sha256_hex("the source model's bytes"));
  // The archive's model is the one export_qdq makes.
  QdqExportOptions qo;
  qo.producer_version = "zip-version";
  EXPECT_EQ(by_name.at("model.onnx"), export_qdq(graph_, q_, qo).onnx);
}

// "-o pkg/" names the same folder as "-o pkg".
TEST_F(ExportPackage, TrailingSlashNamesTheSameFolder) {
  ScratchDir dir;
  const fs::path empty = dir.path() / "empty";
  fs::create_directories(empty);
  PackageOptions o = options(empty, "slash");
  o.output += "/";
  EXPECT_NO_THROW(export_package(graph_, q_, o));
  EXPECT_TRUE(fs::exists(empty / "manifest.json"));
  EXPECT_EQ(listing(dir.path()), std::set<std::string>{"empty"});

  PackageOptions fresh = options(dir.path() / "fresh", "slash");
  fresh.output += "/";
  EXPECT_NO_THROW(export_package(graph_, q_, fresh));
  EXPECT_TRUE(fs::exists(dir.path() / "fresh" / "manifest.json"));
}
