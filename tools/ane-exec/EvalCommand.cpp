//===- EvalCommand.cpp - ane-exec eval ------------------------------------===//
//
// How far the compiled model is from the fp32 reference on one prompt:
// the reference continues the prompt greedily to -n new tokens, then both
// read the same tokens position by position (teacher forcing) and the
// command reports top-1 agreement and the relative logit error.
//
//===----------------------------------------------------------------------===//

#include "tools/ane-exec/Commands.h"
#include "tools/ane-exec/ModelLoader.h"

#include "lib/Runtime/Engine.h"
#include "lib/Runtime/Reference.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace ane::exec {
namespace {

struct EvalOptions {
  ModelOptions model;
  BuildOptions build;
  std::string prompt;
  int64_t n = 64;
  bool json = false;
};

int eval(const EvalOptions &o) {
  // The prompt's bytes (+2 for BOS and the leading space) bound its tokens.
  auto loaded = loadModel(o.model, o.build, int64_t(o.prompt.size()) + 2 + o.n);
  if (!loaded.ok())
    return fail(loaded.message());
  if (!loaded->spec)
    return fail("eval compares against the source model: pass the model "
                "file, not a .anepak");
  // The reference runs the adapters merged into its fp32 weights.
  const model::ModelSpec spec =
      loaded->adapter ? model::mergeAdapter(*loaded->spec, *loaded->adapter)
                      : *loaded->spec;
  std::vector<int32_t> tokens =
      loaded->tokenizer->encode(o.prompt, true, false);
  int64_t positions = int64_t(tokens.size()) - 1 + o.n;
  if (positions <= 0)
    return fail("nothing to evaluate: give a prompt or -n");
  auto engine = createEngine(*loaded, o.build);
  if (!engine.ok())
    return fail(engine.message());
  if (positions > engine->maxContext())
    return fail(fmt::format("{} positions exceed the context {}; pass --ctx",
                            positions, engine->maxContext()));
  // Past a few GB of fp32 the reference reads one layer at a time.
  const model::Config &c = spec.config;
  double layerBytes =
      4.0 * c.dim * (2 * c.dim + 2 * c.kvDim() + 3 * c.hiddenDim);
  bool stream = layerBytes * c.nLayers > 4e9;
  auto reference = runtime::ReferenceModel::load(spec, positions, stream);
  if (!reference.ok())
    return fail(reference.message());

  int64_t agree = 0;
  double worst = 0, sum = 0;
  Progress progress("evaluating");
  for (int64_t pos = 0; pos < positions; ++pos) {
    auto want = reference->forward(tokens[pos], pos);
    if (!want.ok())
      return fail("reference: " + want.message());
    auto got = engine->decode(tokens[pos], pos);
    if (!got.ok())
      return fail(got.message());
    int32_t best = runtime::argmax(*want);
    agree += runtime::argmax(*got) == best;
    double err = runtime::relativeError(*got, *want);
    worst = std::max(worst, err);
    sum += err;
    if (pos + 1 >= int64_t(tokens.size()))
      tokens.push_back(best);
    progress.update(pos + 1, positions);
  }
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
  cmd->add_flag("--json", o->json, "print one JSON object");
  addBuildOptions(*cmd, o->build);
  cmd->callback([o] {
    if (int rc = eval(*o))
      throw CLI::RuntimeError(rc);
  });
}

} // namespace ane::exec
