//===- TokenizeCommand.cpp - ane-exec tokenize ----------------------------===//

#include "tools/ane-exec/Commands.h"
#include "tools/ane-exec/ModelLoader.h"

#include "lib/Model/GGUF.h"
#include "lib/Model/HfTokenizer.h"
#include "lib/Support/FileKinds.h"
#include "lib/Support/Json.h"
#include "lib/Support/TextInput.h"

#include <charconv>

#include <fmt/format.h>

namespace ane::exec {
namespace {

struct TokenizeOptions {
  ModelOptions model;
  std::string prompt;
  std::string file;
  bool decode = false;
  bool special = false;
  bool noBos = false;
  bool jsonLines = false;
};

/// --jsonl: each line of the text is a JSON string to tokenize on its own
/// (so texts may hold newlines); one line of ids each.
int tokenizeLines(const model::Tokenizer &tok, const std::string &text,
                  const TokenizeOptions &o) {
  size_t lineNo = 0;
  for (size_t at = 0; at < text.size();) {
    size_t end = std::min(text.find('\n', at), text.size());
    std::string_view line(text.data() + at, end - at);
    at = end + 1;
    ++lineNo;
    if (line.empty())
      continue;
    auto v = json::parse(line, fmt::format("{}:{}", o.file, lineNo));
    if (!v.ok())
      return fail(v.message());
    if (v->kind != json::Value::Kind::String)
      return fail(fmt::format("{}:{}: not a JSON string", o.file, lineNo));
    std::vector<int32_t> ids =
        tok.encode(v->string, !o.noBos, false, o.special);
    fmt::print("{}\n", fmt::join(ids, " "));
  }
  return 0;
}

/// -m's vocabulary: a tokenizer.json, a GGUF's (with tensors or without,
/// as llama.cpp's vocabulary files come), or the model's; -z overrides.
Result<model::Tokenizer> openTokenizer(const ModelOptions &m) {
  if (m.tokenizer.empty() && endsWith(m.model, ".json")) {
    auto data = model::readHfTokenizer(m.model);
    if (!data.ok())
      return data.status();
    return model::Tokenizer::create(*data);
  }
  if (m.tokenizer.empty() && endsWith(m.model, ".gguf")) {
    auto gguf = model::GGUFFile::open(m.model);
    if (!gguf.ok())
      return gguf.status();
    auto data = model::tokenizerFromGGUF(*gguf);
    if (!data.ok())
      return data.status();
    return model::Tokenizer::create(*data);
  }
  auto spec = model::openModel(m.model);
  if (!spec.ok())
    return spec.status();
  return loadTokenizer(*spec, m.tokenizer);
}

int tokenize(const TokenizeOptions &o) {
  auto tok = openTokenizer(o.model);
  if (!tok.ok())
    return fail(tok.message());
  std::string text = o.prompt;
  if (!o.file.empty()) {
    auto read = readTextInput(o.file);
    if (!read.ok())
      return fail(read.message());
    text = std::move(*read);
  }
  if (o.jsonLines)
    return tokenizeLines(*tok, text, o);
  if (!o.decode) {
    std::vector<int32_t> ids = tok->encode(text, !o.noBos, false, o.special);
    fmt::print("{}\n", fmt::join(ids, " "));
    return 0;
  }
  std::vector<int32_t> ids;
  std::string_view rest = text;
  while (!rest.empty()) {
    size_t start = rest.find_first_not_of(" \t\n");
    if (start == std::string_view::npos)
      break;
    rest.remove_prefix(start);
    size_t end = std::min(rest.find_first_of(" \t\n"), rest.size());
    int32_t id = 0;
    auto r = std::from_chars(rest.data(), rest.data() + end, id);
    if (r.ec != std::errc() || r.ptr != rest.data() + end || id < 0 ||
        id >= tok->size()) {
      return fail(fmt::format("'{}' is not a token id below {}",
                              rest.substr(0, end), tok->size()));
    }
    ids.push_back(id);
    rest.remove_prefix(end);
  }
  fmt::print("{}\n", tok->decode(ids));
  return 0;
}

} // namespace

void addTokenizeCommand(CLI::App &app) {
  auto opts = std::make_shared<TokenizeOptions>();
  CLI::App *cmd = app.add_subcommand(
      "tokenize", "print the token ids of a prompt (BOS first), or with "
                  "--decode the text of space-separated ids");
  addModelOptions(*cmd, opts->model);
  auto *prompt = cmd->add_option("-p,--prompt", opts->prompt,
                                 "text (or ids with --decode)");
  auto *file = cmd->add_option("-f,--file", opts->file,
                               "read the text (or ids) from a file");
  prompt->excludes(file);
  cmd->add_flag("--decode", opts->decode, "turn ids back into text");
  cmd->add_flag("--special", opts->special,
                "control tokens spelled in the text (<|eot_id|>, <s>) are "
                "those tokens, not text");
  cmd->add_flag("--no-bos", opts->noBos,
                "no BOS, whatever the vocabulary adds");
  cmd->add_flag("--jsonl", opts->jsonLines,
                "each line of -f is a JSON string: print one line of ids "
                "for each")
      ->needs(file);
  cmd->footer("-m takes a model, a GGUF vocabulary (tensors or not) or a "
              "Hugging Face tokenizer.json (tokenizer_config.json beside "
              "it gives BOS and EOS).");
  cmd->callback([opts] {
    if (int rc = tokenize(*opts))
      throw CLI::RuntimeError(rc);
  });
}

} // namespace ane::exec
