// Recognising a decoder's inputs and outputs, and running it step by step with its cache.
#include <algorithm>
#include <bit>
#include <cstring>
#include <exception>
#include <map>
#include <optional>

#include "quantscope/error.h"
#include "quantscope/job.h"
#include "quantscope/language_model.h"
#include "text/decoder_graph.h"

namespace qs {

namespace {

const ValueInfo* find_value(const std::vector<ValueInfo>& values, const std::string& name) {
  for (const ValueInfo& v : values)
    if (v.name == name) return &v;
  return nullptr;
}

// "past_key_values.3.key" -> {3, "key"}; layer -1 when the name is not of that form.
std::pair<int, std::string> past_name_parts(const std::string& name) {
  const std::string prefix = "past_key_values.";
  if (name.rfind(prefix, 0) != 0) return {-1, ""};
  const auto dot = name.find('.', prefix.size());
  if (dot == std::string::npos) return {-1, ""};
  const std::string number = name.substr(prefix.size(), dot - prefix.size());
  if (number.empty() || number.size() > 6 ||
      !std::all_of(number.begin(), number.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return {-1, ""};
  return {std::stoi(number), name.substr(dot + 1)};
}

}  // namespace

std::optional<DecoderLayout> decoder_layout(const Graph& graph) {
  DecoderLayout layout;
  const ValueInfo* ids = find_value(graph.inputs, "input_ids");
  if (!ids) {
    std::vector<const ValueInfo*> int_inputs;
    for (const ValueInfo& v : graph.inputs)
      if (v.dtype == DType::i64 && v.shape.size() == 2) int_inputs.push_back(&v);
    if (int_inputs.size() != 1 || graph.inputs.size() != 1) return std::nullopt;
    ids = int_inputs[0];
  }
  if (ids->dtype != DType::i64) return std::nullopt;
  // An encoder (RoBERTa, DistilBERT) also takes input_ids and gives a rank-3 first output, its
  // hidden states: a decoder's output is named logits, or the model has a cache.
  const ValueInfo* logits = find_value(graph.outputs, "logits");
  const bool has_past = std::any_of(graph.inputs.begin(), graph.inputs.end(), [](const auto& v) {
    return v.name.rfind("past_key_values.", 0) == 0;
  });
  if (!logits && has_past && !graph.outputs.empty()) logits = &graph.outputs[0];
  if (!logits || logits->shape.size() != 3) return std::nullopt;
  layout.input_ids = ids->name;
  layout.logits = logits->name;
  layout.vocab = std::max<std::int64_t>(logits->shape[2], 0);
  if (find_value(graph.inputs, "attention_mask")) layout.attention_mask = "attention_mask";
  if (find_value(graph.inputs, "position_ids")) layout.position_ids = "position_ids";

  std::map<std::pair<int, std::string>, const ValueInfo*> past;
  for (const ValueInfo& v : graph.inputs) {
    if (&v == ids || v.name == layout.attention_mask || v.name == layout.position_ids) continue;
    auto parts = past_name_parts(v.name);
    // Another input (BERT's token_type_ids, an encoder's states): not a decoder of this layout.
    if (parts.first < 0 || (parts.second != "key" && parts.second != "value")) return std::nullopt;
    past[parts] = &v;
  }
  for (const auto& [parts, v] : past) {
    const std::string present = "present." + std::to_string(parts.first) + "." + parts.second;
    if (!find_value(graph.outputs, present))
      throw Error("decoder input '" + v->name + "' has no output '" + present + "'");
    if (v->shape.size() != 4 || v->dtype != DType::f32)
      throw Error("decoder input '" + v->name +
                  "' must be float32 [batch, heads, past, head size], not " + dtype_name(v->dtype) +
                  " of rank " + std::to_string(v->shape.size()));
    if (v->shape[1] < 1 || v->shape[3] < 1)
      throw Error("decoder input '" + v->name +
                  "': its heads and head size must be numbers in the file, not dynamic");
    layout.cache.push_back({v->name, present, {0, v->shape[1], 0, v->shape[3]}});
  }
  return layout;
}

DecoderLayout require_decoder(const Graph& graph) {
  auto layout = decoder_layout(graph);
  if (!layout)
    throw Error(
        "not a language model: a decoder takes int64 token ids (an input named input_ids) and "
        "gives logits [batch, sequence, vocab]");
  return *layout;
}

// The cache. A decoder in the Optimum layout appends this step's keys and values to the past it
// is fed, so the past grows by a token per step, and a device that prepares per input shape
// (cpu-onednn, Vulkan) would prepare again at every token. When the model takes an attention
// mask and positions, the session instead feeds a past of a fixed capacity (doubling when
// full): rows [0, length) hold the keys and values so far, the rest are masked out by the
// attention mask, and the positions are given explicitly; after each step the new rows of the
// present are copied into place. The shapes then change once per doubling, not per token.
// Where the model's attention fuses (with_appended_cache), the padded cache is read in place by
// the fused attention and the model gives only the new rows: no copy of the past per token.
struct DecoderSession::State {
  DecoderLayout layout;
  Device* device = nullptr;
  // The graphs a feed may run, by (appending to the cache, last position's logits only): the
  // model as given (false, false), its head on the last position alone (with_last_position_
  // logits), and both with the appended cache, for a padded cache. Each compiled on first use;
  // one the device cannot run is dropped, and the feed runs the model as given instead.
  struct Variant {
    std::optional<Graph> graph;  // unset for the model as given
    std::unique_ptr<CompiledGraph> compiled;
    bool unavailable = false;
  };
  Variant variants[4];
  std::vector<std::string> appended_rows;  // per cache entry, with an appended variant
  CompiledGraph* last_run = nullptr;       // the one the last feed ran
  bool profiling = false;
  CompiledGraph& compiled(bool appended, bool last_only);
  bool padded = false;        // the masked, fixed-capacity cache above, for this sequence
  bool paddable = false;      // ... for the model (a failure may rule it out, see feed)
  std::int64_t capacity = 0;  // rows of each cache tensor (padded)
  // The most rows a padded past may have, once the model refused more (see feed); 0: no bound.
  std::int64_t max_capacity = 0;
  std::vector<Tensor> cache;          // one per layout.cache: [1, heads, capacity or length, d]
  std::vector<std::int64_t> history;  // for a decoder without a cache
  std::int64_t length = 0;
};

namespace {

constexpr std::int64_t kMinCapacity = 32;

// `t` [1, heads, rows, d] copied into a new tensor of `capacity` rows (the rest zero).
Tensor with_capacity(const Tensor& t, std::int64_t rows, std::int64_t capacity) {
  Tensor out(DType::f32, {1, t.dim(1), capacity, t.dim(3)});
  std::fill_n(out.data<float>(), out.numel(), 0.0f);
  const std::int64_t d = t.dim(3);
  for (std::int64_t h = 0; h < t.dim(1); ++h)
    std::memcpy(out.data<float>() + h * capacity * d, t.data<float>() + h * t.dim(2) * d,
                static_cast<std::size_t>(rows * d) * sizeof(float));
  return out;
}

}  // namespace

DecoderSession::DecoderSession(const Graph& graph, Device& device)
    : state_(std::make_unique<State>()) {
  state_->layout = require_decoder(graph);
  state_->paddable = !state_->layout.cache.empty() && !state_->layout.attention_mask.empty() &&
                     !state_->layout.position_ids.empty();
  state_->device = &device;
  // Compiled now, so that a device refusing the model says so here rather than at a feed.
  state_->variants[0].compiled = device.compile(graph);
  // The rewrites are for speed: one that cannot be made leaves its variants out. The reference
  // kernels are the ground truth, not fast (their Attention is scalar, in double): cpu-ref runs
  // the attention as exported.
  State::Variant* v = state_->variants;
  try {
    if (device.name() != "cpu-ref")
      if (auto appended = with_appended_cache(graph, state_->layout)) {
        v[2].graph = std::move(appended->graph);
        state_->appended_rows = std::move(appended->rows);
      }
    v[1].graph = with_last_position_logits(graph, state_->layout);
    if (v[2].graph && v[1].graph)
      v[3].graph = with_last_position_logits(*v[2].graph, state_->layout);
  } catch (const Error&) {
    v[1].graph.reset();
    v[2].graph.reset();
    v[3].graph.reset();
  }
  for (int k = 1; k < 4; ++k) v[k].unavailable = !v[k].graph.has_value();
  reset();
}

DecoderSession::~DecoderSession() = default;

const DecoderLayout& DecoderSession::layout() const {
  return state_->layout;
}

std::int64_t DecoderSession::length() const {
  return state_->length;
}

void DecoderSession::set_profiling(bool on) {
  state_->profiling = on;
  for (auto& v : state_->variants)
    if (v.compiled) v.compiled->set_profiling(on);
}

CompiledGraph& DecoderSession::State::compiled(bool appended, bool last_only) {
  // The best the device runs: appended before last-position-only before the model as given.
  for (int want :
       {(appended ? 2 : 0) + (last_only ? 1 : 0), appended ? 2 : 0, last_only ? 1 : 0, 0}) {
    Variant& v = variants[want];
    if (v.unavailable || (want > 0 && !v.graph)) continue;
    if (!v.compiled) {
      // A device without a kernel for what the rewrite made (Attention) runs the model as given.
      // (Other ops a device leaves to the reference kernels cost what they cost in the model.)
      bool runs = true;
      for (const Node& n : v.graph->nodes)
        if (n.op_type == "Attention")
          runs = runs && device->unsupported_reason(*v.graph, n).empty();
      if (!runs) {
        v.unavailable = true;
        continue;
      }
      try {
        v.compiled = device->compile(*v.graph);
      } catch (const Error&) {
        v.unavailable = true;
        continue;
      }
      v.compiled->set_profiling(profiling);
    }
    last_run = v.compiled.get();
    return *v.compiled;
  }
  last_run = variants[0].compiled.get();
  return *variants[0].compiled;
}

std::vector<NodeTiming> DecoderSession::last_timings() const {
  return state_->last_run ? state_->last_run->last_timings() : std::vector<NodeTiming>{};
}

void DecoderSession::reset() {
  State& s = *state_;
  s.cache.clear();
  for (const auto& entry : s.layout.cache) {
    Shape shape = entry.shape;
    shape[0] = 1;
    s.cache.emplace_back(DType::f32, shape);
  }
  s.capacity = 0;
  s.padded = s.paddable;
  s.history.clear();
  s.length = 0;
}

Tensor DecoderSession::feed(std::span<const std::int64_t> ids, bool last_only) {
  State& s = *state_;
  if (ids.empty()) throw Error("nothing to feed the decoder");
  const bool cached = !s.layout.cache.empty();
  std::vector<std::int64_t> fed(ids.begin(), ids.end());
  if (!cached) {
    s.history.insert(s.history.end(), ids.begin(), ids.end());
    fed = s.history;
  }
  const auto n = static_cast<std::int64_t>(fed.size());
  const std::int64_t first_position = cached ? s.length : 0;
  // A padded cache too small for this step grows first (its shape, and so the plan, changes).
  if (s.padded && s.length > 0 && s.length + n > s.capacity) {
    std::int64_t grown = std::max(s.capacity, kMinCapacity);
    while (grown < s.length + n) grown *= 2;
    if (s.max_capacity > 0) grown = std::min(grown, s.max_capacity);
    if (grown < s.length + n) {  // past the model's bound: the past as it is (and its error)
      s.padded = false;
      grown = s.length;
    }
    for (Tensor& t : s.cache) t = with_capacity(t, s.length, grown);
    s.capacity = grown;
  }
  // What the last run made: the present as a whole, or (appended) this step's rows alone; the
  // logits of every position or of the last.
  bool appended = false;
  std::int64_t logit_rows = n;
  auto run = [&](std::int64_t past_rows) {
    CompiledGraph* compiled = &s.compiled(s.padded, last_only);
    auto made_by = [&](const CompiledGraph* c) {
      appended = c == s.variants[2].compiled.get() || c == s.variants[3].compiled.get();
      logit_rows = (c == s.variants[1].compiled.get() || c == s.variants[3].compiled.get()) ? 1 : n;
    };
    made_by(compiled);
    TensorMap inputs;
    inputs[s.layout.input_ids] = Tensor::from_vector<std::int64_t>({1, n}, fed);
    if (!s.layout.attention_mask.empty()) {
      std::vector<std::int64_t> mask(static_cast<std::size_t>(past_rows + n), 1);
      for (std::int64_t i = s.length; i < past_rows; ++i) mask[i] = 0;  // padding rows
      inputs[s.layout.attention_mask] =
          Tensor::from_vector<std::int64_t>({1, past_rows + n}, std::move(mask));
    }
    if (!s.layout.position_ids.empty()) {
      std::vector<std::int64_t> positions(static_cast<std::size_t>(n));
      for (std::int64_t i = 0; i < n; ++i) positions[i] = first_position + i;
      inputs[s.layout.position_ids] = Tensor::from_vector<std::int64_t>({1, n}, positions);
    }
    for (std::size_t i = 0; i < s.cache.size(); ++i) inputs[s.layout.cache[i].past] = s.cache[i];
    CompiledGraph* as_given = s.variants[0].compiled.get();
    if (compiled == as_given) return compiled->run(inputs);
    try {
      return compiled->run(inputs);
    } catch (const Cancelled&) {
      throw;
    } catch (const Error&) {
      // A rewrite that fails where the model as given runs is dropped; when both fail, the
      // model's own error (its bound on the context) is what the caller handles.
      const std::exception_ptr failure = std::current_exception();
      TensorMap out;
      try {
        made_by(as_given);
        out = as_given->run(inputs);
      } catch (const Cancelled&) {
        throw;
      } catch (const Error&) {
        made_by(compiled);
        std::rethrow_exception(failure);
      }
      for (State::Variant& v : s.variants)
        if (v.compiled.get() == compiled) v.unavailable = true;
      s.last_run = as_given;
      return out;
    }
  };
  std::int64_t past_rows = s.padded ? (s.length > 0 ? s.capacity : 0) : s.length;
  // A failure once tokens went through is most likely the model's bound on its context.
  auto bounded = [&](const Error& e) {
    return s.length == 0 ? e
                         : Error("the decoder failed at " + std::to_string(s.length + n) +
                                 " tokens of context (more than the model takes?): " + e.what());
  };
  TensorMap outputs;
  try {
    outputs = run(past_rows);
  } catch (const Cancelled&) {
    throw;
  } catch (const Error& e) {
    if (!s.padded || past_rows == s.length) throw bounded(e);
    // A model that bounds the keys it attends to (GPT-2 slices its causal mask from a constant
    // table of its 1024 positions) refuses a padded past that reaches past the bound, though the
    // tokens in it do not. Such bounds are powers of two like the capacities: a past that ends
    // at the bound keeps the cache padded (and fast); else the past goes as it is from then on.
    outputs = TensorMap{};
    const std::int64_t at_bound = past_rows - n;
    if (at_bound >= s.length + n) {
      for (Tensor& t : s.cache) t = with_capacity(t, s.length, at_bound);
      s.capacity = at_bound;  // what the cache holds now, whatever the run does
      try {
        outputs = run(at_bound);
        s.max_capacity = past_rows = at_bound;
      } catch (const Cancelled&) {
        throw;
      } catch (const Error&) {
      }
    }
    if (outputs.empty()) {
      s.padded = s.paddable = false;
      for (Tensor& t : s.cache) t = with_capacity(t, s.length, s.length);
      past_rows = s.length;
      try {
        outputs = run(past_rows);
      } catch (const Cancelled&) {
        throw;
      } catch (const Error& again) {
        throw bounded(again);
      }
    }
  }
  const Tensor& logits = outputs.at(s.layout.logits);
  if (logits.rank() != 3 || logits.dim(0) != 1 || logits.dim(1) != logit_rows)
    throw Error("the decoder's " + s.layout.logits + " has shape " +
                shape_to_string(logits.shape()) + " for " + std::to_string(n) + " tokens");
  for (std::size_t i = 0; i < s.cache.size(); ++i) {
    // Appended: the step's rows alone, as if the past before them were empty.
    const std::int64_t before = appended ? 0 : past_rows;
    const std::string& name = appended ? s.appended_rows[i] : s.layout.cache[i].present;
    Tensor& present = outputs.at(name);
    if (present.rank() != 4 || present.dim(0) != 1 || present.dim(2) != before + n ||
        present.dim(1) != s.cache[i].dim(1) || present.dim(3) != s.cache[i].dim(3))
      throw Error("the decoder's " + name + " has shape " + shape_to_string(present.shape()) +
                  " for " + std::to_string(before) + " past rows and " + std::to_string(n) +
                  " tokens");
    if (!s.padded) {
      s.cache[i] = std::move(present);
    } else if (s.length == 0) {  // the first step: the present becomes the cache, with room
      auto room =
          std::max(kMinCapacity, static_cast<std::int64_t>(std::bit_ceil(std::uint64_t(n + 1))));
      if (s.max_capacity > 0) room = std::max(n, std::min(room, s.max_capacity));
      s.cache[i] = with_capacity(present, n, room);
    } else {  // this step's rows, at the end of the present, go after the cache's rows
      if (s.length + n > s.cache[i].dim(2))
        throw Error("internal: the decoder's cache of " + std::to_string(s.cache[i].dim(2)) +
                    " rows has no room for " + std::to_string(n) + " after " +
                    std::to_string(s.length));
      const std::int64_t heads = present.dim(1), d = present.dim(3);
      for (std::int64_t h = 0; h < heads; ++h)
        std::memcpy(s.cache[i].data<float>() + (h * s.capacity + s.length) * d,
                    present.data<float>() + (h * (before + n) + before) * d,
                    static_cast<std::size_t>(n * d) * sizeof(float));
    }
  }
  if (s.padded && s.length == 0 && !s.cache.empty()) s.capacity = s.cache[0].dim(2);
  s.length += static_cast<std::int64_t>(ids.size());

  // The rows of the tokens just fed (a decoder without a cache gave the whole history's).
  const std::int64_t vocab = logits.dim(2);
  const std::int64_t rows = last_only ? 1 : static_cast<std::int64_t>(ids.size());
  Tensor out(DType::f32, {rows, vocab});
  std::memcpy(out.data<float>(), logits.data<float>() + (logit_rows - rows) * vocab,
              static_cast<std::size_t>(rows * vocab) * sizeof(float));
  return out;
}

}  // namespace qs
