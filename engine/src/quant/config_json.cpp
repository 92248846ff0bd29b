// The configuration file: JSON with a schema version. Settings (defaults and per-node
// overrides) and, after calibration, the computed parameters: activation grids per tensor and
// weight codes (base64, row-major matrix order) with their scales and zero points per node.
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "quantscope/atomic_file.h"
#include "quantscope/error.h"
#include "quantscope/quant.h"

namespace qs {

namespace {

using nlohmann::json;

constexpr char kFormat[] = "quantscope-quantization";

const char* granularity_name(QuantGranularity g) {
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
         {"granularity", granularity_name(s.granularity)},
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
  if (o.granularity) j["granularity"] = granularity_name(*o.granularity);
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
  for (const auto& [key, v] : j.items()) {
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
      if (!v.is_number_integer()) throw Error(at + " must be an integer");
      o.group_size = v.get<std::int64_t>();
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

template <typename T>
std::vector<T> array_from(const json& j, const std::string& where) {
  if (!j.is_array()) throw Error(where + " must be an array");
  std::vector<T> out;
  out.reserve(j.size());
  for (const json& v : j) {
    if (!v.is_number()) throw Error(where + " must hold numbers");
    out.push_back(v.get<T>());
  }
  return out;
}

const json& field(const json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end()) throw Error(where + ": missing \"" + key + "\"");
  return *it;
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
           {"granularity", granularity_name(w.granularity)},
           {"rows", w.rows},
           {"cols", w.cols},
           {"groups_per_row", w.groups_per_row},
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
  if (!j.is_object() || j.value("format", "") != kFormat)
    throw Error(std::string("not a quantization configuration (\"format\" is not \"") + kFormat +
                "\")");
  const json& version = field(j, "schema_version", "configuration");
  if (!version.is_number_integer() || version.get<long long>() != QuantConfig::kSchemaVersion)
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
  try {
    q.model_name = j.value("model", "");
    if (j.contains("calibration")) {
      q.calibration_data = j["calibration"].value("data", "");
      q.calibration_samples = j["calibration"].value("samples", std::int64_t{0});
    }
    if (j.contains("notes")) q.notes = j["notes"].get<std::vector<std::string>>();
  } catch (const json::exception& e) {
    throw Error(std::string("bad model/calibration/notes fields: ") + e.what());
  }
  if (j.contains("activations")) {
    for (const auto& [name, a] : j["activations"].items()) {
      const std::string where = "activations." + name;
      try {
        ActQuantParams p;
        p.bits = a.at("bits").get<int>();
        p.is_signed = a.at("signed").get<bool>();
        p.scale = a.at("scale").get<float>();
        p.zero_point = a.at("zero_point").get<std::int32_t>();
        p.lo = a.value("lo", 0.0f);
        p.hi = a.value("hi", 0.0f);
        p.calibrator = a.value("calibrator", "");
        if (p.bits != 8 && p.bits != 16) throw Error(where + ": bits must be 8 or 16");
        if (!(p.scale > 0) || !std::isfinite(p.scale))
          throw Error(where + ": scale must be positive and finite");
        q.activations[name] = p;
      } catch (const json::exception& e) {
        throw Error(where + ": " + e.what());
      }
    }
  }
  if (j.contains("weights")) {
    for (const auto& [node, e] : j["weights"].items()) {
      const std::string where = "weights." + node;
      WeightQuantParams w;
      try {
        w.weight = e.at("weight").get<std::string>();
        w.bits = e.at("bits").get<int>();
        w.symmetric = e.at("symmetric").get<bool>();
        w.granularity = granularity_from(e.at("granularity").get<std::string>(), where);
        w.rows = e.at("rows").get<std::int64_t>();
        w.cols = e.at("cols").get<std::int64_t>();
        w.groups_per_row = e.at("groups_per_row").get<std::int64_t>();
        w.rounding = e.value("rounding", "rtn");
      } catch (const json::exception& ex) {
        throw Error(where + ": " + ex.what());
      }
      w.scales = array_from<float>(field(e, "scales", where), where + ".scales");
      w.zero_points =
          array_from<std::int32_t>(field(e, "zero_points", where), where + ".zero_points");
      const json& codes = field(e, "codes", where);
      if (!codes.is_string()) throw Error(where + ".codes must be base64 text");
      w.codes = unbase64(codes.get<std::string>(), where + ".codes");
      if (e.contains("bias")) w.bias = array_from<float>(e["bias"], where + ".bias");
      if (w.bits < 2 || w.bits > 8) throw Error(where + ": bits must be 2 to 8");
      if (w.rows <= 0 || w.cols <= 0 || w.groups_per_row <= 0 || w.cols % w.groups_per_row != 0 ||
          w.rows > (std::int64_t{1} << 31) || w.cols > (std::int64_t{1} << 31))
        throw Error(where + ": bad rows/cols/groups_per_row");
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
