// Export: SHA-256 and the zip writer against their standards, and the deployment package's
// folder and .zip outputs.
#include <gtest/gtest.h>

#include "export_test_util.h"

using namespace qs;
using namespace export_test;

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
