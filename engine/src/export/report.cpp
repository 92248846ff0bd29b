// report.html: one self-contained page (inline CSS and SVG, no scripts, nothing fetched) that a
// reviewer can open from the package: what was quantized, how accuracy moved, per class and per
// layer, and what the target measured.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>

#include "export/package_parts.h"

namespace qs::exporter {

namespace {

std::string esc(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

std::string num(double v, int digits = 2) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string bytes_text(std::int64_t b) {
  if (b >= 1 << 20) return num(double(b) / double(1 << 20)) + " MiB";
  if (b >= 1 << 10) return num(double(b) / double(1 << 10)) + " KiB";
  return std::to_string(b) + " B";
}

// Grouped bars: float and quantized top-1 per class, flagged classes marked.
std::string class_chart(const std::vector<ClassAccuracy>& classes) {
  const int bar = 12, gap = 10, left = 40, height = 160, top = 10;
  const int width = left + static_cast<int>(classes.size()) * (2 * bar + gap) + 10;
  std::ostringstream s;
  s << "<svg xmlns='http://www.w3.org/2000/svg' width='" << width << "' height='" << height + 40
    << "' role='img' aria-label='per-class top-1, float and quantized'>";
  for (int pct = 0; pct <= 100; pct += 25) {
    const double y = top + height * (1.0 - pct / 100.0);
    s << "<line x1='" << left << "' x2='" << width << "' y1='" << y << "' y2='" << y
      << "' stroke='#ddd'/><text x='" << left - 4 << "' y='" << y + 4
      << "' font-size='10' text-anchor='end'>" << pct << "</text>";
  }
  int x = left + gap / 2;
  for (const ClassAccuracy& a : classes) {
    const double hf = height * a.float_top1 / 100.0, hq = height * a.quantized_top1 / 100.0;
    s << "<rect x='" << x << "' y='" << top + height - hf << "' width='" << bar << "' height='"
      << hf << "' fill='#4c78a8'><title>class " << a.label << " float " << num(a.float_top1)
      << "%</title></rect>";
    s << "<rect x='" << x + bar << "' y='" << top + height - hq << "' width='" << bar
      << "' height='" << hq << "' fill='" << (a.flagged ? "#e45756" : "#f58518")
      << "'><title>class " << a.label << " quantized " << num(a.quantized_top1)
      << "%</title></rect>";
    s << "<text x='" << x + bar << "' y='" << top + height + 14
      << "' font-size='10' text-anchor='middle'>" << a.label << (a.flagged ? "!" : "") << "</text>";
    x += 2 * bar + gap;
  }
  s << "<text x='" << left << "' y='" << top + height + 32
    << "' font-size='10'>blue: float, orange: quantized, red: moved more than the threshold</text>";
  s << "</svg>";
  return s.str();
}

// Layers x bit widths, each cell coloured by the output KL when that layer alone is quantized
// (log scale, from green to red), the value in its tooltip.
std::string sensitivity_chart(const SensitivityResult& r) {
  std::set<int> bit_set;
  double lo = INFINITY, hi = 0;
  for (const LayerSensitivity& l : r.layers)
    for (const auto& [b, v] : l.bits) {
      bit_set.insert(b);
      if (v.kl > 0) {
        lo = std::min(lo, v.kl);
        hi = std::max(hi, v.kl);
      }
    }
  const std::vector<int> bits(bit_set.begin(), bit_set.end());
  const int cell_w = 54, cell_h = 20, left = 260, top = 24;
  const int width = std::max(left + cell_w * static_cast<int>(bits.size()) + 10, 720);
  const int height = top + cell_h * static_cast<int>(r.layers.size()) + 30;
  std::ostringstream s;
  s << "<svg xmlns='http://www.w3.org/2000/svg' width='" << width << "' height='" << height
    << "' role='img' aria-label='per-layer sensitivity'>";
  for (std::size_t j = 0; j < bits.size(); ++j)
    s << "<text x='" << left + cell_w * static_cast<int>(j) + cell_w / 2 << "' y='" << top - 8
      << "' font-size='11' text-anchor='middle'>" << bits[j] << " bit</text>";
  for (std::size_t i = 0; i < r.layers.size(); ++i) {
    const LayerSensitivity& l = r.layers[i];
    const int y = top + cell_h * static_cast<int>(i);
    s << "<text x='" << left - 6 << "' y='" << y + 14 << "' font-size='11' text-anchor='end'>"
      << esc(l.name) << "</text>";
    for (std::size_t j = 0; j < bits.size(); ++j) {
      auto v = l.bits.find(bits[j]);
      if (v == l.bits.end()) continue;
      const double t = hi > lo && v->second.kl > 0
                           ? std::clamp(std::log(v->second.kl / lo) / std::log(hi / lo), 0.0, 1.0)
                           : 0.0;
      const int red = static_cast<int>(60 + 190 * t), green = static_cast<int>(180 - 120 * t);
      s << "<rect x='" << left + cell_w * static_cast<int>(j) << "' y='" << y << "' width='"
        << cell_w - 2 << "' height='" << cell_h - 2 << "' fill='rgb(" << red << "," << green
        << ",90)'><title>" << esc(l.name) << " at " << bits[j] << " bits: KL " << v->second.kl
        << ", agreement " << num(v->second.agreement) << "%</title></rect>";
    }
  }
  s << "<text x='" << left << "' y='" << height - 8
    << "' font-size='10'>output KL vs float when the layer alone is quantized (log colour scale: "
       "green low, red high)</text></svg>";
  return s.str();
}

// The Pareto front (predicted loss against cost) with the baselines and the measured points.
std::string pareto_chart(const SearchResult& r) {
  std::vector<const SearchPoint*> all;
  for (const SearchPoint& p : r.front) all.push_back(&p);
  for (const SearchPoint& p : r.baselines) all.push_back(&p);
  double xmax = 0, ylo = INFINITY, yhi = 0;
  auto loss = [](const SearchPoint& p) {
    return p.measured.measured ? p.measured.kl : p.predicted_loss;
  };
  for (const SearchPoint* p : all) {
    xmax = std::max(xmax, p->cost);
    for (double v : {p->predicted_loss, loss(*p)})
      if (v > 0) {
        ylo = std::min(ylo, v);
        yhi = std::max(yhi, v);
      }
  }
  if (!(yhi > 0)) ylo = yhi = 1;
  if (ylo == yhi) yhi = ylo * 10;
  const int w = 640, h = 330, left = 60, bottom = 40, top = 24;
  auto X = [&](double c) { return left + (w - left - 10) * (xmax > 0 ? c / xmax : 0); };
  auto Y = [&](double v) {
    const double t = v > 0 ? std::log(v / ylo) / std::log(yhi / ylo) : 0;
    return top + (h - top - bottom) * (1.0 - std::clamp(t, 0.0, 1.0));
  };
  std::ostringstream s;
  s << "<svg xmlns='http://www.w3.org/2000/svg' width='" << w << "' height='" << h
    << "' role='img' aria-label='Pareto front'>";
  s << "<line x1='" << left << "' y1='" << h - bottom << "' x2='" << w - 10 << "' y2='"
    << h - bottom << "' stroke='#888'/><line x1='" << left << "' y1='" << top << "' x2='" << left
    << "' y2='" << h - bottom << "' stroke='#888'/>";
  s << "<text x='" << (left + w) / 2 << "' y='" << h - 8
    << "' font-size='11' text-anchor='middle'>cost (0 to " << num(xmax, 0)
    << "); lower left is better</text>";
  char lo_text[32], hi_text[32];
  std::snprintf(lo_text, sizeof lo_text, "%.2g", ylo);
  std::snprintf(hi_text, sizeof hi_text, "%.2g", yhi);
  s << "<text x='" << left << "' y='12' font-size='11'>output KL vs float (log scale)</text>";
  s << "<text x='" << left - 4 << "' y='" << top + 4 << "' font-size='10' text-anchor='end'>"
    << hi_text << "</text><text x='" << left - 4 << "' y='" << h - bottom
    << "' font-size='10' text-anchor='end'>" << lo_text << "</text>";
  std::string path;
  for (const SearchPoint& p : r.front)
    path += (path.empty() ? "M" : " L") + num(X(p.cost), 1) + " " + num(Y(p.predicted_loss), 1);
  if (!path.empty()) s << "<path d='" << path << "' fill='none' stroke='#4c78a8'/>";
  for (const SearchPoint& p : r.front) {
    s << "<circle cx='" << X(p.cost) << "' cy='" << Y(p.predicted_loss)
      << "' r='3' fill='#4c78a8'><title>front: cost " << num(p.cost, 0) << ", predicted KL "
      << p.predicted_loss << "</title></circle>";
    if (p.measured.measured)
      s << "<circle cx='" << X(p.cost) << "' cy='" << Y(p.measured.kl)
        << "' r='5' fill='none' stroke='#e45756'><title>measured: KL " << p.measured.kl
        << ", top-1 " << num(p.measured.top1) << "%</title></circle>";
  }
  for (const SearchPoint& p : r.baselines)
    s << "<rect x='" << X(p.cost) - 4 << "' y='" << Y(loss(p)) - 4
      << "' width='8' height='8' fill='#f58518'><title>" << esc(p.label) << ": cost "
      << num(p.cost, 0) << ", KL " << loss(p) << "</title></rect>";
  s << "</svg><p class='note'>Blue: the front (predicted KL); red rings: measured; orange "
       "squares: uniform and 8-first-last baselines.</p>";
  return s.str();
}

std::string granularity_text(const LayerQuantSettings& s) {
  switch (s.granularity) {
    case QuantGranularity::per_tensor:
      return "tensor";
    case QuantGranularity::per_channel:
      return "channel";
    case QuantGranularity::per_group:
      return "group:" + std::to_string(s.group_size);
  }
  return "";
}

}  // namespace

std::string report_html(const PackageContents& c) {
  const PackageOptions& o = *c.options;
  const PackageResult& r = *c.result;
  const std::vector<std::string> quantizable = quantizable_nodes(*c.graph);
  const std::set<std::string> qset(quantizable.begin(), quantizable.end());
  std::ostringstream h;
  h << "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Quantscope report: "
    << esc(c.source_name) << "</title><style>"
    << "body{font-family:sans-serif;margin:2em;color:#222;max-width:1100px}"
    << "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;"
    << "padding:3px 8px;font-size:13px;text-align:right}th{background:#f3f3f3}"
    << "td:first-child,th:first-child{text-align:left}.flag{background:#fde2e1}"
    << ".note{color:#555;font-size:13px}</style></head><body>";
  h << "<h1>" << esc(c.source_name) << " quantized</h1>";
  h << "<p class='note'>Quantscope " << esc(o.tool_version) << ", " << esc(c.created_utc)
    << ". QDQ ONNX at opset " << r.opset << ": " << c.quantize_nodes << " QuantizeLinear, "
    << c.dequantize_nodes << " DequantizeLinear, "
    << (c.matmul_nbits_nodes > 0
            ? std::to_string(c.matmul_nbits_nodes) + " MatMulNBits (ONNX Runtime's), "
            : std::string())
    << c.folded_activations << " activations folded into quantize ranges. Source SHA-256 "
    << esc(c.source_sha256) << ".</p>";

  h << "<h2>Summary</h2><table><tr><th></th><th>float</th><th>quantized</th></tr>";
  h << "<tr><td>size</td><td>" << bytes_text(c.float_bytes) << "</td><td>"
    << bytes_text(c.quantized_bytes) << " ("
    << num(double(c.float_bytes) / double(std::max<std::int64_t>(c.quantized_bytes, 1)), 1)
    << "x smaller)</td></tr>";
  if (r.evaluated) {
    const PairEvalResult& p = r.metrics;
    if (p.reference.has_labels && !p.reference.image_output)
      h << "<tr><td>top-1 (%)</td><td>" << num(p.reference.top1) << "</td><td>"
        << num(p.candidate.top1) << "</td></tr>";
    if (p.reference.image_output)
      h << "<tr><td>PSNR (dB)</td><td>" << num(p.reference.psnr_db) << "</td><td>"
        << num(p.candidate.psnr_db) << "</td></tr>";
    if (p.classifier)
      h << "<tr><td>top-1 agreement with float (%)</td><td></td><td>" << num(p.agreement)
        << "</td></tr><tr><td>KL(float || quantized), nats</td><td></td><td>" << num(p.kl, 5)
        << "</td></tr>";
    h << "<tr><td>SQNR of the outputs (dB)</td><td></td><td>" << num(p.sqnr_db, 1)
      << "</td></tr></table>";
    h << "<p class='note'>Evaluated on " << esc(o.data_description) << "; quantized = Quantscope's "
      << "simulation on " << esc(p.candidate.device)
      << ", which the exported model reproduces.</p>";
  } else {
    h << "</table><p class='note'>No evaluation data was given, so there are no accuracy "
         "figures.</p>";
  }

  if (!r.classes.empty()) {
    h << "<h2>Per class</h2>";
    if (r.flagged_classes.empty())
      h << "<p>No class moved by more than " << num(o.class_threshold, 1) << " points.</p>";
    else
      h << "<p><b>" << r.flagged_classes.size() << " class(es) moved by more than "
        << num(o.class_threshold, 1)
        << " points</b>: check them before shipping (a model can be made to behave differently "
           "only once quantized).</p>";
    h << class_chart(r.classes);
    h << "<table><tr><th>class</th><th>samples</th><th>float top-1</th><th>quantized top-1</th>"
         "<th>change</th></tr>";
    for (const ClassAccuracy& a : r.classes)
      h << "<tr" << (a.flagged ? " class='flag'" : "") << "><td>" << a.label << "</td><td>"
        << a.samples << "</td><td>" << num(a.float_top1) << "</td><td>" << num(a.quantized_top1)
        << "</td><td>" << num(a.quantized_top1 - a.float_top1) << "</td></tr>";
    h << "</table>";
  }

  h << "<h2>Layers</h2><table><tr><th>layer</th><th>op</th><th>params</th><th>MACs</th>"
       "<th>weights</th><th>activations</th><th>granularity</th><th>rounding</th></tr>";
  for (const LayerInfo& l : describe_model(*c.graph).layers) {
    h << "<tr><td>" << esc(l.name) << "</td><td>" << esc(l.op_type) << "</td><td>" << l.params
      << "</td><td>" << l.macs << "</td>";
    if (qset.count(l.name)) {
      const LayerQuantSettings s = c.q->config.settings_for(l.name);
      h << "<td>" << (s.weight_bits ? std::to_string(s.weight_bits) + " bit" : "float")
        << "</td><td>" << (s.act_bits ? std::to_string(s.act_bits) + " bit" : "float")
        << "</td><td>" << granularity_text(s) << "</td><td>" << esc(s.rounding) << "</td>";
    } else {
      h << "<td></td><td></td><td></td><td></td>";
    }
    h << "</tr>";
  }
  h << "</table>";

  if (o.sensitivity && !o.sensitivity->layers.empty()) {
    h << "<h2>Sensitivity</h2><p class='note'>Measured on " << o.sensitivity->samples
      << " samples.</p>" << sensitivity_chart(*o.sensitivity);
  }
  if (o.search && !o.search->front.empty()) {
    h << "<h2>Pareto front</h2>" << pareto_chart(*o.search);
  }
  if (!o.latency.empty()) {
    h << "<h2>Latency</h2><table><tr><th>device</th><th>precision</th><th>batch</th>"
         "<th>threads</th><th>median (ms)</th><th>p90 (ms)</th><th>ISA</th></tr>";
    for (const PackageLatency& l : o.latency) {
      auto isa = l.result.environment.find("isa");
      h << "<tr><td>" << esc(l.result.device) << "</td><td>" << esc(l.precision) << "</td><td>"
        << l.result.batch << "</td><td>" << l.result.threads << "</td><td>"
        << num(l.result.end_to_end.median_ms, 3) << "</td><td>"
        << num(l.result.end_to_end.p90_ms, 3) << "</td><td>"
        << esc(isa == l.result.environment.end() ? "" : isa->second) << "</td></tr>";
    }
    h << "</table>";
  }
  if (!r.notes.empty()) {
    h << "<h2>Notes</h2><ul>";
    for (const std::string& n : r.notes) h << "<li class='note'>" << esc(n) << "</li>";
    h << "</ul>";
  }
  h << "<p class='note'>To check this package on the target: <code>node selfcheck/selfcheck.mjs"
       "</code> or <code>python3 selfcheck/selfcheck.py</code>.</p></body></html>\n";
  return h.str();
}

}  // namespace qs::exporter
