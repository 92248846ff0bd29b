// The configuration file: JSON with a schema version. Settings (defaults and per-node
// overrides) and, after calibration, the computed parameters: activation grids per tensor and
// weight codes (base64, row-major matrix order) with their scales and zero points per node.
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "json/read.h"
#include "quantscope/atomic_file.h"
#include "quantscope/error.h"
#include "quantscope/quant.h"
#include "quantscope/quant_format.h"

namespace qs {

const char* quant_granularity_name(QuantGranularity g) {
  switch (g) {
    case QuantGranularity::per_tensor:
      return "tensor";
    case QuantGranularity::per_channel:
      return "channel";
    case QuantGranularity::per_group:
      return "group";
  }
  return "?";
}

namespace {

using nlohmann::json;

constexpr char kFormat[] = "quantscope-quantization";

// Numbers are checked before conversion: a JSON number out of the target's range must be an
// error, never undefined behaviour.
std::int64_t int_of(const json& v, const std::string& where, std::int64_t lo, std::int64_t hi) {
  if (!v.is_number_integer()) throw Error(where + " must be an integer");
  if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(hi))
    throw Error(where + " is out of range");
  const std::int64_t x = v.get<std::int64_t>();
  if (x < lo || x > hi)
    throw Error(where + " = " + std::to_string(x) + " is out of range " + std::to_string(lo) +
                ".." + std::to_string(hi));
  return x;
}

float float_of(const json& v, const std::string& where) {
  if (!v.is_number()) throw Error(where + " must be a number");
  const double d = v.get<double>();
  if (!std::isfinite(d) || std::abs(d) > std::numeric_limits<float>::max())
    throw Error(where + " is not a finite 32-bit float");
  return static_cast<float>(d);
}

using json_read::bool_of;
using json_read::member;
using json_read::string_of;

QuantGranularity granularity_from(const std::string& s, const std::string& where) {
  if (s == "tensor") return QuantGranularity::per_tensor;
  if (s == "channel") return QuantGranularity::per_channel;
  if (s == "group") return QuantGranularity::per_group;
  throw Error(where + ": granularity '" + s + "' is not tensor, channel or group");
}

json bits_json(int bits) {
  return bits == 0 ? json("float") : json(bits);
}

int bits_from(const json& j, const std::string& where) {
  if (j.is_string() && j.get<std::string>() == "float") return 0;
  if (!j.is_number_integer()) throw Error(where + " must be a number of bits or \"float\"");
  if (j.is_number_unsigned() && j.get<std::uint64_t>() > 64)
    throw Error(where + " is out of range");
  const long long v = j.get<long long>();
  if (v < 0 || v > 64) throw Error(where + " = " + std::to_string(v) + " is out of range");
  return static_cast<int>(v);
}

const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64(const std::vector<std::int8_t>& bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    std::uint32_t v = static_cast<std::uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<std::uint8_t>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) v |= static_cast<std::uint8_t>(bytes[i + 2]);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kB64[(v >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kB64[v & 63] : '=';
  }
  return out;
}

std::vector<std::int8_t> unbase64(const std::string& text, const std::string& where) {
  if (text.size() % 4 != 0) throw Error(where + ": base64 text of bad length");
  std::vector<std::int8_t> out;
  out.reserve(text.size() / 4 * 3);
  auto value = [&](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    throw Error(where + ": bad base64 character");
  };
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const int pad = (text[i + 3] == '=') + (text[i + 2] == '=');
    if (pad && i + 4 != text.size()) throw Error(where + ": base64 padding inside the text");
    std::uint32_t v = value(text[i]) << 18 | value(text[i + 1]) << 12;
    if (pad < 2) v |= value(text[i + 2]) << 6;
    if (pad < 1) v |= value(text[i + 3]);
    out.push_back(static_cast<std::int8_t>(v >> 16));
    if (pad < 2) out.push_back(static_cast<std::int8_t>((v >> 8) & 255));
    if (pad < 1) out.push_back(static_cast<std::int8_t>(v & 255));
  }
  return out;
}

json settings_json(const LayerQuantSettings& s) {
  json j{{"weight_bits", bits_json(s.weight_bits)},
         {"act_bits", bits_json(s.act_bits)},
         {"granularity", quant_granularity_name(s.granularity)},
         {"weight_symmetric", s.weight_symmetric},
         {"act_symmetric", s.act_symmetric},
         {"calibrator", s.calibrator},
         {"weight_range", s.weight_range},
         {"rounding", s.rounding},
         {"bias_correction", s.bias_correction}};
  if (s.granularity == QuantGranularity::per_group) j["group_size"] = s.group_size;
  return j;
}

json override_json(const LayerOverride& o) {
  json j = json::object();
  if (o.weight_bits) j["weight_bits"] = bits_json(*o.weight_bits);
  if (o.act_bits) j["act_bits"] = bits_json(*o.act_bits);
  if (o.granularity) j["granularity"] = quant_granularity_name(*o.granularity);
  if (o.group_size) j["group_size"] = *o.group_size;
  if (o.weight_symmetric) j["weight_symmetric"] = *o.weight_symmetric;
  if (o.act_symmetric) j["act_symmetric"] = *o.act_symmetric;
  if (o.calibrator) j["calibrator"] = *o.calibrator;
  if (o.weight_range) j["weight_range"] = *o.weight_range;
  if (o.rounding) j["rounding"] = *o.rounding;
  if (o.bias_correction) j["bias_correction"] = *o.bias_correction;
  return j;
}

// Reads the fields present in `j` into the override; unknown keys are errors (a typo must not
// silently do nothing).
LayerOverride override_from(const json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + " must be an object");
  LayerOverride o;
  for (const auto& item : j.items()) {
    const std::string& key = item.key();
    const json& v = item.value();
    const std::string at = where + "." + key;
    auto str = [&]() {
      if (!v.is_string()) throw Error(at + " must be a string");
      return v.get<std::string>();
    };
    auto boolean = [&]() {
      if (!v.is_boolean()) throw Error(at + " must be true or false");
      return v.get<bool>();
    };
    if (key == "weight_bits")
      o.weight_bits = bits_from(v, at);
    else if (key == "act_bits")
      o.act_bits = bits_from(v, at);
    else if (key == "granularity")
      o.granularity = granularity_from(str(), at);
    else if (key == "group_size") {
      o.group_size = int_of(v, at, 0, std::int64_t{1} << 40);
    } else if (key == "weight_symmetric")
      o.weight_symmetric = boolean();
    else if (key == "act_symmetric")
      o.act_symmetric = boolean();
    else if (key == "calibrator")
      o.calibrator = str();
    else if (key == "weight_range")
      o.weight_range = str();
    else if (key == "rounding")
      o.rounding = str();
    else if (key == "bias_correction")
      o.bias_correction = boolean();
    else
      throw Error(at + ": unknown setting");
  }
  return o;
}

json config_json(const QuantConfig& c) {
  json overrides = json::object();
  for (const auto& [node, o] : c.overrides) overrides[node] = override_json(o);
  return json{{"format", kFormat},
              {"schema_version", QuantConfig::kSchemaVersion},
              {"defaults", settings_json(c.defaults)},
              {"overrides", overrides}};
}

std::vector<float> floats_from(const json& j, const std::string& where) {
  if (!j.is_array()) throw Error(where + " must be an array");
  std::vector<float> out;
  out.reserve(j.size());
  for (const json& v : j) out.push_back(float_of(v, where));
  return out;
}

std::vector<std::int32_t> int32s_from(const json& j, const std::string& where) {
  if (!j.is_array()) throw Error(where + " must be an array");
  std::vector<std::int32_t> out;
  out.reserve(j.size());
  for (const json& v : j)
    out.push_back(
        static_cast<std::int32_t>(int_of(v, where, std::numeric_limits<std::int32_t>::min(),
                                         std::numeric_limits<std::int32_t>::max())));
  return out;
}

}  // namespace

std::string quant_config_to_json(const QuantConfig& config) {
  return config_json(config).dump(2) + "\n";
}

std::string quantized_model_to_json(const QuantizedModel& q) {
  json j = config_json(q.config);
  j["model"] = q.model_name;
  j["calibration"] = {{"data", q.calibration_data}, {"samples", q.calibration_samples}};
  json acts = json::object();
  for (const auto& [name, a] : q.activations)
    acts[name] = {{"bits", a.bits},
                  {"signed", a.is_signed},
                  {"scale", a.scale},
                  {"zero_point", a.zero_point},
                  {"lo", a.lo},
                  {"hi", a.hi},
                  {"calibrator", a.calibrator}};
  json weights = json::object();
  for (const auto& [node, w] : q.weights) {
    json e{{"weight", w.weight},
           {"bits", w.bits},
           {"symmetric", w.symmetric},
           {"granularity", quant_granularity_name(w.granularity)},
           {"rows", w.rows},
           {"cols", w.cols},
           {"groups_per_row", w.groups_per_row},
           {"group_size", w.group_size},
           {"rounding", w.rounding},
           {"scales", w.scales},
           {"zero_points", w.zero_points},
           {"codes", base64(w.codes)}};
    if (!w.bias.empty()) e["bias"] = w.bias;
    weights[node] = e;
  }
  j["activations"] = acts;
  j["weights"] = weights;
  j["notes"] = q.notes;
  return j.dump(1) + "\n";
}

QuantizedModel quantized_model_from_json(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(std::string("not valid JSON: ") + e.what());
  }
  const auto format = j.is_object() ? j.find("format") : j.end();
  if (format == j.end() || !format->is_string() || format->get<std::string>() != kFormat)
    throw Error(std::string("not a quantization configuration (\"format\" is not \"") + kFormat +
                "\")");
  const json& version = member(j, "schema_version", "configuration");
  if (!version.is_number_integer() ||
      int_of(version, "schema_version", 0, 1 << 20) != QuantConfig::kSchemaVersion)
    throw Error("configuration schema_version " + version.dump() + " is not supported (this is " +
                std::to_string(QuantConfig::kSchemaVersion) + ")");
  QuantizedModel q;
  // Defaults: every field optional, starting from the built-in defaults.
  {
    QuantConfig base;
    q.config.overrides.clear();
    if (j.contains("defaults")) {
      base.overrides["*"] = override_from(j["defaults"], "defaults");
      q.config.defaults = base.settings_for("*");
    }
  }
  if (j.contains("overrides")) {
    const json& o = j["overrides"];
    if (!o.is_object()) throw Error("overrides must be an object keyed by node name");
    for (const auto& [node, v] : o.items())
      q.config.overrides[node] = override_from(v, "overrides." + node);
  }
  if (j.contains("model")) q.model_name = string_of(j["model"], "model");
  if (j.contains("calibration")) {
    const json& c = j["calibration"];
    if (!c.is_object()) throw Error("calibration must be an object");
    if (c.contains("data")) q.calibration_data = string_of(c["data"], "calibration.data");
    if (c.contains("samples"))
      q.calibration_samples = int_of(c["samples"], "calibration.samples", 0, INT64_MAX);
  }
  if (j.contains("notes")) {
    if (!j["notes"].is_array()) throw Error("notes must be an array of strings");
    for (const json& n : j["notes"]) q.notes.push_back(string_of(n, "notes"));
  }
  if (j.contains("activations")) {
    if (!j["activations"].is_object()) throw Error("activations must be an object");
    for (const auto& item : j["activations"].items()) {
      const std::string where = "activations." + item.key();
      const json& a = item.value();
      ActQuantParams p;
      p.bits = static_cast<int>(int_of(member(a, "bits", where), where + ".bits", 8, 16));
      p.is_signed = bool_of(member(a, "signed", where), where + ".signed");
      p.scale = float_of(member(a, "scale", where), where + ".scale");
      if (p.bits != 8 && p.bits != 16) throw Error(where + ": bits must be 8 or 16");
      const std::int64_t qmin = p.is_signed ? -(std::int64_t{1} << (p.bits - 1)) : 0;
      const std::int64_t qmax =
          p.is_signed ? (std::int64_t{1} << (p.bits - 1)) - 1 : (std::int64_t{1} << p.bits) - 1;
      p.zero_point = static_cast<std::int32_t>(
          int_of(member(a, "zero_point", where), where + ".zero_point", qmin, qmax));
      if (a.contains("lo")) p.lo = float_of(a["lo"], where + ".lo");
      if (a.contains("hi")) p.hi = float_of(a["hi"], where + ".hi");
      if (a.contains("calibrator"))
        p.calibrator = string_of(a["calibrator"], where + ".calibrator");
      if (!(p.scale > 0)) throw Error(where + ": scale must be positive");
      q.activations[item.key()] = p;
    }
  }
  if (j.contains("weights")) {
    if (!j["weights"].is_object()) throw Error("weights must be an object");
    for (const auto& item : j["weights"].items()) {
      const std::string& node = item.key();
      const json& e = item.value();
      const std::string where = "weights." + node;
      WeightQuantParams w;
      w.weight = string_of(member(e, "weight", where), where + ".weight");
      w.bits = static_cast<int>(int_of(member(e, "bits", where), where + ".bits", 2, 8));
      w.symmetric = bool_of(member(e, "symmetric", where), where + ".symmetric");
      w.granularity = granularity_from(
          string_of(member(e, "granularity", where), where + ".granularity"), where);
      const std::int64_t limit = std::int64_t{1} << 31;
      w.rows = int_of(member(e, "rows", where), where + ".rows", 1, limit);
      w.cols = int_of(member(e, "cols", where), where + ".cols", 1, limit);
      w.groups_per_row =
          int_of(member(e, "groups_per_row", where), where + ".groups_per_row", 1, limit);
      if (e.contains("rounding")) w.rounding = string_of(e["rounding"], where + ".rounding");
      w.scales = floats_from(member(e, "scales", where), where + ".scales");
      w.zero_points = int32s_from(member(e, "zero_points", where), where + ".zero_points");
      const json& codes = member(e, "codes", where);
      if (!codes.is_string()) throw Error(where + ".codes must be base64 text");
      w.codes = unbase64(codes.get<std::string>(), where + ".codes");
      if (e.contains("bias")) w.bias = floats_from(e["bias"], where + ".bias");
      // Files from before ragged groups have no group_size: their groups divided cols.
      w.group_size = e.contains("group_size")
                         ? int_of(e["group_size"], where + ".group_size", 1, w.cols)
                         : w.cols / w.groups_per_row;
      if (quant::groups_in_row(w.cols, w.group_size) != w.groups_per_row)
        throw Error(where + ": " + std::to_string(w.groups_per_row) + " groups of " +
                    std::to_string(w.group_size) + " do not cover " + std::to_string(w.cols) +
                    " columns");
      const std::int64_t n_grids = w.rows * w.groups_per_row;
      if (static_cast<std::int64_t>(w.codes.size()) != w.rows * w.cols)
        throw Error(where + ": " + std::to_string(w.codes.size()) + " codes for a " +
                    std::to_string(w.rows) + "x" + std::to_string(w.cols) + " weight");
      if (static_cast<std::int64_t>(w.scales.size()) != n_grids ||
          static_cast<std::int64_t>(w.zero_points.size()) != n_grids)
        throw Error(where + ": scales and zero_points need " + std::to_string(n_grids) + " values");
      for (float s : w.scales)
        if (!(s > 0) || !std::isfinite(s)) throw Error(where + ": scales must be positive");
      if (!w.bias.empty() && static_cast<std::int64_t>(w.bias.size()) != w.rows)
        throw Error(where + ": bias needs " + std::to_string(w.rows) + " values");
      q.weights[node] = std::move(w);
    }
  }
  return q;
}

void save_quantized_model(const std::string& path, const QuantizedModel& q) {
  const std::string text = quantized_model_to_json(q);
  write_file_atomically(path, [&](const ByteSink& sink) { sink(text.data(), text.size()); });
}

QuantizedModel load_quantized_model(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open configuration '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return quantized_model_from_json(text.str());
  } catch (const Error& e) {
    throw Error("configuration '" + path + "': " + e.what());
  }
}

}  // namespace qs
