//===- BenchCommand.cpp - ane-exec bench ----------------------------------===//
//
// Times the whole path on one model: compile, pack, a prefill of --pp
// tokens, --tg decode steps, the weight swap per layer, and peak memory.
// Decode starts from an empty context, as llama-bench's tg does (its pp and
// tg are separate tests, each on a cleared KV cache); --pg decodes after
// the prompt instead.
// The tokens are fixed pseudo-random ids, so no tokenizer is needed.
//
//===----------------------------------------------------------------------===//

#include "tools/ane-exec/Commands.h"
#include "tools/ane-exec/ModelLoader.h"

#include "lib/Runtime/Ane/AneBackend.h"
#include "lib/Runtime/Ane/SimulatedAneDevice.h"
#include "lib/Runtime/Cpu/Bandwidth.h"
#include "lib/Runtime/Cpu/CpuIsa.h"
#include "lib/Runtime/Engine.h"
#include "lib/Runtime/Plan.h"
#include "lib/Support/Json.h"
#include "lib/Support/ProcessMemory.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <optional>

namespace ane::exec {
namespace {

struct BenchOptions {
  ModelOptions model;
  BuildOptions build;
  int64_t pp = 512; // prompt tokens (llama-bench's pp512)
  int64_t tg = 128; // decode steps (tg128)
  bool json = false;
  bool afterPrompt = false; // --pg: decode at positions pp, pp + 1, ...
  bool profile = false;     // time per kernel and MIL op
};

/// Where one phase's time went, by kernel and op.
struct PhaseProfile {
  double seconds = 0; // the phase's wall time
  std::vector<runtime::OpProfile::Entry> ops;
  double opSeconds = 0; // their sum
};

PhaseProfile takeProfile(runtime::OpProfile &profile, double seconds) {
  PhaseProfile p{seconds, profile.entries(), profile.totalSeconds()};
  profile.clear();
  return p;
}

void writeProfile(json::Writer &w, const PhaseProfile &p) {
  w.beginObject();
  w.key("seconds").number(p.seconds);
  w.key("outside_ops_s").number(p.seconds - p.opSeconds);
  w.key("ops").beginArray();
  for (const runtime::OpProfile::Entry &e : p.ops) {
    w.beginObject();
    w.key("kernel").string(e.kernel).key("op").string(e.op);
    w.key("calls").integer(e.calls).key("seconds").number(e.seconds);
    w.endObject();
  }
  w.endArray();
  w.endObject();
}

/// The ops that take 1% of the phase or more, then the rest summed.
void printProfile(const char *phase, int64_t tokens, const PhaseProfile &p) {
  fmt::print("\nprofile    {}: {} tokens, {:.3f} s, of which {:.3f} s outside "
             "the ops below\n",
             phase, tokens, p.seconds, p.seconds - p.opSeconds);
  fmt::print("  {:<12} {:<22} {:>8} {:>11} {:>10} {:>6}\n", "kernel", "op",
             "calls", "ms", "us/call", "share");
  double restSeconds = 0;
  int64_t restOps = 0;
  for (const runtime::OpProfile::Entry &e : p.ops) {
    double share = p.seconds > 0 ? e.seconds / p.seconds : 0;
    if (share < 0.01) {
      restSeconds += e.seconds;
      restOps += 1;
      continue;
    }
    fmt::print("  {:<12} {:<22} {:>8} {:>11.3f} {:>10.1f} {:>5.1f}%\n",
               e.kernel, e.op, e.calls, 1e3 * e.seconds,
               1e6 * e.seconds / double(e.calls), 100 * share);
  }
  if (restOps)
    fmt::print("  {:<35} {:>8} {:>11.3f} {:>10} {:>5.1f}%\n",
               fmt::format("({} more, each under 1%)", restOps), "",
               1e3 * restSeconds, "",
               p.seconds > 0 ? 100 * restSeconds / p.seconds : 0.0);
}

/// The read bandwidth, probed without its 256 MiB buffer counting towards
/// the run's peak memory: the peak so far is kept in `peak`, and the
/// high-water mark is lowered again after the probe. Where it cannot be
/// lowered, only the `last` probe runs (0 otherwise).
double probeBandwidth(uint64_t &peak, bool last) {
  peak = std::max(peak, peakResidentBytes());
  bool lowered = resetPeakResident();
  if (!lowered && !last)
    return 0;
  double bw = runtime::measureReadBandwidth(runtime::ThreadPool::global(),
                                            uint64_t(256) << 20);
  if (lowered)
    resetPeakResident();
  return bw;
}

/// The K and V bytes an average decode step reads: step i attends to
/// from + i + 1 positions, so the mean is from + (tg + 1) / 2.
uint64_t kvBytesPerToken(const abi::KernelSet &ks, int64_t from, int64_t tg) {
  if (tg == 0)
    return 0;
  const model::Config &c = ks.config;
  double positions = double(from) + double(tg + 1) / 2;
  double perPosition = 2.0 * double(c.nLayers) * double(c.kvDim()) *
                       double(mil::dtypeBits(abi::toMil(ks.dtype)) / 8);
  return uint64_t(positions * perPosition);
}

/// What a run on ane or ane-sim adds: where its programs came from, the
/// device time the simulator models, and `plan`'s bound for the binding
/// the kernels run with (blob kernels run baked on the ANE).
struct AneFigures {
  std::string device;
  runtime::AneBackendStats programs;
  int64_t evaluations = 0;
  bool modelled = false;
  double prefillTokS = 0, decodeTokS = 0;
  std::string chip, strategy;
  double boundDecode[2] = {0, 0}, boundPrefill[2] = {0, 0};
};

/// `context`: the positions the timed runs reached (the prompt, or the
/// decode's last position when it runs after the prompt).
AneFigures aneFiguresOf(const runtime::Engine &engine, const abi::KernelSet &ks,
                        int64_t pp, int64_t tg, int64_t context,
                        double prefillSeconds, double decodeSeconds) {
  const runtime::Backend &backend = engine.backendInUse();
  const runtime::AneDevice *device = runtime::aneDeviceOf(backend);
  AneFigures f;
  f.device = std::string(device->name());
  f.programs = *runtime::aneBackendStatsOf(backend);
  f.evaluations = device->counters().evaluations;
  f.modelled = f.device == "ane-sim";
  if (!f.modelled)
    return f; // hardware: the wall-clock figures above are the device's
  f.prefillTokS = prefillSeconds > 0 ? pp / prefillSeconds : 0;
  f.decodeTokS = decodeSeconds > 0 ? tg / decodeSeconds : 0;
  // The chip the simulator models: its target is "ane-sim/<chip>".
  std::string target = device->target();
  auto found = runtime::findChip(target.substr(target.find('/') + 1));
  runtime::ChipSpec chip =
      found.ok() ? *found : runtime::defaultSimulatedChip();
  f.chip = chip.name;
  f.strategy =
      ks.weightBinding == abi::WeightBinding::Input ? "input" : "baked";
  auto plan = runtime::planKernelSet(ks, chip, context, uint64_t(24) << 30);
  if (plan.ok())
    for (const runtime::StrategyPlan &s : plan->strategies)
      if (s.strategy == f.strategy) {
        std::copy(s.decodeTokS, s.decodeTokS + 2, f.boundDecode);
        std::copy(s.prefillTokS, s.prefillTokS + 2, f.boundPrefill);
      }
  return f;
}

void writeAneFigures(json::Writer &w, const AneFigures &f) {
  w.key("ane").beginObject();
  w.key("device").string(f.device);
  w.key("compiled_here").integer(f.programs.compiledHere);
  w.key("from_cache").integer(f.programs.fromCache);
  w.key("compiled_by_workers").integer(f.programs.compiledByWorkers);
  w.key("worker_processes").integer(f.programs.workerProcesses);
  w.key("evaluations").integer(f.evaluations);
  if (f.modelled) {
    w.key("chip").string(f.chip).key("strategy").string(f.strategy);
    w.key("modelled_prefill_tok_s").number(f.prefillTokS);
    w.key("modelled_decode_tok_s").number(f.decodeTokS);
    w.key("plan_decode_tok_s").beginArray();
    w.number(f.boundDecode[0]).number(f.boundDecode[1]).endArray();
    w.key("plan_prefill_tok_s").beginArray();
    w.number(f.boundPrefill[0]).number(f.boundPrefill[1]).endArray();
  }
  w.endObject();
}

void printAneFigures(const AneFigures &f) {
  fmt::print("{:<10} programs: {} compiled here, {} from the compile cache, "
             "{} by {} worker processes; {} evaluations\n",
             f.device, f.programs.compiledHere, f.programs.fromCache,
             f.programs.compiledByWorkers, f.programs.workerProcesses,
             f.evaluations);
  if (!f.modelled)
    return;
  fmt::print("device     modelled on an {} ({}): prefill {:.1f} tok/s, decode "
             "{:.1f} tok/s; plan's bound: prefill {:.1f}-{:.1f}, decode "
             "{:.1f}-{:.1f} tok/s\n",
             f.chip, f.strategy, f.prefillTokS, f.decodeTokS, f.boundPrefill[1],
             f.boundPrefill[0], f.boundDecode[1], f.boundDecode[0]);
}

int bench(const BenchOptions &o) {
  BuildOptions build = o.build;
  if (build.prefillChunk() > o.pp)
    build.prefill = o.pp;
  auto loaded = loadModel(o.model, build, o.pp + o.tg);
  if (!loaded.ok())
    return fail(loaded.message());
  // The pack cache's copy is written before anything is timed: beside a
  // large write, decode ran at a fifth of its rate here.
  loaded->packWrite.reset();
  const runtime::ModelImage &image = loaded->image;
  auto engine = createEngine(*loaded, build);
  if (!engine.ok())
    return fail(engine.message());
  int64_t vocab = image.kernels.config.vocabSize;
  std::vector<int32_t> prompt;
  for (int64_t i = 0; i < o.pp; ++i)
    prompt.push_back(int32_t((i * 7919 + 13) % vocab));

  runtime::OpProfile profile;
  if (o.profile)
    engine->profileInto(&profile);
  // The VM's bandwidth swings between runs by up to a third, so it is
  // probed on both sides of the timed work and the bound uses the mean.
  uint64_t peakRss = 0;
  double bwBefore = probeBandwidth(peakRss, false);
  const runtime::AneDevice *ane = runtime::aneDeviceOf(engine->backendInUse());
  auto modelled = [&] { return ane ? ane->counters().modelledSeconds : 0.0; };
  double modelledStart = modelled();
  auto start = std::chrono::steady_clock::now();
  auto logits = engine->forward(prompt, 0);
  double prefillSeconds = runtime::secondsSince(start);
  double modelledPrefill = modelled() - modelledStart;
  if (!logits.ok())
    return fail(logits.message());
  PhaseProfile prefillProfile = takeProfile(profile, prefillSeconds);
  runtime::EngineStats afterPrefill = engine->stats();
  const int64_t decodeFrom = o.afterPrompt ? o.pp : 0;
  start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < o.tg && logits.ok(); ++i)
    logits = engine->decode(int32_t((i * 104729 + 1) % vocab), decodeFrom + i);
  double decodeSeconds = runtime::secondsSince(start);
  double modelledDecode = modelled() - modelledStart - modelledPrefill;
  if (!logits.ok())
    return fail(logits.message());
  PhaseProfile decodeProfile = takeProfile(profile, decodeSeconds);
  double bwAfter = probeBandwidth(peakRss, true);
  double readBw = bwBefore > 0 ? (bwBefore + bwAfter) / 2 : bwAfter;
  const runtime::EngineStats &s = engine->stats();
  int64_t swaps = s.swaps - afterPrefill.swaps;
  double swapMs =
      swaps ? 1e3 * (s.swapSeconds - afterPrefill.swapSeconds) / swaps : 0.0;
  uint64_t weightBytes = image.kernels.decodeBytesPerToken();
  uint64_t kvBytes = kvBytesPerToken(image.kernels, decodeFrom, o.tg);
  double prefillRate = o.pp / prefillSeconds;
  double decodeRate = o.tg ? o.tg / decodeSeconds : 0.0;
  // Decode reads every weight and the K/V of every position once per
  // token: the bandwidth bound.
  double decodeBound = readBw / double(weightBytes + kvBytes);
  const abi::KernelSet &ks = image.kernels;
  const std::string &name = loaded->spec ? loaded->spec->source : o.model.model;
  std::optional<AneFigures> aneFigures;
  if (ane)
    aneFigures =
        aneFiguresOf(*engine, ks, o.pp, o.tg, std::max(o.pp, decodeFrom + o.tg),
                     modelledPrefill, modelledDecode);
  if (o.json) {
    json::Writer w;
    w.beginObject();
    w.key("model").string(name);
    w.key("scheme").string(abi::schemeName(ks.scheme));
    w.key("dtype").string(abi::dtypeName(ks.dtype));
    w.key("weight_binding").string(abi::weightBindingName(ks.weightBinding));
    w.key("pp").integer(o.pp).key("tg").integer(o.tg);
    w.key("decode_from").integer(decodeFrom);
    w.key("prefill_tok_s").number(prefillRate);
    w.key("decode_tok_s").number(decodeRate);
    w.key("compile_s").number(loaded->compileSeconds);
    w.key("pack_s").number(loaded->packSeconds);
    w.key("swap_ms_per_layer").number(swapMs);
    w.key("peak_rss_bytes").integer(int64_t(peakRss));
    w.key("weight_bytes_per_token").integer(int64_t(weightBytes));
    w.key("kv_bytes_per_token").integer(int64_t(kvBytes));
    w.key("cpu_kernels").string(runtime::kernelIsaName(runtime::kernelIsa()));
    w.key("read_bw_gbs").number(readBw / 1e9);
    w.key("read_bw_before_gbs").number(bwBefore / 1e9);
    w.key("read_bw_after_gbs").number(bwAfter / 1e9);
    w.key("decode_bound_tok_s").number(decodeBound);
    if (aneFigures)
      writeAneFigures(w, *aneFigures);
    if (ks.weightBinding == abi::WeightBinding::Input) {
      w.key("input_weights").beginObject();
      w.key("bytes").integer(int64_t(s.inputWeightBytes));
      w.key("resident").boolean(s.inputWeightsResident);
      w.key("conversions").integer(s.inputConversions);
      w.key("conversion_s").number(s.inputConversionSeconds);
      w.endObject();
    }
    if (o.profile) {
      w.key("profile").beginObject();
      w.key("prefill");
      writeProfile(w, prefillProfile);
      w.key("decode");
      writeProfile(w, decodeProfile);
      w.endObject();
    }
    w.endObject();
    fmt::print("{}\n", w.str());
    return 0;
  }
  fmt::print("model      {} ({} {}, {} binding)\n", name,
             abi::schemeName(ks.scheme), abi::dtypeName(ks.dtype),
             abi::weightBindingName(ks.weightBinding));
  fmt::print("kernels    {} (cpu; ANE_CPU_KERNELS picks another this CPU "
             "has)\n",
             runtime::kernelIsaName(runtime::kernelIsa()));
  fmt::print("compile    {:.3f} s\n", loaded->compileSeconds);
  fmt::print("pack       {:.3f} s\n", loaded->packSeconds);
  fmt::print("prefill    {} tokens in {:.3f} s = {:.3f} tok/s\n", o.pp,
             prefillSeconds, prefillRate);
  fmt::print("decode     {} tokens from position {} in {:.3f} s = {:.3f} "
             "tok/s ({:.0f}% of the bound)\n",
             o.tg, decodeFrom, decodeSeconds, decodeRate,
             100 * decodeRate / decodeBound);
  fmt::print("swap       {:.4f} ms/layer ({} swaps while decoding)\n", swapMs,
             swaps);
  fmt::print("read       {} of weights and {} of K/V cache per token\n",
             humanBytes(weightBytes), humanBytes(kvBytes));
  fmt::print("bandwidth  {:.2f} GB/s read ({:.2f} before, {:.2f} after): "
             "decode bound {:.3f} tok/s\n",
             readBw / 1e9, bwBefore / 1e9, bwAfter / 1e9, decodeBound);
  fmt::print("peak RSS   {}\n", humanBytes(peakRss));
  if (aneFigures)
    printAneFigures(*aneFigures);
  std::fflush(stdout);
  printInputBindingSummary(image, s);
  if (o.profile) {
    printProfile("prefill", o.pp, prefillProfile);
    printProfile("decode", o.tg, decodeProfile);
  }
  return 0;
}

} // namespace

void addBenchCommand(CLI::App &app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App *cmd = app.add_subcommand(
      "bench", "time compile, pack, prefill, decode and weight swaps");
  addModelOptions(*cmd, o->model);
  cmd->add_option("--pp", o->pp, "prompt tokens to prefill (default 512)")
      ->check(greaterThan(0));
  cmd->add_option("--tg", o->tg, "tokens to decode (default 128)")
      ->check(atLeast(0));
  cmd->add_flag("--pg", o->afterPrompt,
                "decode right after the prompt (positions pp, pp + 1, ...; "
                "llama-bench's -pg) instead of from an empty context (its "
                "tg)");
  cmd->add_flag("--json", o->json, "print one JSON object");
  cmd->add_flag("--profile", o->profile,
                "time every kernel's MIL ops (cpu backends) and print where "
                "prefill and decode spend it");
  addBuildOptions(*cmd, o->build);
  cmd->callback([o] {
    if (int rc = bench(*o))
      throw CLI::RuntimeError(rc);
  });
}

} // namespace ane::exec
