//===- RunCommand.cpp - ane-exec run --------------------------------------===//
//
// Generates text the way llama2.c prints it: stdout carries only the prompt
// and the generated text and a final newline; what was compiled, progress
// and the closing summary (tokens, tok/s, swap time, peak memory) go to
// stderr.
//
//===----------------------------------------------------------------------===//

#include "tools/ane-exec/Commands.h"
#include "tools/ane-exec/ModelLoader.h"

#include "lib/Runtime/Engine.h"
#include "lib/Runtime/Generate.h"
#include "lib/Support/ProcessMemory.h"

#include <fmt/format.h>

namespace ane::exec {
namespace {

struct RunOptions {
  ModelOptions model;
  BuildOptions build;
  runtime::SamplerOptions sampler;
  std::string prompt;
  int64_t n = 128;
  bool allBytes = false;
  bool special = false;
};

int run(const RunOptions &o) {
  // The prompt and -n are checked against the context before anything is
  // compiled or printed.
  auto needed = [&](const model::Tokenizer &t) -> Result<int64_t> {
    return int64_t(t.encode(o.prompt, true, false, o.special).size()) + o.n;
  };
  auto loaded = loadModel(o.model, o.build, needed);
  if (!loaded.ok())
    return fail(loaded.message());
  auto engine = createEngine(*loaded, o.build);
  if (!engine.ok())
    return fail(engine.message());
  runtime::Sampler sampler(o.sampler);
  auto forward = [&](const std::vector<int32_t> &tokens, int64_t pos) {
    return engine->forward(tokens, pos);
  };
  auto stats = runtime::generate(
      forward, *loaded->tokenizer, o.prompt, o.n, sampler,
      [&](const std::string &piece) {
        if (!o.allBytes && !runtime::printablePiece(piece))
          return;
        fmt::print("{}", piece);
        std::fflush(stdout);
      },
      o.special);
  fmt::print("\n");
  std::fflush(stdout);
  if (!stats.ok())
    return fail(stats.message());
  const runtime::EngineStats &es = engine->stats();
  auto rate = [](int64_t n, double s) { return s > 0 ? n / s : 0.0; };
  fmt::print(stderr,
             "prompt: {} tokens in {:.3f} s ({:.1f} tok/s); generated {} "
             "tokens, decode {:.2f} tok/s; swap {:.4f} ms/layer; peak RSS "
             "{}\n",
             stats->promptTokens, stats->promptSeconds,
             rate(stats->promptTokens, stats->promptSeconds), stats->newTokens,
             rate(stats->decodeSteps, stats->decodeSeconds),
             es.swaps ? 1e3 * es.swapSeconds / es.swaps : 0.0,
             humanBytes(peakResidentBytes()));
  printAneSummary(engine->backendInUse());
  printInputBindingSummary(loaded->image, es);
  return 0;
}

} // namespace

void addRunCommand(CLI::App &app) {
  auto o = std::make_shared<RunOptions>();
  CLI::App *cmd = app.add_subcommand(
      "run", "generate text: the prompt, then -n new tokens, on stdout");
  addModelOptions(*cmd, o->model, ModelFlag::DefaultModel);
  cmd->add_option("-p,--prompt", o->prompt, "the prompt (BOS is added)");
  cmd->add_option("-n,--n-predict", o->n, "new tokens to generate")
      ->check(atLeast(0));
  cmd->add_option("--temp", o->sampler.temperature,
                  "sampling temperature; 0 is greedy")
      ->check(atLeast(0));
  cmd->add_option("--top-k", o->sampler.topK, "keep the k likeliest (0: all)")
      ->check(atLeast(0));
  cmd->add_option("--top-p", o->sampler.topP,
                  "keep the likeliest tokens holding this probability")
      ->check(between(0, 1));
  cmd->add_option("--repeat-penalty", o->sampler.repeatPenalty,
                  "divide the logits of recent tokens by this (1: off)")
      ->check(greaterThan(0));
  cmd->add_option("--repeat-last-n", o->sampler.repeatLastN,
                  "how many recent tokens the penalty covers")
      ->check(atLeast(0));
  cmd->add_option("-s,--seed", o->sampler.seed, "sampler seed")
      ->check(seedNumber());
  cmd->add_flag("--special", o->special,
                "control tokens spelled in the prompt (<|eot_id|>, <s>) are "
                "those tokens, not text");
  cmd->add_flag("--all-bytes", o->allBytes,
                "print every piece, byte-fallback bytes too, so characters "
                "spelled in bytes (emoji, CJK in a small vocabulary) appear");
  cmd->footer(
      "By default stdout follows llama2.c's print rule, which its reference "
      "outputs depend on: a piece that is one byte, neither printable ASCII "
      "nor whitespace, is not printed. Characters a vocabulary spells as "
      "<0xNN> byte tokens therefore vanish from the echoed prompt and the "
      "generated text; --all-bytes prints them, and `ane-exec tokenize` "
      "shows every token.");
  addBuildOptions(*cmd, o->build);
  cmd->callback([o] {
    if (int rc = run(*o))
      throw CLI::RuntimeError(rc);
  });
}

} // namespace ane::exec
