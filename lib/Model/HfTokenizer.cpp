//===- HfTokenizer.cpp - Hugging Face tokenizer.json ----------------------===//

#include "lib/Model/HfTokenizer.h"

#include "lib/Model/BytePairEncoding.h"

#include "lib/Support/Json.h"

#include <fmt/format.h>

#include <fstream>
#include <unordered_map>

namespace ane::model {
namespace {

using json::Value;

/// A token named by tokenizer_config.json: a string or {"content": ...}.
std::string tokenText(const Value *v) {
  if (!v)
    return {};
  if (v->kind == Value::Kind::String)
    return v->string;
  if (const Value *c = v->get("content"); c && c->kind == Value::Kind::String)
    return c->string;
  return {};
}

/// Collects the pre-tokenizer's regexes: each Split's pattern, and GPT-2's
/// for a ByteLevel that splits by itself.
Status collectPatterns(const Value &pre, const std::string &where,
                       std::vector<std::string> &patterns, bool &byteLevel) {
  const Value *type = pre.get("type");
  std::string t = type && type->kind == Value::Kind::String ? type->string : "";
  if (t == "Sequence") {
    const Value *list = pre.get("pretokenizers");
    if (!list || list->kind != Value::Kind::Array)
      return Status::error(where + ".pretokenizers: missing");
    for (size_t i = 0; i < list->array.size(); ++i)
      if (Status s = collectPatterns(
              list->array[i], fmt::format("{}.pretokenizers[{}]", where, i),
              patterns, byteLevel);
          !s.ok())
        return s;
    return Status::success();
  }
  if (t == "Split") {
    const Value *pattern = pre.get("pattern");
    const Value *regex = pattern ? pattern->get("Regex") : nullptr;
    if (!regex || regex->kind != Value::Kind::String)
      return Status::error(where + ".pattern: only Regex patterns are read");
    patterns.push_back(regex->string);
    return Status::success();
  }
  if (t == "ByteLevel") {
    byteLevel = true;
    const Value *useRegex = pre.get("use_regex");
    if (!useRegex || (useRegex->kind == Value::Kind::Bool && useRegex->boolean))
      patterns.push_back(bpe::preTokenizerPatterns("gpt-2")->front());
    return Status::success();
  }
  return Status::error(fmt::format("{}.type: pre-tokenizer '{}' is not read "
                                   "(Sequence, Split and ByteLevel are)",
                                   where, t));
}

} // namespace

/// SentencePiece merges by score, llama2.c's way: the piece the r-th merge
/// makes scores -r, so earlier merges win; pieces no merge makes never
/// merge (llama2.c skips scores at or below -1e10).
void scoresFromMerges(TokenizerData &t) {
  std::unordered_map<std::string, size_t> ids;
  for (size_t i = 0; i < t.tokens.size(); ++i)
    ids.emplace(t.tokens[i], i);
  t.scores.assign(t.tokens.size(), -1e11f);
  for (size_t r = 0; r < t.merges.size(); ++r) {
    std::string merged = t.merges[r];
    size_t space = merged.find(' ');
    if (space == std::string::npos)
      continue;
    merged.erase(space, 1);
    auto it = ids.find(merged);
    if (it != ids.end() && t.scores[it->second] < -float(r))
      t.scores[it->second] = -float(r);
  }
  t.merges.clear();
}

Result<TokenizerData> readHfTokenizer(const std::string &path) {
  auto doc = json::parseFile(path);
  if (!doc.ok())
    return doc.status();
  auto fail = [&](const std::string &field, const std::string &what) {
    return Status::error(fmt::format("{}: {}: {}", path, field, what));
  };
  const Value *model = doc->get("model");
  if (!model || model->kind != Value::Kind::Object)
    return fail("model", "missing");
  const Value *type = model->get("type");
  if (!type || type->kind != Value::Kind::String || type->string != "BPE")
    return fail("model.type", "only BPE models are read");
  TokenizerData t;
  t.model = "gpt2";
  t.scores.clear();
  bool byteLevel = false;
  if (const Value *pre = doc->get("pre_tokenizer");
      pre && pre->kind == Value::Kind::Object)
    if (Status s =
            collectPatterns(*pre, "pre_tokenizer", t.prePatterns, byteLevel);
        !s.ok())
      return Status::error(path + ": " + s.message());
  // SentencePiece-style (Llama 2, Mistral, TinyLlama): "▁" for spaces,
  // byte fallback, merges in the order of the merged pieces' scores.
  const Value *fallback = model->get("byte_fallback");
  bool sentencePiece = !byteLevel && fallback &&
                       fallback->kind == Value::Kind::Bool && fallback->boolean;
  if (!byteLevel && !sentencePiece)
    return fail("pre_tokenizer", "neither byte-level BPE nor "
                                 "SentencePiece-style BPE with byte_fallback");
  if (sentencePiece)
    t.model = "llama";
  else if (t.prePatterns.empty())
    t.prePatterns.push_back("(?s).+"); // one piece: no regex split

  const Value *vocab = model->get("vocab");
  if (!vocab || vocab->kind != Value::Kind::Object)
    return fail("model.vocab", "missing");
  const Value *added = doc->get("added_tokens");
  std::vector<std::pair<int64_t, std::pair<std::string, int32_t>>> entries;
  for (const auto &[text, id] : vocab->object) {
    if (!id.integral || id.integer < 0 || id.integer >= (int64_t(1) << 24))
      return fail("model.vocab[\"" + text + "\"]", "not an id");
    entries.push_back({id.integer, {text, kTokenNormal}});
  }
  if (added && added->kind == Value::Kind::Array)
    for (size_t i = 0; i < added->array.size(); ++i) {
      const Value &a = added->array[i];
      const Value *id = a.get("id"), *content = a.get("content"),
                  *special = a.get("special");
      if (!id || !id->integral || id->integer < 0 ||
          id->integer >= (int64_t(1) << 24) || !content ||
          content->kind != Value::Kind::String)
        return fail(fmt::format("added_tokens[{}]", i),
                    "needs an id and a content");
      bool isSpecial =
          special && special->kind == Value::Kind::Bool && special->boolean;
      entries.push_back(
          {id->integer,
           {content->string, isSpecial ? kTokenControl : kTokenUserDefined}});
    }
  int64_t size = 0;
  for (const auto &e : entries)
    size = std::max(size, e.first + 1);
  t.tokens.assign(size_t(size), "");
  t.types.assign(size_t(size), kTokenUnused);
  for (const auto &[id, entry] : entries) {
    t.tokens[id] = entry.first;
    t.types[id] = entry.second;
  }

  const Value *merges = model->get("merges");
  if (!merges || merges->kind != Value::Kind::Array)
    return fail("model.merges", "missing");
  for (size_t i = 0; i < merges->array.size(); ++i) {
    const Value &m = merges->array[i];
    if (m.kind == Value::Kind::String)
      t.merges.push_back(m.string);
    else if (m.kind == Value::Kind::Array && m.array.size() == 2 &&
             m.array[0].kind == Value::Kind::String &&
             m.array[1].kind == Value::Kind::String)
      t.merges.push_back(m.array[0].string + " " + m.array[1].string);
    else
      return fail(fmt::format("model.merges[{}]", i),
                  "neither \"a b\" nor [\"a\", \"b\"]");
  }
  if (sentencePiece)
    scoresFromMerges(t);
  const Value *ignore = model->get("ignore_merges");
  t.ignoreMerges =
      ignore && ignore->kind == Value::Kind::Bool && ignore->boolean;

  // BOS and EOS from tokenizer_config.json beside it, if there.
  std::string dir = path.substr(0, path.find_last_of('/') + 1);
  std::string configPath = dir + "tokenizer_config.json";
  std::string bos, eos;
  t.addBos = false;
  if (std::ifstream(configPath).good()) {
    auto config = json::parseFile(configPath);
    if (!config.ok())
      return config.status();
    bos = tokenText(config->get("bos_token"));
    eos = tokenText(config->get("eos_token"));
    const Value *addBos = config->get("add_bos_token");
    t.addBos = addBos && addBos->kind == Value::Kind::Bool ? addBos->boolean
                                                           : !bos.empty();
    if (const Value *tmpl = config->get("chat_template");
        tmpl && tmpl->kind == Value::Kind::String)
      t.chatTemplate = tmpl->string;
  }
  auto idOf = [&](const std::string &text) -> int32_t {
    for (size_t i = 0; i < t.tokens.size(); ++i)
      if (!text.empty() && t.tokens[i] == text)
        return int32_t(i);
    return -1;
  };
  int32_t bosId = idOf(bos.empty() ? "<|begin_of_text|>" : bos);
  int32_t eosId = idOf(eos.empty() ? "<|end_of_text|>" : eos);
  if (eosId < 0)
    eosId = idOf("<|endoftext|>");
  // A vocabulary without BOS (Qwen2) never adds one; its id stays valid.
  t.bos = bosId >= 0 ? bosId : std::max(eosId, 0);
  t.eos = std::max(eosId, 0);
  if (bosId < 0)
    t.addBos = false;
  return t;
}

} // namespace ane::model
