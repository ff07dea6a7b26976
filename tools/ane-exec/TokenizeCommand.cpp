//===- TokenizeCommand.cpp - ane-exec tokenize ----------------------------===//

#include "tools/ane-exec/Commands.h"

#include <charconv>

#include <fmt/format.h>

namespace ane::exec {
namespace {

struct TokenizeOptions {
  ModelOptions model;
  std::string prompt;
  bool decode = false;
};

int tokenize(const TokenizeOptions &o) {
  auto spec = model::openModel(o.model.model);
  if (!spec.ok()) {
    fmt::print(stderr, "error: {}\n", spec.message());
    return 1;
  }
  auto tok = loadTokenizer(*spec, o.model.tokenizer);
  if (!tok.ok()) {
    fmt::print(stderr, "error: {}\n", tok.message());
    return 1;
  }
  if (!o.decode) {
    std::vector<int32_t> ids = tok->encode(o.prompt, /*bos=*/true, false);
    fmt::print("{}\n", fmt::join(ids, " "));
    return 0;
  }
  std::vector<int32_t> ids;
  std::string_view rest = o.prompt;
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
      fmt::print(stderr, "error: '{}' is not a token id below {}\n",
                 rest.substr(0, end), tok->size());
      return 1;
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
  cmd->add_option("-p,--prompt", opts->prompt, "text (or ids with --decode)")
      ->required();
  cmd->add_flag("--decode", opts->decode, "turn ids back into text");
  cmd->callback([opts] {
    if (int rc = tokenize(*opts))
      throw CLI::RuntimeError(rc);
  });
}

} // namespace ane::exec
