#include "layer_table_model.h"

#include <QLocale>
#include <QRegularExpression>
#include <QVariantMap>
#include <algorithm>
#include <map>

namespace qs::gui {

QVariantList layerBlocks(const std::vector<qs::LayerInfo>& layers) {
  struct Block {
    QString name;
    qint64 layers = 0, params = 0, macs = 0;
  };
  std::vector<Block> blocks;
  Block outside{QObject::tr("outside the blocks")};
  static const QRegularExpression indexed(QStringLiteral("^[A-Za-z_][A-Za-z0-9_]*\\.[0-9]+$"));
  for (const qs::LayerInfo& l : layers) {
    const QStringList parts = QString::fromStdString(l.name).split(QLatin1Char('/'));
    QString name;
    for (int i = 0; i + 1 < parts.size() && name.isEmpty(); ++i)
      if (indexed.match(parts[i]).hasMatch()) name = parts[i];
    auto it =
        std::find_if(blocks.begin(), blocks.end(), [&](const Block& b) { return b.name == name; });
    Block& b =
        name.isEmpty() ? outside : (it != blocks.end() ? *it : blocks.emplace_back(Block{name}));
    ++b.layers;
    b.params += l.params;
    b.macs += l.macs;
  }
  QVariantList out;
  if (blocks.size() < 2) return out;
  auto view = [](const Block& b, const QString& filter) {
    return QVariantMap{{"name", b.name},
                       {"filter", filter},
                       {"layers", b.layers},
                       {"params", b.params},
                       {"macs", b.macs}};
  };
  for (const Block& b : blocks) out.append(view(b, QLatin1Char('/') + b.name + QLatin1Char('/')));
  if (outside.layers > 0) out.append(view(outside, QString()));
  return out;
}

QString groupedNumber(qint64 value) {
  static const QLocale english(QLocale::English);
  return english.toString(value);
}

LayerTableModel::LayerTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void LayerTableModel::setLayers(const std::vector<qs::LayerInfo>& layers,
                                const std::vector<qs::Placement>& placements) {
  std::map<std::string, const qs::Placement*> by_node;
  for (const qs::Placement& p : placements) by_node[p.node] = &p;
  beginResetModel();
  rows_.clear();
  for (const qs::LayerInfo& layer : layers) {
    Row row{layer, {}, {}};
    if (auto it = by_node.find(layer.name); it != by_node.end()) {
      row.runsOn = QString::fromStdString(it->second->device);
      row.fallbackReason = QString::fromStdString(it->second->reason);
    }
    rows_.push_back(std::move(row));
  }
  endResetModel();
}

int LayerTableModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(rows_.size());
}

int LayerTableModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : kColumnCount;
}

QVariant LayerTableModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid)) return {};
  const Row& row = rows_[static_cast<std::size_t>(index.row())];
  const qs::LayerInfo& l = row.layer;
  if (role == Qt::ToolTipRole) return row.fallbackReason;
  if (role != Qt::DisplayRole && role != Qt::UserRole) return {};
  const bool raw = role == Qt::UserRole;
  switch (index.column()) {
    case kName:
      return QString::fromStdString(l.name);
    case kOp:
      return QString::fromStdString(l.op_type);
    case kParams:
      return raw ? QVariant(qint64(l.params)) : QVariant(groupedNumber(l.params));
    case kMacs:
      return raw ? QVariant(qint64(l.macs)) : QVariant(groupedNumber(l.macs));
    case kOutput:
      return QString::fromStdString(qs::dims_text(l.output_dims));
    case kRunsOn:
      if (row.fallbackReason.isEmpty()) return row.runsOn;
      return raw ? row.runsOn : row.runsOn + QStringLiteral(" (") + row.fallbackReason + ')';
    default:
      return {};
  }
}

QVariant LayerTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  static const char* names[] = {"Layer", "Op", "Params", "MACs", "Output", "Runs on"};
  return section >= 0 && section < kColumnCount ? QString::fromLatin1(names[section]) : QVariant();
}

QHash<int, QByteArray> LayerTableModel::roleNames() const {
  return {{Qt::DisplayRole, "display"}, {Qt::ToolTipRole, "toolTip"}, {Qt::UserRole, "sortValue"}};
}

}  // namespace qs::gui
