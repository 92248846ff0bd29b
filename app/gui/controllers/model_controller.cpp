#include "controllers/model_controller.h"

#include <QFileInfo>
#include <QRegularExpression>
#include <QUrl>
#include <algorithm>
#include <map>

#include "quantscope/export.h"
#include "quantscope/model.h"
#include "workbench_util.h"

namespace qs::gui {

namespace {

QString describeValue(const qs::ValueInfo& v) {
  QString text = QString::fromStdString(v.name) + QStringLiteral("  ") +
                 QString::fromStdString(qs::dtype_name(v.dtype));
  if (v.has_shape) text += ' ' + QString::fromStdString(qs::shape_to_string(v.shape));
  return text;
}

// Values named by layer and tensor (a decoder's past_key_values.3.key) as one line per name
// pattern and type: "past_key_values.{0…5}.key|value  float32 [?,2,?,40]".
QStringList describeValues(const std::vector<qs::ValueInfo>& values) {
  static const QRegularExpression indexed(QStringLiteral("^(.+)\\.([0-9]+)\\.([A-Za-z_]+)$"));
  struct Group {
    qsizetype line = 0;
    int lo = 0, hi = 0, members = 0;
    QStringList suffixes;
    QString prefix, tail, first;
  };
  QStringList lines;
  std::map<QString, Group> groups;
  for (const qs::ValueInfo& v : values) {
    const QString name = QString::fromStdString(v.name), text = describeValue(v);
    const QRegularExpressionMatch m = indexed.match(name);
    if (!m.hasMatch()) {
      lines.append(text);
      continue;
    }
    const QString tail = text.mid(name.size());
    const int index = m.captured(2).toInt();
    auto [it, fresh] = groups.try_emplace(m.captured(1) + QLatin1Char('\n') + tail);
    Group& g = it->second;
    if (fresh) {
      g = {lines.size(), index, index, 0, {}, m.captured(1), tail, text};
      lines.append(text);
    }
    g.lo = std::min(g.lo, index);
    g.hi = std::max(g.hi, index);
    ++g.members;
    if (!g.suffixes.contains(m.captured(3))) g.suffixes.append(m.captured(3));
  }
  for (const auto& [key, g] : groups)
    if (g.members > 1)
      lines[g.line] = QStringLiteral("%1.{%2…%3}.%4%5")
                          .arg(g.prefix)
                          .arg(g.lo)
                          .arg(g.hi)
                          .arg(g.suffixes.join(QLatin1Char('|')), g.tail);
  return lines;
}

bool hasQdqNodes(const qs::Graph& graph) {
  return std::any_of(graph.nodes.begin(), graph.nodes.end(), [](const qs::Node& n) {
    return n.op_type == "QuantizeLinear" || n.op_type == "DequantizeLinear";
  });
}

}  // namespace

ModelController::ModelController(Workbench* workbench)
    : PageController(workbench, QStringLiteral("model")),
      layerModel_(new LayerTableModel(this)),
      layerProxy_(new QSortFilterProxyModel(this)) {
  layerProxy_->setSourceModel(layerModel_);
  layerProxy_->setSortRole(Qt::UserRole);
  layerProxy_->setFilterKeyColumn(-1);
  layerProxy_->setFilterCaseSensitivity(Qt::CaseInsensitive);
  connect(workbench, &Workbench::deviceChanged, this, &ModelController::updatePlacement);
}

ModelLoad ModelController::load(const QString& pathOrUrl) {
  const QUrl url(pathOrUrl);
  const QString path = url.isLocalFile() ? url.toLocalFile() : pathOrUrl;
  ModelLoad r;
  std::shared_ptr<const qs::Graph> graph;
  // A package (folder or .zip) or a QDQ model opens as its float model with the quantization
  // recovered from its Q/DQ nodes.
  auto import = [&](const qs::QdqImport& i) {
    graph = std::make_shared<const qs::Graph>(i.graph);
    r.imported = std::make_shared<const qs::QuantizedModel>(i.quantized);
    r.importNote = tr("A quantized (QDQ) model: opened as its float model with weights "
                      "dequantized, and its quantization (%1 weights, %2 activations) recovered "
                      "from the Q/DQ nodes, ready to export again or to requantize.")
                       .arg(i.quantized.weights.size())
                       .arg(i.quantized.activations.size());
  };
  const std::string p = path.toStdString();
  if (QFileInfo(path).isDir() || path.endsWith(QStringLiteral(".zip"))) {
    import(qs::import_qdq(p));
  } else {
    try {
      graph = std::make_shared<const qs::Graph>(qs::load_model(p));
    } catch (const qs::Unsupported&) {
      import(qs::import_qdq(p));  // int4/int16 tensors load only this way; else its error
    }
    if (!r.imported && hasQdqNodes(*graph)) import(qs::import_qdq(p));
  }
  r.model.info = qs::describe_model(*graph);
  r.model.preprocess = qs::preprocess_from_model(*graph);
  r.model.graph = std::move(graph);
  r.model.path = path;
  if (QFileInfo(path).isFile()) {
    try {
      r.model.sha = QString::fromStdString(qs::file_sha256(p));
    } catch (const std::exception&) {
      // Unreadable now but read a moment ago: the project is saved without a digest.
    }
  }
  return r;
}

void ModelController::install(ModelLoad load) {
  const qs::ModelInfo& info = load.model.info;
  inputs_.clear();
  outputs_.clear();
  inputs_ = describeValues(info.inputs);
  outputs_ = describeValues(info.outputs);
  QStringList ops;
  for (const auto& [op, count] : info.op_histogram)
    ops.append(QStringLiteral("%1 × %2").arg(op.c_str()).arg(count));
  summary_ = {};
  summary_.name = QString::fromStdString(load.model.graph->name);
  summary_.params = groupedNumber(info.total_params);
  summary_.macs = groupedNumber(info.total_macs);
  summary_.weightBytes = double(info.weight_bytes);
  summary_.opset = int(info.opset);
  summary_.layerCount = int(info.layers.size());
  summary_.ops = ops.join(QStringLiteral(", "));
  summary_.imported = load.importNote;
  blocks_ = layerBlocks(info.layers);
  setError({});
  wb().setModel(std::move(load.model), load.imported);
  decoder_ = wb().isDecoder();
  updatePlacement();
  emit changed();
}

void ModelController::updatePlacement() {
  if (!wb().hasModel()) return;
  std::vector<qs::Placement> placements;
  try {
    placements = qs::placement(*wb().registry().create_device(wb().device().toStdString()),
                               *wb().loaded().graph);
  } catch (const std::exception& e) {
    setError(QString::fromUtf8(e.what()));
  }
  layerModel_->setLayers(wb().loaded().info.layers, placements);
}

}  // namespace qs::gui
