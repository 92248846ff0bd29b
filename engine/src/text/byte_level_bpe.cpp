// Hugging Face tokenizer.json, byte-level BPE: added tokens are cut out of the text first; the
// rest is split into words (pretokenize.h), each word's UTF-8 bytes spelled with GPT-2's
// printable stand-ins for bytes, and the BPE merges applied lowest rank first. Decoding maps the
// stand-ins back to bytes. What the file asks for beyond that (a normalizer, byte fallback,
// another model) is refused by name rather than approximated.
#include <algorithm>
#include <array>
#include <climits>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <queue>
#include <sstream>
#include <unordered_map>

#include "pretokenize.h"
#include "quantscope/error.h"
#include "tokenizers.h"
#include "unicode_text.h"

namespace qs {

namespace {

using text::WordPattern;

constexpr std::uintmax_t kMaxFileBytes = std::uintmax_t{512} << 20;
constexpr std::int64_t kMaxTokens = std::int64_t{1} << 24;

// GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the others for
// U+0100 onwards, in byte order.
std::vector<char32_t> byte_stand_ins() {
  std::vector<char32_t> map(256);
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    map[static_cast<std::size_t>(b)] = printable ? static_cast<char32_t>(b) : next++;
  }
  return map;
}

struct AddedToken {
  std::string content;
  std::int64_t id = 0;
  bool special = false, lstrip = false, rstrip = false;
};

class ByteLevelBpe : public Tokenizer {
 public:
  explicit ByteLevelBpe(const std::string& path) : path_(path) {
    const nlohmann::json j = read_json(path);
    try {
      load(j);
      load_config(std::filesystem::path(path).parent_path() / "tokenizer_config.json");
    } catch (const nlohmann::json::exception& e) {
      throw Error(path + ": not a tokenizer.json this version reads (" + e.what() + ")");
    }
  }

  std::string describe() const override {
    return "byte-level BPE (tokenizer.json, " + text::pattern_name(pattern_) + " words), " +
           std::to_string(size_) + " tokens: " + path_;
  }
  std::int64_t vocab_size() const override { return size_; }
  std::int64_t bos() const override { return bos_; }
  std::int64_t eos() const override { return eos_; }

  std::vector<std::int64_t> encode(std::string_view text) const override {
    std::vector<std::int64_t> ids;
    std::size_t from = 0;
    auto plain = [&](std::string_view part) {
      if (part.empty()) return;
      std::string prefixed;  // as Hugging Face does, before each stretch between added tokens
      if (add_prefix_space_ && part[0] != ' ') {
        prefixed = " " + std::string(part);
        part = prefixed;
      }
      for (std::string_view word : text::split_words(part, pattern_)) encode_word(word, ids);
    };
    while (from < text.size()) {
      const auto [at, token] = next_added(text, from);
      if (!token) {
        plain(text.substr(from));
        break;
      }
      std::size_t before = at, after = at + token->content.size();
      // Whitespace around it goes with the token, whole characters (U+00A0 and U+3000 too).
      if (token->lstrip) {
        const std::vector<text::CodePoint> cps = text::code_points(text.substr(from, at - from));
        for (auto c = cps.rbegin(); c != cps.rend() && text::is_space(c->value); ++c)
          before = from + c->at;
      }
      if (token->rstrip) {
        const std::vector<text::CodePoint> cps = text::code_points(text.substr(after));
        std::size_t k = 0;
        while (k < cps.size() && text::is_space(cps[k].value)) ++k;
        after += k < cps.size() ? cps[k].at : text.size() - after;
      }
      plain(text.substr(from, before - from));
      ids.push_back(token->id);
      from = after;
    }
    return ids;
  }

  std::string decode(const std::vector<std::int64_t>& ids) const override {
    std::string out, bytes;
    for (std::int64_t id : ids) {
      const std::size_t i = checked(id);
      if (added_of_id_[i] >= 0) {  // added tokens are their text, not byte stand-ins
        out += text::utf8_replacing_invalid(bytes);
        bytes.clear();
        out += added_[static_cast<std::size_t>(added_of_id_[i])].content;
        continue;
      }
      bytes += token_bytes_[i];
    }
    return out + text::utf8_replacing_invalid(bytes);
  }

  std::int64_t token_bytes(std::int64_t id) const override {
    const std::size_t i = checked(id);
    if (added_of_id_[i] >= 0) {
      const AddedToken& a = added_[static_cast<std::size_t>(added_of_id_[i])];
      return a.special ? 0 : static_cast<std::int64_t>(a.content.size());
    }
    return static_cast<std::int64_t>(token_bytes_[i].size());
  }

  std::string piece(std::int64_t id) const override { return pieces_[checked(id)]; }

 private:
  static nlohmann::json read_json(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::file_size(path, ec) > kMaxFileBytes)
      throw Error(path + ": larger than 512 MiB, not a tokenizer");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot be read");
    nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      throw Error(path + ": not a tokenizer (neither a SentencePiece model nor JSON)");
    return j;
  }

  void refuse(const std::string& what) const {
    throw Error(path_ + ": " + what + " is not supported (byte-level BPE tokenizers only)");
  }

  void load(const nlohmann::json& j) {
    const nlohmann::json& model = j.at("model");
    const std::string type = model.value("type", std::string("BPE"));
    if (type != "BPE") refuse("model type '" + type + "'");
    if (model.value("byte_fallback", false)) refuse("a BPE model with byte fallback");
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
      if (model.contains(key) && !model[key].is_null() && !model[key].get<std::string>().empty())
        refuse(std::string("a BPE model with a ") + key);
    if (j.contains("normalizer") && !j["normalizer"].is_null())
      refuse("the normalizer '" + j["normalizer"].value("type", std::string("?")) + "'");
    read_pre_tokenizer(j.at("pre_tokenizer"));
    ignore_merges_ = model.value("ignore_merges", false);

    std::int64_t max_id = -1;
    for (const auto& [token, id] : model.at("vocab").items()) {
      vocab_[token] = id.get<std::int64_t>();
      max_id = std::max(max_id, id.get<std::int64_t>());
    }
    for (const nlohmann::json& a : j.value("added_tokens", nlohmann::json::array())) {
      AddedToken t{a.at("content").get<std::string>(), a.at("id").get<std::int64_t>(),
                   a.value("special", false), a.value("lstrip", false), a.value("rstrip", false)};
      if (t.content.empty()) continue;
      max_id = std::max(max_id, t.id);
      added_.push_back(std::move(t));
    }
    if (max_id < 0) throw Error(path_ + ": the vocabulary is empty");
    // The largest vocabularies are a few hundred thousand tokens: an id far past that is a
    // broken or hostile file, not a reason to allocate gigabytes.
    if (max_id >= kMaxTokens)
      throw Error(path_ + ": token id " + std::to_string(max_id) + " is past " +
                  std::to_string(kMaxTokens) + " (not a tokenizer this version reads)");
    size_ = max_id + 1;
    pieces_.assign(static_cast<std::size_t>(size_), std::string());
    token_bytes_.assign(static_cast<std::size_t>(size_), std::string());
    added_of_id_.assign(static_cast<std::size_t>(size_), -1);
    const std::vector<char32_t> stand_in = byte_stand_ins();
    std::unordered_map<char32_t, char> byte_of;
    for (int b = 0; b < 256; ++b)
      byte_of[stand_in[static_cast<std::size_t>(b)]] = static_cast<char>(b);
    for (const auto& [token, id] : vocab_) {
      if (id < 0) throw Error(path_ + ": token '" + token + "' has a negative id");
      pieces_[static_cast<std::size_t>(id)] = token;
      std::string& bytes = token_bytes_[static_cast<std::size_t>(id)];
      for (const text::CodePoint& c : text::code_points(token)) {
        const auto b = byte_of.find(c.value);
        if (b != byte_of.end()) bytes += b->second;
      }
    }
    for (std::size_t k = 0; k < added_.size(); ++k) {
      const AddedToken& a = added_[k];
      if (a.id < 0) throw Error(path_ + ": added token '" + a.content + "' has a negative id");
      added_of_id_[static_cast<std::size_t>(a.id)] = static_cast<std::int32_t>(k);
      pieces_[static_cast<std::size_t>(a.id)] = a.content;
    }
    // Longest first, so that one added token inside another is not cut out first.
    std::stable_sort(added_.begin(), added_.end(), [](const AddedToken& a, const AddedToken& b) {
      return a.content.size() > b.content.size();
    });
    for (std::size_t k = 0; k < added_.size(); ++k) {
      added_of_id_[static_cast<std::size_t>(added_[k].id)] = static_cast<std::int32_t>(k);
      added_by_byte_[static_cast<unsigned char>(added_[k].content[0])].push_back(&added_[k]);
    }

    for (int b = 0; b < 256; ++b) {
      std::string s;
      text::append_utf8(s, stand_in[static_cast<std::size_t>(b)]);
      const auto it = vocab_.find(s);
      byte_id_[static_cast<std::size_t>(b)] = it == vocab_.end() ? -1 : it->second;
    }
    std::int32_t rank = 0;
    for (const nlohmann::json& m : model.value("merges", nlohmann::json::array())) {
      std::string a, b;
      if (m.is_array()) {
        a = m.at(0).get<std::string>();
        b = m.at(1).get<std::string>();
      } else {
        const std::string s = m.get<std::string>();
        const std::size_t space = s.find(' ', 1);
        if (space == std::string::npos) throw Error(path_ + ": merge '" + s + "' is not 'a b'");
        a = s.substr(0, space);
        b = s.substr(space + 1);
      }
      const auto ia = vocab_.find(a), ib = vocab_.find(b), ab = vocab_.find(a + b);
      if (ia == vocab_.end() || ib == vocab_.end() || ab == vocab_.end()) {
        ++rank;  // a merge whose tokens are not in the vocabulary can never apply
        continue;
      }
      merges_.try_emplace(pair_key(ia->second, ib->second), Merge{rank++, ab->second});
    }
    if (j.contains("post_processor") && !j["post_processor"].is_null())
      bos_ = template_bos(j["post_processor"]);
  }

  void read_pre_tokenizer(const nlohmann::json& p) {
    auto byte_level = [&](const nlohmann::json& b, bool after_split) {
      add_prefix_space_ = b.value("add_prefix_space", false);
      const bool regex = b.value("use_regex", true);
      if (after_split && regex) refuse("a ByteLevel pre-tokenizer after a Split that splits again");
      if (!after_split && !regex) refuse("a ByteLevel pre-tokenizer that splits no words");
      // After a Split, Hugging Face prefixes every word with the space, not every text.
      if (after_split && add_prefix_space_) refuse("a ByteLevel prefix space after a Split");
      if (!after_split) pattern_ = WordPattern::gpt2;
    };
    if (p.value("type", std::string()) == "ByteLevel") return byte_level(p, false);
    if (p.value("type", std::string()) == "Sequence") {
      const nlohmann::json& seq = p.at("pretokenizers");
      if (seq.size() == 2 && seq[0].value("type", std::string()) == "Split" &&
          seq[1].value("type", std::string()) == "ByteLevel") {
        const nlohmann::json& split = seq[0];
        const std::string regex = split.at("pattern").value("Regex", std::string());
        const auto found = text::word_pattern(regex);
        if (!found || split.value("behavior", std::string()) != "Isolated" ||
            split.value("invert", false))
          refuse("the Split pre-tokenizer with pattern '" + regex + "' (" +
                 split.value("behavior", std::string()) + ")");
        pattern_ = *found;
        return byte_level(seq[1], true);
      }
    }
    refuse("the pre-tokenizer " + p.dump().substr(0, 200));
  }

  // The special token a TemplateProcessing post-processor puts before a single sequence.
  static std::int64_t template_bos(const nlohmann::json& p) {
    std::vector<nlohmann::json> parts{p};
    if (p.value("type", std::string()) == "Sequence")
      parts = p.at("processors").get<std::vector<nlohmann::json>>();
    for (const nlohmann::json& part : parts) {
      if (part.value("type", std::string()) != "TemplateProcessing") continue;
      const nlohmann::json& single = part.at("single");
      if (single.empty() || !single[0].contains("SpecialToken")) continue;
      const std::string name = single[0]["SpecialToken"].at("id").get<std::string>();
      const nlohmann::json& ids = part.at("special_tokens").at(name).at("ids");
      if (ids.size() == 1) return ids[0].get<std::int64_t>();
    }
    return -1;
  }

  // tokenizer_config.json beside the file names the end-of-text token (and the beginning one,
  // where the post-processor adds none).
  void load_config(const std::filesystem::path& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) return;
    std::ifstream in(path, std::ios::binary);
    const nlohmann::json c = nlohmann::json::parse(in, nullptr, false);
    if (c.is_discarded() || !c.is_object()) return;
    auto id_of = [&](const char* key) -> std::int64_t {
      if (!c.contains(key) || c[key].is_null()) return -1;
      const std::string name =
          c[key].is_string() ? c[key].get<std::string>() : c[key].value("content", std::string());
      for (const AddedToken& a : added_)
        if (a.content == name) return a.id;
      const auto it = vocab_.find(name);
      return it == vocab_.end() ? -1 : it->second;
    };
    eos_ = id_of("eos_token");
  }

  static std::uint64_t pair_key(std::int64_t a, std::int64_t b) {
    return (static_cast<std::uint64_t>(a) << 32) | static_cast<std::uint32_t>(b);
  }

  // The first added token in text[from...], and where it starts.
  std::pair<std::size_t, const AddedToken*> next_added(std::string_view text,
                                                       std::size_t from) const {
    for (std::size_t i = from; i < text.size(); ++i)
      for (const AddedToken* a : added_by_byte_[static_cast<unsigned char>(text[i])])
        if (text.compare(i, a->content.size(), a->content) == 0) return {i, a};
    return {text.size(), nullptr};
  }

  void encode_word(std::string_view word, std::vector<std::int64_t>& ids) const {
    {
      const std::lock_guard<std::mutex> lock(cache_mutex_);
      const auto hit = cache_.find(std::string(word));
      if (hit != cache_.end()) {
        ids.insert(ids.end(), hit->second.begin(), hit->second.end());
        return;
      }
    }
    std::vector<std::int64_t> symbols;
    std::string spelled;
    for (char c : word) {
      const std::size_t b = static_cast<unsigned char>(c);
      if (byte_id_[b] < 0)
        throw Error(path_ + ": byte " + std::to_string(b) + " has no token in the vocabulary");
      symbols.push_back(byte_id_[b]);
      spelled += pieces_[static_cast<std::size_t>(byte_id_[b])];
    }
    const auto whole = ignore_merges_ ? vocab_.find(spelled) : vocab_.end();
    if (whole != vocab_.end()) {
      symbols.assign(1, whole->second);
    } else {
      merge_symbols(symbols);
    }
    ids.insert(ids.end(), symbols.begin(), symbols.end());
    const std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() > 200000) cache_.clear();
    cache_.emplace(std::string(word), std::move(symbols));
  }

  // The adjacent pair of lowest rank merges first, the leftmost among equals, until no pair
  // has a merge: a heap of candidate pairs over a linked list, O(n log n) in the word's bytes
  // (a long run of letters with no space must not take quadratic time).
  void merge_symbols(std::vector<std::int64_t>& symbols) const {
    const int n = static_cast<int>(symbols.size());
    if (n < 2) return;
    std::vector<int> prev(static_cast<std::size_t>(n)), next(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      prev[static_cast<std::size_t>(i)] = i - 1;
      next[static_cast<std::size_t>(i)] = i + 1 < n ? i + 1 : -1;
    }
    struct Candidate {
      std::int32_t rank;
      int left;
      std::int64_t a, b;
      bool operator>(const Candidate& o) const {
        return rank != o.rank ? rank > o.rank : left > o.left;
      }
    };
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
    auto offer = [&](int left) {
      if (left < 0) return;
      const int right = next[static_cast<std::size_t>(left)];
      if (right < 0) return;
      const std::int64_t a = symbols[static_cast<std::size_t>(left)];
      const std::int64_t b = symbols[static_cast<std::size_t>(right)];
      const auto m = merges_.find(pair_key(a, b));
      if (m != merges_.end()) heap.push({m->second.rank, left, a, b});
    };
    for (int i = 0; i + 1 < n; ++i) offer(i);
    std::vector<bool> gone(static_cast<std::size_t>(n), false);
    while (!heap.empty()) {
      const Candidate c = heap.top();
      heap.pop();
      const auto left = static_cast<std::size_t>(c.left);
      const int right = next[left];
      // Stale: a symbol of the pair has merged since it was offered.
      if (gone[left] || right < 0 || symbols[left] != c.a ||
          symbols[static_cast<std::size_t>(right)] != c.b)
        continue;
      symbols[left] = merges_.at(pair_key(c.a, c.b)).result;
      gone[static_cast<std::size_t>(right)] = true;
      next[left] = next[static_cast<std::size_t>(right)];
      if (next[left] >= 0) prev[static_cast<std::size_t>(next[left])] = c.left;
      offer(prev[left]);
      offer(c.left);
    }
    std::vector<std::int64_t> merged;
    for (int i = 0; i >= 0; i = next[static_cast<std::size_t>(i)])
      merged.push_back(symbols[static_cast<std::size_t>(i)]);
    symbols = std::move(merged);
  }

  std::size_t checked(std::int64_t id) const {
    if (id < 0 || id >= size_)
      throw Error("token id " + std::to_string(id) + " is outside the vocabulary of " +
                  std::to_string(size_) + " tokens (" + path_ + ")");
    return static_cast<std::size_t>(id);
  }

  struct Merge {
    std::int32_t rank;
    std::int64_t result;
  };
  std::string path_;
  WordPattern pattern_ = WordPattern::gpt2;
  bool add_prefix_space_ = false, ignore_merges_ = false;
  std::unordered_map<std::string, std::int64_t> vocab_;
  std::unordered_map<std::uint64_t, Merge> merges_;
  std::vector<AddedToken> added_;                                  // longest first
  std::array<std::vector<const AddedToken*>, 256> added_by_byte_;  // by first byte, longest first
  std::vector<std::int32_t> added_of_id_;
  std::vector<std::string> pieces_, token_bytes_;
  std::int64_t byte_id_[256] = {};
  std::int64_t size_ = 0, bos_ = -1, eos_ = -1;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<std::int64_t>> cache_;
};

}  // namespace

std::unique_ptr<Tokenizer> open_byte_level_bpe(const std::string& path) {
  return std::make_unique<ByteLevelBpe>(path);
}

}  // namespace qs
