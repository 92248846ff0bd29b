#include "tune_model.h"

#include <algorithm>
#include <cmath>

namespace qs::gui {

namespace {

// The same scale as the Analyze page's heat map: 1e-4 nats harmless, 1 nat ruined.
double klSeverity(double kl) {
  if (!std::isfinite(kl)) return 1.0;
  return std::clamp((std::log10(std::max(kl, 1e-12)) + 4.0) / 4.0, 0.0, 1.0);
}

}  // namespace

TuneModel::TuneModel(QObject* parent) : QAbstractTableModel(parent) {
  updateTotals();
}

void TuneModel::setLayers(std::vector<Layer> layers, Fixed fixed) {
  const std::map<std::string, int> previous = bitsMap();
  beginResetModel();
  layers_ = std::move(layers);
  fixed_ = std::move(fixed);
  bits_.assign(layers_.size(), 8);
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    auto it = previous.find(layers_[i].name);
    bits_[i] = it != previous.end() ? it->second : 8;
    if (!chosen(i) && !layers_[i].choices.empty()) bits_[i] = layers_[i].choices.back().bits;
  }
  endResetModel();
  updateTotals();
}

void TuneModel::clear() {
  beginResetModel();
  layers_.clear();
  bits_.clear();
  fixed_ = {};
  endResetModel();
  updateTotals();
}

const TuneModel::Choice* TuneModel::chosen(std::size_t row) const {
  for (const Choice& c : layers_[row].choices)
    if (c.bits == bits_[row]) return &c;
  return nullptr;
}

bool TuneModel::setBits(int row, int bits) {
  if (row < 0 || row >= rowCount()) return false;
  const std::size_t r = static_cast<std::size_t>(row);
  const auto& choices = layers_[r].choices;
  if (std::none_of(choices.begin(), choices.end(), [&](const Choice& c) { return c.bits == bits; }))
    return false;
  if (bits_[r] == bits) return true;
  bits_[r] = bits;
  emit dataChanged(index(row, kBits), index(row, kLatency));
  updateTotals();
  emit bitsChanged();
  return true;
}

void TuneModel::setAllBits(int bits) {
  for (std::size_t r = 0; r < layers_.size(); ++r) {
    const auto& choices = layers_[r].choices;
    if (choices.empty()) continue;
    const Choice* best = &choices.front();
    for (const Choice& c : choices)
      if (std::abs(c.bits - bits) < std::abs(best->bits - bits)) best = &c;
    bits_[r] = best->bits;
  }
  if (!layers_.empty()) emit dataChanged(index(0, kBits), index(rowCount() - 1, kLatency));
  updateTotals();
  emit bitsChanged();
}

void TuneModel::setBitsMap(const std::map<std::string, int>& bits) {
  bool changed = false;
  for (std::size_t r = 0; r < layers_.size(); ++r) {
    auto it = bits.find(layers_[r].name);
    if (it == bits.end() || it->second == bits_[r]) continue;
    const int old = bits_[r];
    bits_[r] = it->second;
    if (chosen(r))
      changed = true;
    else
      bits_[r] = old;
  }
  if (!changed) return;
  emit dataChanged(index(0, kBits), index(rowCount() - 1, kLatency));
  updateTotals();
  emit bitsChanged();
}

std::map<std::string, int> TuneModel::bitsMap() const {
  std::map<std::string, int> out;
  for (std::size_t r = 0; r < layers_.size(); ++r) out[layers_[r].name] = bits_[r];
  return out;
}

void TuneModel::updateTotals() {
  double kl = 0, bytes = fixed_.bytes, bops = fixed_.bops, ms = fixed_.ms, bit_params = 0;
  bool timed = fixed_.ms >= 0;  // every layer has a time in the table
  std::int64_t params = 0;
  for (std::size_t r = 0; r < layers_.size(); ++r) {
    const Choice* c = chosen(r);
    if (!c) continue;
    kl += c->kl;
    bytes += c->bytes;
    bops += c->bops;
    timed = timed && c->ms >= 0;
    ms += c->ms;
    bit_params += double(c->bits) * double(layers_[r].params);
    params += layers_[r].params;
  }
  totals_ = {{"predictedKl", kl},
             {"bytes", bytes},
             {"fp32Bytes", fixed_.fp32_bytes},
             {"bops", bops},
             {"latencyMs", timed && !layers_.empty() ? ms : -1.0},
             {"latencyDevice", QString::fromStdString(fixed_.latency_device)},
             {"averageBits", params > 0 ? bit_params / double(params) : 0.0},
             {"layers", int(layers_.size())}};
  emit totalsChanged();
}

int TuneModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : int(layers_.size());
}

int TuneModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : kColumns;
}

QVariant TuneModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid)) return {};
  const std::size_t r = static_cast<std::size_t>(index.row());
  const Layer& l = layers_[r];
  const Choice* c = chosen(r);
  if (role == kBitsRole) return bits_[r];
  if (role == kChoicesRole) {
    QVariantList list;
    for (const Choice& choice : l.choices) list.append(choice.bits);
    return list;
  }
  if (role == kSeverityRole) return c ? klSeverity(c->kl) : 0.0;
  if (role == kNameRole) return QString::fromStdString(l.name);
  if (role == kOpRole) return QString::fromStdString(l.op);
  if (role == kParamsRole) return qint64(l.params);
  if (role >= kKlRole && role <= kMsRole) {
    if (!c) return {};
    const double v = role == kKlRole      ? c->kl
                     : role == kBytesRole ? c->bytes
                     : role == kBopsRole  ? c->bops
                                          : c->ms;
    return v;
  }
  if (role != Qt::DisplayRole && role != kValueRole) return {};
  const bool display = role == Qt::DisplayRole;
  switch (index.column()) {
    case kLayer:
      return QString::fromStdString(l.name);
    case kOp:
      return QString::fromStdString(l.op);
    case kParams:
      return qint64(l.params);
    case kBits:
      return bits_[r];
    case kKl:
      if (!c) return {};
      return display ? QVariant(QString::number(c->kl, 'g', 3)) : QVariant(c->kl);
    case kBytes:
      if (!c) return {};
      return display ? QVariant(QString::number(c->bytes / 1024.0, 'f', 1) + QStringLiteral(" KB"))
                     : QVariant(c->bytes);
    case kBops:
      if (!c) return {};
      return display ? QVariant(QString::number(c->bops / 1e6, 'f', 2) + QStringLiteral(" M"))
                     : QVariant(c->bops);
    case kLatency:
      if (!c || c->ms < 0) return display ? QVariant(QStringLiteral("–")) : QVariant();
      return display ? QVariant(QString::number(c->ms, 'f', 3)) : QVariant(c->ms);
    default:
      return {};
  }
}

bool TuneModel::setData(const QModelIndex& index, const QVariant& value, int role) {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid) || index.column() != kBits ||
      (role != Qt::EditRole && role != kBitsRole))
    return false;
  return setBits(index.row(), value.toInt());
}

Qt::ItemFlags TuneModel::flags(const QModelIndex& index) const {
  Qt::ItemFlags f = QAbstractTableModel::flags(index);
  if (index.isValid() && index.column() == kBits) f |= Qt::ItemIsEditable;
  return f;
}

QVariant TuneModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  static const char* names[] = {"Layer",    "Op",   "Params", "Bits",
                                "Pred. KL", "Size", "BOPs",   "Latency ms"};
  return section >= 0 && section < kColumns ? QString::fromLatin1(names[section]) : QVariant();
}

QHash<int, QByteArray> TuneModel::roleNames() const {
  QHash<int, QByteArray> names = QAbstractTableModel::roleNames();
  names[kValueRole] = "value";
  names[kBitsRole] = "bits";
  names[kChoicesRole] = "choices";
  names[kSeverityRole] = "severity";
  names[kNameRole] = "layerName";
  names[kOpRole] = "layerOp";
  names[kParamsRole] = "layerParams";
  names[kKlRole] = "kl";
  names[kBytesRole] = "bytes";
  names[kBopsRole] = "bops";
  names[kMsRole] = "ms";
  return names;
}

}  // namespace qs::gui
