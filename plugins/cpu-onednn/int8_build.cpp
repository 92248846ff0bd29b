// Building the steps of integer mode (int8.h): the group an int8 layer fuses, where it writes
// its codes (requantization fused through Flatten, Reshape and wide MaxPools), FakeQuants fused
// into the layer before them, and the weight-only layers' packed weights.
//
// Weight-only layers: the plan keeps the codes (bits <= 4: two per byte; 5..8 bits: one s8 per
// byte) with one f32 scale and one i32 zero point per output channel (or group), and unpacks
// them on every run, in a "Dequantize (wN)" step of its own (named NODE::weights), into one fp32
// buffer shared by all such layers of the plan (the size of the largest), which the fp32
// primitive reads: Gemm and MatMul read it as it is, a Conv reorders it into oneDNN's blocked
// weight layout on every run (a buffer of that layer's own). Memory: the codes at their bit
// width plus the one shared buffer, plus for each Conv its blocked fp32 weights. Time: one pass
// over the weights per layer and run instead of none. At batch 64, two threads, on the bundled
// models with 4-bit weights (this machine, AVX-512): each unpack step takes 5 to 10 us (most of
// it the OpenMP fork); a run takes lenet 0.39 ms against 0.33 simulated (fp32 weights kept),
// mobilenet 0.94 against 0.75 (13 Convs, each with its weight reorder), vit 1.54 against 1.41.
#include <algorithm>
#include <cstring>

#include "int8.h"
#include "plan.h"

namespace qs::onednn {

std::shared_ptr<IntegerPlan> integer_plan(const Graph& graph, const ShapeOf& shape_of) {
  return std::make_shared<IntegerPlan>(plan_integer(graph, shape_of));
}

namespace {

// Integer weight codes and their grids, unpacked to floats on demand.
struct PackedWeights {
  int bits = 8;
  std::vector<std::uint8_t> bytes;  // bits <= 4: code i in the low (even i) or high nibble
  std::vector<float> scales;
  std::vector<std::int32_t> zero_points;
  std::int64_t rows = 0, cols = 0, groups_per_row = 1, group_size = 0;
  bool kn = false;  // stored [K, N] (MatMul, Gemm without transB): row n, column k

  std::int8_t code(std::int64_t i) const {
    if (bits > 4) return static_cast<std::int8_t>(bytes[static_cast<std::size_t>(i)]);
    const std::uint8_t b = bytes[static_cast<std::size_t>(i >> 1)];
    return static_cast<std::int8_t>((i & 1) ? static_cast<std::int8_t>(b) >> 4
                                            : static_cast<std::int8_t>(b << 4) >> 4);
  }

  // Codes begin..begin+n into out.
  void decode(std::int64_t begin, std::int64_t n, std::int8_t* out) const {
    if (bits > 4) {
      std::memcpy(out, bytes.data() + begin, static_cast<std::size_t>(n));
      return;
    }
    std::int64_t k = 0;
    if (begin & 1) out[k++] = code(begin);
    const std::uint8_t* b = bytes.data() + ((begin + k) >> 1);
    const std::int64_t pairs = (n - k) / 2;
    std::int8_t* o = out + k;
#pragma omp simd
    for (std::int64_t j = 0; j < pairs; ++j) {
      o[2 * j] = static_cast<std::int8_t>(static_cast<std::int8_t>(b[j] << 4) >> 4);
      o[2 * j + 1] = static_cast<std::int8_t>(static_cast<std::int8_t>(b[j]) >> 4);
    }
    for (k += 2 * pairs; k < n; ++k) out[k] = code(begin + k);
  }

  // (code - zero point) * scale in the weight tensor's order, as apply_quantization() computes,
  // one stored row at a time.
  void unpack(float* out) const {
    const std::int64_t outer = kn ? cols : rows, inner = kn ? rows : cols;
#pragma omp parallel  // on all threads: idle workers would make the next primitive slower
    {
      std::vector<std::int8_t> row(static_cast<std::size_t>(inner));
      const std::int8_t* c = row.data();
#pragma omp for
      for (std::int64_t o = 0; o < outer; ++o) {
        decode(o * inner, inner, row.data());
        float* y = out + o * inner;
        if (!kn) {  // matrix row o, in groups of columns
          for (std::int64_t gi = 0; gi < groups_per_row; ++gi) {
            const std::size_t g = static_cast<std::size_t>(o * groups_per_row + gi);
            const float s = scales[g];
            const std::int32_t z = zero_points[g];
            const std::int64_t at = gi * group_size, end = std::min(cols, at + group_size);
#pragma omp simd
            for (std::int64_t k = at; k < end; ++k) y[k] = static_cast<float>(c[k] - z) * s;
          }
        } else if (groups_per_row == 1) {  // matrix column o of every row
          const float* s = scales.data();
          const std::int32_t* z = zero_points.data();
#pragma omp simd
          for (std::int64_t r = 0; r < inner; ++r) y[r] = static_cast<float>(c[r] - z[r]) * s[r];
        } else {
          const std::int64_t gi = o / group_size;
          for (std::int64_t r = 0; r < inner; ++r) {
            const std::size_t g = static_cast<std::size_t>(r * groups_per_row + gi);
            y[r] = static_cast<float>(c[r] - zero_points[g]) * scales[g];
          }
        }
      }
    }
  }
};

PackedWeights pack_weights(const Node& n, const LayerQuant& q) {
  PackedWeights w;
  w.bits = q.w_bits;
  w.scales = q.scales;
  w.zero_points = q.zero_points;
  w.groups_per_row = q.groups_per_row;
  w.group_size = q.group_size;
  w.rows = static_cast<std::int64_t>(q.scales.size()) / q.groups_per_row;
  w.cols = q.codes->numel() / w.rows;
  w.kn = n.op_type == "MatMul" || (n.op_type == "Gemm" && n.attr_int("transB", 0) == 0);
  const std::int8_t* c = q.codes->data<std::int8_t>();
  const std::int64_t count = q.codes->numel();
  if (w.bits <= 4) {
    w.bytes.assign(static_cast<std::size_t>((count + 1) / 2), 0);
    for (std::int64_t i = 0; i < count; ++i)
      w.bytes[static_cast<std::size_t>(i >> 1)] |=
          static_cast<std::uint8_t>((c[i] & 0xF) << ((i & 1) * 4));
  } else {
    w.bytes.assign(reinterpret_cast<const std::uint8_t*>(c),
                   reinterpret_cast<const std::uint8_t*>(c) + count);
  }
  return w;
}

// MaxPool, Flatten, Reshape (and for fp32 values Transpose) of `value` commute with
// quantization: on codes they give the codes of their float result, and a FakeQuant after them
// gives what it gives before them.
bool commutes(const Graph& graph, const Node& n, const ShapeOf& shape_of, const std::string& value,
              bool codes) {
  if (!(n.domain.empty() || n.domain == "ai.onnx") || n.inputs.empty() || n.inputs[0] != value ||
      n.outputs.empty() || n.outputs[0].empty())
    return false;
  for (std::size_t k = 1; k < n.outputs.size(); ++k)
    if (!n.outputs[k].empty()) return false;
  const Tensor* in = shape_of(value);
  const Tensor* out = shape_of(n.outputs[0]);
  if (!in || !out) return false;
  // oneDNN 2.6's u8 max pooling (channels-last) takes about as long per pixel for 16 channels as
  // for 64, where its fp32 pooling is 4x faster (batch 64, 16x16 -> 8x8, one thread: u8 0.067 ms
  // at 16 channels, 0.072 at 64, 0.088 at 128; fp32 0.019, 0.073, 0.136): codes pass through a
  // MaxPool from 64 channels on, below that it pools in fp32 and a FakeQuant quantizes after it.
  if (n.op_type == "MaxPool")
    return unsupported(graph, n, shape_of).empty() &&
           (!codes || (in->rank() >= 2 && in->shape()[1] >= 64));
  if (n.op_type == "Flatten") return out->numel() == in->numel();
  if (n.op_type == "Reshape")
    return n.inputs.size() == 2 && constant_value(graph, n.inputs[1]) &&
           out->numel() == in->numel();
  if (n.op_type == "Transpose") return !codes && out->numel() == in->numel();
  return false;
}

struct Chain {
  std::vector<int> nodes;  // the commuting nodes, in order
  int fake_quant = -1;     // the FakeQuant at its end
  bool codes = true;       // the layer writes its codes; else its fake-quantized fp32 values
};

// From `value` (written by the node at `after`): single-reader commuting nodes up to a
// FakeQuant of role `want` (quantize: codes; fake_quant: fp32). Empty when there is none.
Chain fusable_chain(const FusionContext& ctx, const IntegerPlan& ip, std::string value, int after,
                    IntRole want) {
  Chain chain;
  chain.codes = want == IntRole::quantize;
  for (;;) {
    auto it = ctx.consumers.find(value);
    if (it == ctx.consumers.end() || it->second != 1) return {};
    int j = -1;
    for (std::size_t k = after + 1; k < ctx.graph.nodes.size() && j < 0; ++k)
      for (const std::string& in : ctx.graph.nodes[k].inputs)
        if (in == value) j = static_cast<int>(k);
    if (j < 0 || ctx.claimed[j]) return {};
    if (ip.role[j] == want) {
      chain.fake_quant = j;
      return chain;
    }
    if (!commutes(ctx.graph, ctx.graph.nodes[j], ctx.shape_of, value, chain.codes)) return {};
    chain.nodes.push_back(j);
    value = ctx.graph.nodes[j].outputs[0];
    after = j;
  }
}

}  // namespace

bool Plan::build_integer(FusionContext& ctx, int i) {
  IntegerPlan& ip = *int8_;
  const Node& node = graph.nodes[i];
  switch (ip.role[i]) {
    case IntRole::none:
      // A quantized layer that stays simulated says why in its step's name.
      if (ip.reason[i].empty() || !unsupported(graph, node, ctx.shape_of).empty()) return false;
      build_float(ctx, i, " (simulated: " + ip.reason[i] + ")");
      return true;
    case IntRole::weight_only:
      return build_weight_only(ctx, i);
    case IntRole::quantize:
    case IntRole::fake_quant: {
      const bool codes = ip.role[i] == IntRole::quantize;
      Step step{node.name, codes ? "FakeQuant (int8)" : "FakeQuant", {}, nullptr, {}, {}, {}, {},
                {}};
      make_fake_quant(*this, node, ip.grid.at(i), codes, codes && ip.channels_last.at(i), step);
      steps.push_back(std::move(step));
      return true;
    }
    case IntRole::integer:
      break;
  }
  const LayerQuant& q = ip.layer.at(i);
  const ActGrid& xg = ip.grid.at(ip.fake_quant_of.at(node.inputs[0]));
  const std::vector<bool> claimed = ctx.claimed;
  // With its post-ops and the requantization; with its post-ops; alone.
  bool had_chain = true;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (attempt == 1 && !had_chain) continue;  // the same as the first
    ctx.claimed = claimed;
    Group group = make_group(ctx, i, attempt < 2);
    int last = i;
    for (const Node* n : group.nodes)
      last = std::max(last, static_cast<int>(n - graph.nodes.data()));
    // The FakeQuant its output goes to: codes for int8 readers, else fp32 fake quantization.
    Chain chain;
    // A Conv whose residual Add is a sum post-op writes fp32: its FakeQuant runs on its own.
    const bool residual = node.op_type == "Conv" && residual_first(group, shape(node.outputs[0]));
    if (attempt == 0 && !residual) {
      chain = fusable_chain(ctx, ip, group.output, last, IntRole::quantize);
      if (chain.fake_quant < 0)
        chain = fusable_chain(ctx, ip, group.output, last, IntRole::fake_quant);
      had_chain = chain.fake_quant >= 0;
    }
    IntOutput out;
    out.value = group.output;
    if (chain.fake_quant >= 0) {
      out.grid = &ip.grid.at(chain.fake_quant);
      out.codes = chain.codes;
    }
    const std::string fq_out = out.grid ? graph.nodes[chain.fake_quant].outputs[0] : std::string();
    if (out.codes && out.grid && chain.nodes.empty()) out.value = fq_out;
    const std::vector<Slot> saved_slots = slots;
    const std::map<std::string, int> saved_names = slot_of;
    const std::size_t saved_steps = steps.size();
    try {
      Step step{node.name, "", {}, nullptr, {}, {}, {}, {}, {}};
      for (const Node* n : group.nodes) step.op += (step.op.empty() ? "" : "+") + n->op_type;
      if (out.grid) step.op += "+FakeQuant";
      step.op += " (int8)";
      if (node.op_type == "Conv")
        make_int_conv(*this, group, step, q, xg, out);
      else if (node.op_type == "Gemm")
        make_int_gemm(*this, group, step, q, xg, out);
      else
        make_int_matmul(*this, group, step, q, xg, out);
      steps.push_back(std::move(step));
      if (out.grid && !out.codes) {
        // The commuting nodes run as they are, on fake-quantized values; the FakeQuant's output
        // is their output.
        const std::string last_value =
            chain.nodes.empty() ? group.output : graph.nodes[chain.nodes.back()].outputs[0];
        slot_of[fq_out] = slot(last_value);
      }
      for (std::size_t k = 0; out.codes && k < chain.nodes.size(); ++k) {
        const Node& n = graph.nodes[chain.nodes[k]];
        const std::string value = k + 1 == chain.nodes.size() ? fq_out : n.outputs[0];
        Step s{n.name, n.op_type + " (int8)", {}, nullptr, {}, {}, {}, {}, {}};
        if (n.op_type == "MaxPool")
          make_pool_codes(*this, n, value, s);
        else
          make_reshape_codes(*this, n, value, s);
        if (!s.execs.empty()) steps.push_back(std::move(s));
        ctx.claimed[chain.nodes[k]] = true;
      }
      if (out.grid) ctx.claimed[chain.fake_quant] = true;
      return true;
    } catch (const dnnl::error&) {
      slots = saved_slots;
      slot_of = saved_names;
      steps.erase(steps.begin() + static_cast<std::ptrdiff_t>(saved_steps), steps.end());
    }
  }
  throw Error("cpu-onednn: oneDNN has no int8 primitive for node '" + node.name + "' (" +
              node.op_type + ")");
}

bool Plan::build_weight_only(FusionContext& ctx, int i) {
  IntegerPlan& ip = *int8_;
  const Node& node = graph.nodes[i];
  const LayerQuant& q = ip.layer.at(i);
  auto packed = std::make_shared<const PackedWeights>(pack_weights(node, q));
  const std::string bits = " (w" + std::to_string(q.w_bits) + ")";
  // The weights' slot: the shared buffer, rewritten by the step before the layer's.
  Slot w;
  w.shape = q.codes->shape();
  w.tensor = ip.scratch;
  w.has_plain = w.owned = true;
  slots.push_back(std::move(w));
  const int ws = static_cast<int>(slots.size()) - 1;
  slot_of[node.inputs[1]] = ws;
  float* buffer = ip.scratch.data<float>();
  const std::size_t unpack_step = steps.size();
  steps.push_back(Step{node.name + "::weights",
                       "Dequantize" + bits,
                       {},
                       nullptr,
                       {},
                       {},
                       [packed, buffer] { packed->unpack(buffer); },
                       {},
                       {}});
  if (build_float(ctx, i, bits)) return true;
  // The reference kernel reads the weights as a tensor of their own shape.
  Tensor own(DType::f32, slots[ws].shape);
  slots[ws].tensor = own;
  float* data = own.data<float>();
  steps[unpack_step].host = [packed, data] { packed->unpack(data); };
  return true;
}

bool Plan::build_float(FusionContext& ctx, int i, const std::string& suffix) {
  const std::vector<bool> claimed = ctx.claimed;
  for (bool fuse : {true, false}) {
    ctx.claimed = claimed;
    Group group = make_group(ctx, i, fuse);
    const std::vector<Slot> saved_slots = slots;
    const std::map<std::string, int> saved_names = slot_of;
    try {
      build_step(group);
      steps.back().op += suffix;
      return true;
    } catch (const dnnl::error&) {
      slots = saved_slots;
      slot_of = saved_names;
    }
  }
  ctx.claimed = claimed;
  add_ref_step(graph.nodes[i]);
  return false;
}

}  // namespace qs::onednn
