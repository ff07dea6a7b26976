//===- PlanCommand.cpp - ane-exec plan ------------------------------------===//
//
// Prints the memory budget and the decode/prefill bounds of a model on an
// Apple chip, per weight-binding strategy (lib/Runtime/Plan.h). A model
// file is compiled (not packed): the kernel set alone gives every size.
//
//===----------------------------------------------------------------------===//

#include "tools/ane-exec/Commands.h"
#include "tools/ane-exec/ModelLoader.h"

#include "lib/Runtime/Anepak.h"
#include "lib/Runtime/Plan.h"
#include "lib/Support/Json.h"

#include <fmt/format.h>

namespace ane::exec {
namespace {

struct PlanOptions {
  ModelOptions model;
  std::string chip = "m2";
  std::optional<abi::Scheme> quant;
  int64_t group = 0;
  int64_t ctx = 0; // 0: the model's max_seq_len
  int64_t prefill = 128;
  std::string binding; // empty: every strategy
  double memoryGiB = 24;
  bool json = false;
};

Result<abi::KernelSet> kernelsOf(const PlanOptions &o, std::string &name,
                                 int64_t &ctx) {
  if (runtime::hasAnepakMagic(o.model.model)) {
    // The manifest is all a plan needs: the weights are not read.
    auto kernels = runtime::readAnepakManifest(o.model.model);
    if (!kernels.ok())
      return kernels.status();
    name = o.model.model;
    if (ctx == 0)
      ctx = kernels->ctxBuckets().empty() ? 0 : kernels->ctxBuckets().back();
    return kernels;
  }
  auto spec = model::openModel(o.model.model);
  if (!spec.ok())
    return spec.status();
  name = spec->source;
  if (ctx == 0)
    ctx = spec->config.maxSeqLen;
  BuildOptions build;
  build.quant = o.quant;
  build.group = o.group;
  build.prefill = o.prefill;
  auto options = kernelSetOptions(*spec, build, ctx);
  if (!options.ok())
    return options.status();
  double seconds = 0;
  return compileAndReport(*spec, *options, seconds);
}

double gb(uint64_t bytes) { return double(bytes) / 1e9; }

std::string range(const double v[2]) {
  return fmt::format("{:.1f}-{:.1f}", v[1], v[0]);
}

void printJson(const runtime::Plan &p, const std::string &name,
               const std::string &scheme) {
  json::Writer w;
  w.beginObject();
  w.key("model").string(name).key("scheme").string(scheme);
  w.key("chip").string(p.chip.name).key("ctx").integer(p.ctx);
  w.key("prefill").integer(p.prefillSeq);
  w.key("machine_bytes").integer(int64_t(p.machineBytes));
  w.key("parameters").integer(int64_t(p.parameters));
  w.key("strategies").beginArray();
  for (const runtime::StrategyPlan &s : p.strategies) {
    w.beginObject().key("strategy").string(s.strategy);
    w.key("weight_bytes").integer(int64_t(s.weightBytes));
    w.key("embedding_bytes").integer(int64_t(s.embeddingBytes));
    w.key("kv_cache_bytes").integer(int64_t(s.kvCacheBytes));
    w.key("scratch_bytes").integer(int64_t(s.scratchBytes));
    w.key("total_bytes").integer(int64_t(s.totalBytes));
    w.key("headroom_bytes").integer(s.headroomBytes);
    w.key("programs").integer(s.programs);
    w.key("calls_per_token").integer(s.callsPerToken);
    // [worst, best]: the slower dispatch first.
    w.key("decode_tok_s").beginArray();
    w.number(s.decodeTokS[1]).number(s.decodeTokS[0]).endArray();
    w.key("prefill_tok_s").beginArray();
    w.number(s.prefillTokS[1]).number(s.prefillTokS[0]).endArray();
    w.key("lora_train_tok_s").beginArray();
    w.number(s.trainTokS[1]).number(s.trainTokS[0]).endArray();
    w.key("note").string(s.note).endObject();
  }
  w.endArray().endObject();
  fmt::print("{}\n", w.str());
}

void printTable(const runtime::Plan &p, const std::string &name,
                const abi::KernelSet &ks) {
  const runtime::ChipSpec &c = p.chip;
  fmt::print("model      {}: {} {}, {} layers, {:.2f} B parameters read per "
             "token\n",
             name, abi::schemeName(ks.scheme), abi::dtypeName(ks.dtype),
             ks.config.nLayers, double(p.parameters) / 1e9);
  fmt::print("chip       {}: ANE weight stream {:.0f} GB/s, {:.1f} TFLOPS "
             "fp16, {:.1f}-{:.1f} ms dispatch per call\n",
             c.name, c.streamGBs, c.fp16Tflops, c.dispatchMs[0],
             c.dispatchMs[1]);
  fmt::print("context    {} positions; prefill {} tokens per call\n\n", p.ctx,
             p.prefillSeq);
  auto row = [&](const char *label, auto cell) {
    fmt::print("{:<24}", label);
    for (const runtime::StrategyPlan &s : p.strategies)
      fmt::print(" {:>15}", cell(s));
    fmt::print("\n");
  };
  using SP = runtime::StrategyPlan;
  row("", [](const SP &s) { return s.strategy; });
  row("weights (GB)",
      [](const SP &s) { return fmt::format("{:.2f}", gb(s.weightBytes)); });
  row("embedding, host (GB)",
      [](const SP &s) { return fmt::format("{:.2f}", gb(s.embeddingBytes)); });
  row("KV cache (GB)",
      [](const SP &s) { return fmt::format("{:.2f}", gb(s.kvCacheBytes)); });
  row("scratch (GB)",
      [](const SP &s) { return fmt::format("{:.2f}", gb(s.scratchBytes)); });
  row("total (GB)",
      [](const SP &s) { return fmt::format("{:.2f}", gb(s.totalBytes)); });
  std::string headroom =
      fmt::format("headroom of {:.0f} GiB", double(p.machineBytes) / (1 << 30));
  row(headroom.c_str(), [](const SP &s) {
    return fmt::format("{:.2f}", double(s.headroomBytes) / 1e9);
  });
  row("programs", [](const SP &s) { return std::to_string(s.programs); });
  row("calls per token",
      [](const SP &s) { return std::to_string(s.callsPerToken); });
  row("decode <= tok/s", [](const SP &s) { return range(s.decodeTokS); });
  row("prefill <= tok/s", [](const SP &s) { return range(s.prefillTokS); });
  // Training sequences are prefill chunks (docs/finetune.md).
  row("LoRA train <= tok/s", [](const SP &s) { return range(s.trainTokS); });
  for (const SP &s : p.strategies)
    if (!s.note.empty())
      fmt::print("note: {}: {}\n", s.strategy, s.note);
}

int plan(const PlanOptions &o) {
  auto chip = runtime::findChip(o.chip);
  if (!chip.ok())
    return fail(chip.message());
  std::string name;
  int64_t ctx = o.ctx;
  auto kernels = kernelsOf(o, name, ctx);
  if (!kernels.ok())
    return fail(kernels.message());
  auto p = runtime::planKernelSet(*kernels, *chip, ctx,
                                  uint64_t(o.memoryGiB * double(1 << 30)));
  if (!p.ok())
    return fail(p.message());
  if (!o.binding.empty())
    p->strategies.erase(std::remove_if(p->strategies.begin(),
                                       p->strategies.end(),
                                       [&](const runtime::StrategyPlan &s) {
                                         return s.strategy != o.binding;
                                       }),
                        p->strategies.end());
  if (o.json)
    printJson(*p, name, std::string(abi::schemeName(kernels->scheme)));
  else
    printTable(*p, name, *kernels);
  return 0;
}

} // namespace

void addPlanCommand(CLI::App &app) {
  auto o = std::make_shared<PlanOptions>();
  CLI::App *cmd = app.add_subcommand(
      "plan", "memory budget and ANE decode/prefill bounds per weight "
              "binding on an Apple chip");
  addModelOptions(*cmd, o->model);
  std::vector<std::string> names;
  for (const runtime::ChipSpec &c : runtime::chips())
    names.push_back(c.name);
  cmd->add_option("--chip", o->chip, "Apple chip")->check(CLI::IsMember(names));
  addSchemeOption(*cmd, o->quant, "weight storage (default: the source's)");
  cmd->add_option("--group", o->group, "quantization group (0: the default)")
      ->check(atLeast(0));
  cmd->add_option("-c,--ctx", o->ctx,
                  "KV cache positions (0: the model's max_seq_len)")
      ->check(atLeast(0));
  cmd->add_option("--prefill", o->prefill, "prompt tokens per prefill call")
      ->check(between(1, 4096));
  cmd->add_option("--weight-binding", o->binding,
                  "show one strategy: blob, input or baked")
      ->check(CLI::IsMember({"blob", "input", "baked"}));
  cmd->add_option("--memory", o->memoryGiB, "machine memory in GiB")
      ->check(greaterThan(0));
  cmd->add_flag("--json", o->json, "print one JSON object");
  cmd->callback([o] {
    if (int rc = plan(*o))
      throw CLI::RuntimeError(rc);
  });
}

} // namespace ane::exec
