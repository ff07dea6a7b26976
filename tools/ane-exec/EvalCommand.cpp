//===- EvalCommand.cpp - ane-exec eval ------------------------------------===//
//
// How far the compiled model is from the fp32 reference on one prompt:
// the reference continues the prompt greedily to -n new tokens, then both
// read the same tokens position by position (teacher forcing) and the
// command reports top-1 agreement and the relative logit error. --ids runs
// given token ids; --logits-out writes the compiled model's logits for
// other tools to check.
//
//===----------------------------------------------------------------------===//

#include "tools/ane-exec/Commands.h"
#include "tools/ane-exec/ModelLoader.h"

#include "lib/Runtime/Engine.h"
#include "lib/Runtime/Reference.h"
#include "lib/Support/Npy.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>

namespace ane::exec {
namespace {

struct EvalOptions {
  ModelOptions model;
  BuildOptions build;
  std::string prompt;
  std::vector<int32_t> ids; // --ids: the tokens themselves
  int64_t n = 64;
  bool json = false;
  std::string logitsOut;
};

/// The tokens to run: --ids as given, else the prompt with BOS.
Result<std::vector<int32_t>>
inputTokens(const EvalOptions &o, const model::Tokenizer &tok, int64_t vocab) {
  if (o.ids.empty())
    return tok.encode(o.prompt, true, false);
  if (!o.prompt.empty())
    return Status::error("give -p or --ids, not both");
  for (int32_t id : o.ids)
    if (id < 0 || id >= vocab)
      return Status::error(
          fmt::format("--ids: {} is outside the vocabulary of {}", id, vocab));
  return o.ids;
}

int eval(const EvalOptions &o) {
  // The prompt's bytes (+2 for BOS and the leading space) bound its tokens.
  int64_t inputs =
      o.ids.empty() ? int64_t(o.prompt.size()) + 2 : int64_t(o.ids.size());
  auto loaded = loadModel(o.model, o.build, inputs + o.n);
  if (!loaded.ok())
    return fail(loaded.message());
  if (!loaded->spec && o.logitsOut.empty())
    return fail("eval compares against the source model: pass the model "
                "file, not a .anepak (or write its logits with "
                "--logits-out)");
  const model::Config &c = loaded->image.kernels.config;
  auto input = inputTokens(o, *loaded->tokenizer, c.vocabSize);
  if (!input.ok())
    return fail(input.message());
  std::vector<int32_t> tokens = std::move(*input);
  // A prompt's BOS predicts its first token; --ids are all inputs.
  int64_t positions = int64_t(tokens.size()) - (o.ids.empty() ? 1 : 0) + o.n;
  if (positions <= 0)
    return fail("nothing to evaluate: give a prompt, --ids or -n");
  auto engine = createEngine(*loaded, o.build);
  if (!engine.ok())
    return fail(engine.message());
  if (positions > engine->maxContext())
    return fail(fmt::format("{} positions exceed the context {}; pass --ctx",
                            positions, engine->maxContext()));
  std::optional<runtime::ReferenceModel> reference;
  if (loaded->spec) {
    // The reference runs the adapters merged into its fp32 weights.
    const model::ModelSpec spec =
        loaded->adapter ? model::mergeAdapter(*loaded->spec, *loaded->adapter)
                        : *loaded->spec;
    // Past a few GB of fp32 the reference reads one layer at a time.
    double layerBytes =
        4.0 * c.dim * (2 * c.dim + 2 * c.kvDim() + 3 * c.hiddenDim);
    bool stream = layerBytes * c.nLayers > 4e9;
    auto r = runtime::ReferenceModel::load(spec, positions, stream);
    if (!r.ok())
      return fail(r.message());
    reference.emplace(std::move(*r));
  }
  std::optional<NpyWriter> npy;
  if (!o.logitsOut.empty()) {
    auto w = NpyWriter::create(o.logitsOut, uint64_t(positions),
                               uint64_t(c.vocabSize));
    if (!w.ok())
      return fail(w.message());
    npy.emplace(std::move(*w));
  }

  int64_t agree = 0;
  double worst = 0, sum = 0;
  Progress progress("evaluating");
  for (int64_t pos = 0; pos < positions; ++pos) {
    auto got = engine->decode(tokens[pos], pos);
    if (!got.ok())
      return fail(got.message());
    if (npy)
      if (Status s = npy->appendRow(got->data()); !s.ok())
        return fail(s.message());
    // Past the given tokens, the reference's choice (ours without one).
    int32_t best = runtime::argmax(*got);
    if (reference) {
      auto want = reference->forward(tokens[pos], pos);
      if (!want.ok())
        return fail("reference: " + want.message());
      best = runtime::argmax(*want);
      agree += runtime::argmax(*got) == best;
      double err = runtime::relativeError(*got, *want);
      worst = std::max(worst, err);
      sum += err;
    }
    if (pos + 1 >= int64_t(tokens.size()))
      tokens.push_back(best);
    progress.update(pos + 1, positions);
  }
  if (npy) {
    if (Status s = npy->finish(); !s.ok())
      return fail(s.message());
    fmt::print(stderr, "logits: {} x {} float32 written to {}\n", positions,
               c.vocabSize, o.logitsOut);
  }
  if (!reference)
    return 0;
  const abi::KernelSet &ks = loaded->image.kernels;
  if (o.json)
    fmt::print("{{\"positions\":{},\"top1_agree\":{},\"top1_rate\":{:.6f},"
               "\"max_rel_logit_err\":{:.6g},\"mean_rel_logit_err\":{:.6g},"
               "\"scheme\":\"{}\",\"dtype\":\"{}\"}}\n",
               positions, agree, double(agree) / positions, worst,
               sum / positions, abi::schemeName(ks.scheme),
               abi::dtypeName(ks.dtype));
  else
    fmt::print("{} {}: top-1 agreement {}/{} = {:.1f}%, relative logit error "
               "max {:.3g} mean {:.3g}\n",
               abi::schemeName(ks.scheme), abi::dtypeName(ks.dtype), agree,
               positions, 100.0 * agree / positions, worst, sum / positions);
  return 0;
}

} // namespace

void addEvalCommand(CLI::App &app) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App *cmd = app.add_subcommand(
      "eval", "teacher-forced agreement of the compiled model with the fp32 "
              "reference on a prompt");
  addModelOptions(*cmd, o->model);
  cmd->add_option("-p,--prompt", o->prompt, "the prompt (BOS is added)");
  cmd->add_option("-n,--n-predict", o->n,
                  "positions past the prompt, continued greedily by the "
                  "reference")
      ->check(atLeast(0));
  cmd->add_option("--ids", o->ids,
                  "run these token ids (comma-separated) instead of a prompt; "
                  "-n then defaults to 0")
      ->delimiter(',');
  cmd->add_option("--logits-out", o->logitsOut,
                  "write the compiled model's logits at every position, "
                  "float32 [positions, vocab], as .npy (a .anepak then "
                  "needs no source model)");
  cmd->add_flag("--json", o->json, "print one JSON object");
  addBuildOptions(*cmd, o->build);
  cmd->callback([o, cmd] {
    if (!o->ids.empty() && cmd->count("-n") == 0)
      o->n = 0;
    if (int rc = eval(*o))
      throw CLI::RuntimeError(rc);
  });
}

} // namespace ane::exec
