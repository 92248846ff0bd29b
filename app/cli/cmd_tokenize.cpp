// quantscope-cli tokenize: text to token ids (and back) with a language model's tokenizer.
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "quantscope/error.h"
#include "quantscope/tokenizer.h"

namespace qs::cli {

int cmd_tokenize(const std::vector<std::string>& argv) {
  Args args(argv, {common("tokenizer"),
                   {"text", "TEXT", "a text to tokenize (repeatable)"},
                   {"file", "LINES.txt|.jsonl",
                    "tokenize each line of this UTF-8 file (of .jsonl: each line's JSON string, "
                    "or its \"text\", which may hold line breaks)"},
                   common("json")});
  if (!args.positional().empty()) throw UsageError{"tokenize takes no positional arguments"};
  if (!args.has("tokenizer")) throw UsageError{"missing --tokenizer FILE"};
  if (!args.has("text") && !args.has("file")) throw UsageError{"missing --text TEXT or --file"};
  const std::unique_ptr<Tokenizer> tokenizer = open_tokenizer(args.get("tokenizer"));
  std::vector<std::string> texts = args.all("text");
  if (args.has("file")) {
    std::ifstream in(args.get("file"), std::ios::binary);
    if (!in) throw Error("cannot open '" + args.get("file") + "'");
    const std::string& file = args.get("file");
    const bool jsonl = file.size() > 6 && file.compare(file.size() - 6, 6, ".jsonl") == 0;
    std::int64_t number = 0;
    for (std::string line; std::getline(in, line);) {
      ++number;
      if (!jsonl) {
        texts.push_back(line);
        continue;
      }
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_string())
        texts.push_back(j.get<std::string>());
      else if (j.is_object() && j.contains("text") && j["text"].is_string())
        texts.push_back(j["text"].get<std::string>());
      else
        throw Error(file + ":" + std::to_string(number) +
                    ": not a JSON string or a record with a \"text\" string");
    }
  }
  nlohmann::json rows = nlohmann::json::array();
  for (const std::string& text : texts) {
    const std::vector<std::int64_t> ids = tokenizer->encode(text);
    if (args.flag("json")) {
      nlohmann::json pieces = nlohmann::json::array();
      for (std::int64_t id : ids) pieces.push_back(tokenizer->piece(id));
      // Invalid UTF-8 in the input is replaced in the JSON rather than refused.
      rows.push_back(
          {{"text", text}, {"ids", ids}, {"pieces", pieces}, {"decoded", tokenizer->decode(ids)}});
      continue;
    }
    std::printf("%s\n  %zu tokens:", text.c_str(), ids.size());
    for (std::int64_t id : ids) std::printf(" %lld", static_cast<long long>(id));
    std::printf("\n  ");
    for (std::int64_t id : ids) std::printf("[%s]", tokenizer->piece(id).c_str());
    std::printf("\n");
  }
  if (args.flag("json"))
    std::printf("%s\n", nlohmann::json{{"tokenizer", tokenizer->describe()},
                                       {"vocab_size", tokenizer->vocab_size()},
                                       {"bos", tokenizer->bos()},
                                       {"eos", tokenizer->eos()},
                                       {"texts", rows}}
                            .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                            .c_str());
  return 0;
}

}  // namespace qs::cli
