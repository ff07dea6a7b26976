//===- FinetuneCommand.cpp - ane-exec finetune ----------------------------===//
//
// Trains a LoRA adapter on a text file through the compiled forward and
// backward kernels (lib/Runtime/Finetune.h), with progress on stderr, a loss
// log, checkpoints (the adapter in llama.cpp's GGUF form and the optimizer
// state beside it) every --checkpoint-every steps, at the end and on
// SIGINT, and --resume to continue one.
//
//===----------------------------------------------------------------------===//

#include "tools/ane-exec/Commands.h"
#include "tools/ane-exec/ModelLoader.h"

#include "lib/Runtime/Ane/AneBackend.h"
#include "lib/Runtime/Anepak.h"
#include "lib/Runtime/Finetune.h"
#include "lib/Support/FileKinds.h"
#include "lib/Support/ProcessMemory.h"
#include "lib/Support/TextInput.h"

#include <fmt/format.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <map>

namespace ane::exec {
namespace {

struct FinetuneCommandOptions {
  ModelOptions model;
  BuildOptions build;
  runtime::FinetuneOptions train;
  std::string data, out, lossLog;
  int64_t rank = 8;
  float alpha = 16;
  std::vector<std::string> targets = {"q", "k", "v", "o"};
  int64_t context = 64;
  int64_t checkpointEvery = 0;
  int64_t lossWindows = 8;
  bool resume = false;
};

std::atomic<bool> interrupted{false};

extern "C" void onInterrupt(int) { interrupted = true; }

/// q, k, v, o, gate, up, down (or the roles' own names) as roles.
Result<std::vector<std::string>>
targetRoles(const std::vector<std::string> &t) {
  static const std::map<std::string, std::string> kShort = {
      {"q", "attn_q"},     {"k", "attn_k"},      {"v", "attn_v"},
      {"o", "attn_out"},   {"gate", "ffn_gate"}, {"up", "ffn_up"},
      {"down", "ffn_down"}};
  std::vector<std::string> roles;
  for (const std::string &name : t) {
    auto it = kShort.find(name);
    std::string role = it != kShort.end() ? it->second : name;
    if (!abi::isLoraRole(role))
      return Status::error(fmt::format(
          "--targets: '{}' is not one of q, k, v, o, gate, up, down", name));
    if (std::find(roles.begin(), roles.end(), role) == roles.end())
      roles.push_back(role);
  }
  if (roles.empty())
    return Status::error("--targets names no projection");
  return roles;
}

std::string clock(double seconds) {
  int64_t s = int64_t(seconds + 0.5);
  return s >= 3600
             ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
             : fmt::format("{}:{:02}", s / 60, s % 60);
}

/// The loss log: CSV, or JSON lines when the name ends in .jsonl. A resumed
/// run appends.
class LossLog {
public:
  Status open(const std::string &path, bool append) {
    if (path.empty())
      return Status::success();
    json = path.size() > 6 && path.substr(path.size() - 6) == ".jsonl";
    bool fresh = !append || !std::ifstream(path).good();
    file.open(path, append ? std::ios::app : std::ios::trunc);
    if (!file)
      return Status::error("cannot write the loss log " + path);
    if (fresh && !json)
      file << "step,loss,lr,grad_norm,tokens,seconds\n";
    return Status::success();
  }
  void add(const runtime::StepReport &r) {
    if (!file.is_open())
      return;
    if (json)
      file << fmt::format(
          "{{\"step\":{},\"loss\":{:.6f},\"lr\":{:.6g},"
          "\"grad_norm\":{:.6g},\"tokens\":{},\"seconds\":{:.4f}"
          "}}\n",
          r.step, r.loss, r.lr, r.gradNorm, r.tokens, r.seconds);
    else
      file << fmt::format("{},{:.6f},{:.6g},{:.6g},{},{:.4f}\n", r.step, r.loss,
                          r.lr, r.gradNorm, r.tokens, r.seconds);
    file.flush();
  }

private:
  std::ofstream file;
  bool json = false;
};

int finetune(FinetuneCommandOptions o) {
  auto roles = targetRoles(o.targets);
  if (!roles.ok())
    return fail(roles.message());
  if (o.out.empty())
    return fail("-o: where to write the adapter");
  BuildOptions &b = o.build;
  for (const char *flag : {"--prefill", "--kernels", "--lora-merge"})
    if (b.given(flag))
      return fail(fmt::format("finetune compiles its own kernels, one "
                              "sequence of --ctx tokens a call: {} does not "
                              "apply",
                              flag));
  b.loraRank = o.rank;
  b.loraTargets = *roles;
  b.backward = true;
  b.exactContext = true;
  b.ctx = o.context;
  b.prefill = o.context; // a training sequence is one prefill chunk
  // fp32 on the host; the ANE computes in fp16.
  if (!b.given("--dtype"))
    b.dtype =
        b.backend.rfind("ane", 0) == 0 ? abi::DType::FP16 : abi::DType::FP32;
  if (!b.loraFiles.empty() || !b.loraScaled.empty())
    return fail("finetune trains an adapter of its own: --lora applies to "
                "run, eval and bench");
  if (endsWith(o.model.model, ".anepak") ||
      runtime::hasAnepakMagic(o.model.model))
    return fail(o.model.model + ": finetune compiles the backward kernels "
                                "itself: pass the model file");
  auto text = readTextInput(o.data);
  if (!text.ok())
    return fail(text.message());
  auto loaded = loadModel(o.model, b, o.context);
  if (!loaded.ok())
    return fail(loaded.message());
  const abi::KernelSet &ks = loaded->image.kernels;
  if (ks.loraRank != o.rank || ks.loraTargets != *roles)
    return fail(fmt::format(
        "{} takes adapters of rank {} on ({}); this run trains rank {} on "
        "({}): pass the model file",
        o.model.model, ks.loraRank, fmt::join(ks.loraTargets, ", "), o.rank,
        fmt::join(*roles, ", ")));
  std::vector<int32_t> tokens = loaded->tokenizer->encode(*text, true, false);
  auto engine = createEngine(*loaded, b);
  if (!engine.ok())
    return fail(engine.message());

  runtime::OptimizerState state;
  std::shared_ptr<runtime::KernelLora> lora;
  if (o.resume && std::ifstream(o.out).good()) {
    auto checkpoint = runtime::readCheckpoint(o.out, ks);
    if (!checkpoint.ok())
      return fail(checkpoint.message());
    lora = std::make_shared<runtime::KernelLora>(std::move(checkpoint->first));
    state = std::move(checkpoint->second);
    fmt::print(stderr, "resuming {} at step {}\n", o.out, state.step);
  } else {
    if (o.resume)
      fmt::print(stderr, "no checkpoint at {}: starting afresh\n", o.out);
    lora = std::make_shared<runtime::KernelLora>(
        runtime::initialLora(ks, o.alpha, o.train.seed));
  }
  fmt::print(stderr,
             "training rank {} alpha {} on {} ({} parameters), {} tokens of "
             "{}, sequences of {}, {} per step\n",
             o.rank, lora->alpha, fmt::join(*roles, ", "),
             lora->parameterCount(), tokens.size(), o.data, o.context,
             o.train.batch * o.train.gradAccum);
  auto tuner = runtime::Finetuner::create(*engine, lora, std::move(tokens),
                                          o.train, std::move(state));
  if (!tuner.ok())
    return fail(tuner.message());
  LossLog log;
  if (Status s = log.open(o.lossLog, o.resume); !s.ok())
    return fail(s.message());
  double textLoss[2] = {0, 0}; // before and after
  if (o.lossWindows > 0) {
    auto before = tuner->textLoss(o.lossWindows);
    if (!before.ok())
      return fail(before.message());
    textLoss[0] = *before;
  }
  auto save = [&] {
    return runtime::writeCheckpoint(o.out, tuner->lora(), tuner->state(), ks);
  };

  // On ane and ane-sim: the device time the steps take, without the text
  // loss windows.
  const runtime::AneDevice *ane = runtime::aneDeviceOf(engine->backendInUse());
  auto deviceSeconds = [&] {
    return ane ? ane->counters().modelledSeconds : 0.0;
  };
  double deviceStart = deviceSeconds();
  interrupted = false;
  auto previous = std::signal(SIGINT, onInterrupt);
  int64_t first = tuner->state().step, trainedTokens = 0;
  double trainedSeconds = 0;
  while (tuner->state().step < o.train.steps) {
    auto r = tuner->step();
    if (!r.ok()) {
      std::signal(SIGINT, previous);
      return fail(r.message());
    }
    log.add(*r);
    trainedTokens += r->tokens;
    trainedSeconds += r->seconds;
    double rate = trainedTokens / trainedSeconds;
    int64_t left = o.train.steps - r->step;
    fmt::print(stderr,
               "step {}/{}: loss {:.4f}, lr {:.2e}, grad norm {:.3f}, {:.1f} "
               "tok/s, ETA {}\n",
               r->step, o.train.steps, r->loss, r->lr, r->gradNorm, rate,
               clock(left * r->tokens / rate));
    bool due = o.checkpointEvery > 0 && r->step % o.checkpointEvery == 0;
    if (due || interrupted)
      if (Status s = save(); !s.ok()) {
        std::signal(SIGINT, previous);
        return fail(s.message());
      }
    if (interrupted) {
      std::signal(SIGINT, previous);
      fmt::print(stderr,
                 "interrupted after step {}: {} and its optimizer state are "
                 "saved; --resume continues\n",
                 r->step, o.out);
      return 130;
    }
  }
  std::signal(SIGINT, previous);
  if (Status s = save(); !s.ok())
    return fail(s.message());
  double deviceTrain = deviceSeconds() - deviceStart;
  if (ane && deviceTrain > 0)
    fmt::print(stderr,
               "{}: the steps take {:.3f} s of modelled device time ({:.1f} "
               "tok/s)\n",
               ane->target(), deviceTrain, trainedTokens / deviceTrain);
  if (o.lossWindows > 0) {
    auto after = tuner->textLoss(o.lossWindows);
    if (!after.ok())
      return fail(after.message());
    textLoss[1] = *after;
    fmt::print(stderr, "loss over the training text: {:.4f} -> {:.4f}\n",
               textLoss[0], textLoss[1]);
  }
  const runtime::EngineStats &es = engine->stats();
  double kernelTotal = 0;
  for (const auto &[name, s] : es.kernelSeconds)
    kernelTotal += s;
  std::vector<std::string> shares;
  for (const auto &[name, s] : es.kernelSeconds)
    shares.push_back(
        fmt::format("{} {:.1f}%", name, 100 * s / std::max(kernelTotal, 1e-9)));
  fmt::print(stderr,
             "trained steps {}..{}: {} tokens in {:.2f} s ({:.1f} tok/s); "
             "kernel time: {}; peak RSS {}\nadapter written to {}\n",
             first + 1, o.train.steps, trainedTokens, trainedSeconds,
             trainedSeconds > 0 ? trainedTokens / trainedSeconds : 0.0,
             fmt::join(shares, ", "), humanBytes(peakResidentBytes()), o.out);
  printAneSummary(engine->backendInUse());
  return 0;
}

} // namespace

void addFinetuneCommand(CLI::App &app) {
  auto o = std::make_shared<FinetuneCommandOptions>();
  CLI::App *cmd = app.add_subcommand(
      "finetune", "train a LoRA adapter on a text file through the backward "
                  "kernels");
  addModelOptions(*cmd, o->model);
  cmd->add_option("--data", o->data, "the training text")->required();
  cmd->add_option("-o,--output", o->out,
                  "the adapter to write (llama.cpp's LoRA GGUF); its "
                  "optimizer state goes beside it as FILE.state")
      ->required();
  cmd->add_option("--rank", o->rank, "LoRA rank r")->check(between(1, 1024));
  cmd->add_option("--alpha", o->alpha, "LoRA alpha: B A is scaled by alpha/r")
      ->check(greaterThan(0));
  cmd->add_option("--targets", o->targets,
                  "projections to adapt: q, k, v, o, gate, up, down")
      ->delimiter(',');
  cmd->add_option("--steps", o->train.steps, "optimizer steps")
      ->check(atLeast(1));
  cmd->add_option("--batch", o->train.batch, "sequences per micro-batch")
      ->check(atLeast(1));
  cmd->add_option("--grad-accum", o->train.gradAccum,
                  "micro-batches whose gradients one step averages")
      ->check(atLeast(1));
  cmd->add_option("--lr", o->train.lr, "AdamW learning rate")
      ->check(greaterThan(0));
  cmd->add_option("--warmup", o->train.warmup, "steps of linear warmup to --lr")
      ->check(atLeast(0));
  cmd->add_option("--weight-decay", o->train.weightDecay,
                  "AdamW's decoupled weight decay")
      ->check(atLeast(0));
  cmd->add_option("--clip", o->train.clip,
                  "clip the global gradient norm to this (0: never)")
      ->check(atLeast(0));
  cmd->add_option("--seed", o->train.seed,
                  "seed of A's initialisation and of the sequence order")
      ->check(seedNumber());
  cmd->add_option("--checkpoint-every", o->checkpointEvery,
                  "write the adapter and optimizer state every S steps (0: "
                  "at the end and on Ctrl-C only)")
      ->check(atLeast(0));
  cmd->add_flag("--resume", o->resume,
                "continue the run checkpointed at -o (same loss curve as "
                "an uninterrupted run)");
  cmd->add_option("--text-loss-windows", o->lossWindows,
                  "sequences spread over the text whose mean loss is shown "
                  "before and after training (0: skip)")
      ->check(atLeast(0));
  cmd->add_option("--loss-log", o->lossLog,
                  "write each step's loss to FILE (CSV; JSON lines for "
                  ".jsonl)");
  addBuildOptions(*cmd, o->build);
  // --ctx is the training sequence length here.
  cmd->get_option("--ctx")->description(
      "tokens per training sequence (default 64)");
  cmd->callback([o] {
    FinetuneCommandOptions run = *o;
    if (run.build.ctx > 0)
      run.context = run.build.ctx;
    if (int rc = finetune(std::move(run)))
      throw CLI::RuntimeError(rc);
  });
}

} // namespace ane::exec
