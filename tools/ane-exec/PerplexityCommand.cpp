//===- PerplexityCommand.cpp - ane-exec perplexity ------------------------===//
//
// Perplexity as llama.cpp's llama-perplexity computes it, so that the two
// tools' lines compare one to one: the text is tokenized once with BOS, cut
// into chunks of -c tokens, each chunk run from an empty cache with its
// first token replaced by BOS, and the second half of each chunk scored
// (the logits at position j predict token j + 1). After each chunk the
// running estimate "[i]ppl," goes to stdout, and at the end "Final
// estimate: PPL = X +/- Y", Y being the standard error carried through
// exp.
//
//===----------------------------------------------------------------------===//

#include "tools/ane-exec/Commands.h"
#include "tools/ane-exec/ModelLoader.h"

#include "lib/Runtime/Engine.h"
#include "lib/Support/Npy.h"
#include "lib/Support/ProcessMemory.h"
#include "lib/Support/TextInput.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

namespace ane::exec {
namespace {

struct PerplexityOptions {
  ModelOptions model;
  BuildOptions build;
  std::string file;
  int64_t batch = 2048;
  int64_t chunks = -1;
  std::string logitsOut;
};

/// -log p(token) under `logits`: the log-softmax in float with the sum in
/// double, as llama-perplexity does it.
double negativeLogLikelihood(const std::vector<float> &logits, int32_t token) {
  float max = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float v : logits)
    sum += std::exp(v - max);
  return -(double(logits[token] - max) - std::log(sum));
}

int perplexity(const PerplexityOptions &o) {
  auto text = readTextInput(o.file);
  if (!text.ok())
    return fail(text.message());
  const int64_t nCtx = o.build.ctx ? o.build.ctx : 512;
  BuildOptions build = o.build;
  build.ctx = nCtx;
  auto loaded = loadModel(o.model, build, nCtx);
  if (!loaded.ok())
    return fail(loaded.message());
  const model::Tokenizer &tok = *loaded->tokenizer;
  fmt::print(stderr, "perplexity: tokenizing the input ..\n");
  std::vector<int32_t> tokens = tok.encode(*text, true, false);
  if (int64_t(tokens.size()) < 2 * nCtx)
    return fail(fmt::format("{}: {} tokens; perplexity with a context of {} "
                            "needs at least {}",
                            o.file, tokens.size(), nCtx, 2 * nCtx));
  int64_t chunks = int64_t(tokens.size()) / nCtx;
  if (o.chunks >= 0)
    chunks = std::min(chunks, o.chunks);
  if (chunks == 0)
    return fail("--chunks 0: nothing to score");
  const int64_t batch = std::min(o.batch, nCtx);
  auto engine = createEngine(*loaded, build);
  if (!engine.ok())
    return fail(engine.message());
  const int64_t vocab = loaded->image.kernels.config.vocabSize;
  std::optional<NpyWriter> npy;
  if (!o.logitsOut.empty()) {
    auto w = NpyWriter::create(o.logitsOut, uint64_t(chunks * nCtx),
                               uint64_t(vocab));
    if (!w.ok())
      return fail(w.message());
    npy.emplace(std::move(*w));
  }
  fmt::print(stderr,
             "perplexity: calculating perplexity over {} chunks, n_ctx={}, "
             "batch_size={}\n",
             chunks, nCtx, batch);

  const int64_t first = nCtx / 2;
  double nll = 0, nll2 = 0;
  int64_t count = 0;
  runtime::KvCache cache;
  auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < chunks; ++i) {
    std::vector<int32_t> chunk(tokens.begin() + i * nCtx,
                               tokens.begin() + (i + 1) * nCtx);
    chunk[0] = tok.bos();
    cache.clear();
    std::vector<std::vector<float>> logits;
    for (int64_t b = 0; b < nCtx; b += batch) {
      std::vector<int32_t> part(chunk.begin() + b,
                                chunk.begin() + std::min(b + batch, nCtx));
      auto out = engine->forwardAll(cache, part, b);
      if (!out.ok())
        return fail(fmt::format("chunk {}: {}", i + 1, out.message()));
      for (auto &row : *out)
        logits.push_back(std::move(row));
    }
    for (int64_t j = first; j < nCtx - 1; ++j) {
      // The original token, not the BOS standing in for chunk[0].
      double v = negativeLogLikelihood(logits[j], tokens[i * nCtx + j + 1]);
      nll += v;
      nll2 += v * v;
      ++count;
    }
    for (size_t r = 0; npy && r < logits.size(); ++r)
      if (Status s = npy->appendRow(logits[r].data()); !s.ok())
        return fail(s.message());
    fmt::print("[{}]{:.4f},", i + 1, std::exp(nll / count));
    std::fflush(stdout);
  }
  fmt::print("\n");
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  if (npy)
    if (Status s = npy->finish(); !s.ok())
      return fail(s.message());
  double mean = nll / count;
  double ppl = std::exp(mean);
  double variance = nll2 / count - mean * mean;
  double error = variance > 0 && count > 1
                     ? std::sqrt(variance / double(count - 1)) * ppl
                     : 0.0;
  fmt::print("Final estimate: PPL = {:.4f} +/- {:.5f}\n", ppl, error);
  fmt::print(stderr,
             "perplexity: {} chunks of {} tokens, {} scored, in {:.2f} s "
             "({:.1f} tok/s); peak RSS {}\n",
             chunks, nCtx, count, seconds, chunks * nCtx / seconds,
             humanBytes(peakResidentBytes()));
  return 0;
}

} // namespace

void addPerplexityCommand(CLI::App &app) {
  auto o = std::make_shared<PerplexityOptions>();
  CLI::App *cmd = app.add_subcommand(
      "perplexity", "perplexity of a text, chunked and scored as "
                    "llama.cpp's llama-perplexity does");
  addModelOptions(*cmd, o->model, ModelFlag::DefaultModel);
  cmd->add_option("-f,--file", o->file, "the text to score")->required();
  cmd->add_option("-b,--batch-size", o->batch,
                  "tokens per forward call (at most -c)")
      ->check(atLeast(1));
  cmd->add_option("--chunks", o->chunks,
                  "score at most this many chunks (-1: all)")
      ->check(atLeast(-1));
  cmd->add_option("--logits-out", o->logitsOut,
                  "write every evaluated position's logits, float32 "
                  "[chunks x ctx, vocab], as .npy");
  cmd->footer("-c (--ctx) is the chunk length, 512 unless given, and the "
              "context the kernels are compiled for.");
  addBuildOptions(*cmd, o->build);
  cmd->callback([o] {
    if (int rc = perplexity(*o))
      throw CLI::RuntimeError(rc);
  });
}

} // namespace ane::exec
