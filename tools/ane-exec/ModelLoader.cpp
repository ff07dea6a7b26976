//===- ModelLoader.cpp - the loader's command-line flags -----------------===//

#include "tools/ane-exec/ModelLoader.h"

#include "lib/Runtime/Ane/AneBackend.h"

#include "tools/ane-exec/Commands.h"

#include "lib/Runtime/Backend.h"
#include "lib/Runtime/Plan.h"

#include <fmt/format.h>

#include <map>

namespace ane::exec {

namespace {

/// An option whose words are the names `name` gives `values`; the word
/// given is parsed once, into `set`.
template <typename E, size_t N, typename Set>
CLI::Option *addEnumOption(CLI::App &app, const std::string &flag,
                           const E (&values)[N], std::string_view (*name)(E),
                           Set set, const std::string &description) {
  std::vector<std::string> words;
  std::map<std::string, E> byWord;
  for (E v : values) {
    words.emplace_back(name(v));
    byWord.emplace(words.back(), v);
  }
  return app
      .add_option_function<std::string>(
          flag, [byWord, set](const std::string &w) { set(byWord.at(w)); },
          description)
      ->check(CLI::IsMember(words));
}

} // namespace

CLI::Option *addSchemeOption(CLI::App &app, std::optional<abi::Scheme> &scheme,
                             const std::string &description) {
  const abi::Scheme all[] = {abi::Scheme::F16, abi::Scheme::Q8, abi::Scheme::Q4,
                             abi::Scheme::Q3, abi::Scheme::Lut4};
  return addEnumOption(
      app, "--quant", all, abi::schemeName,
      [&scheme](abi::Scheme s) { scheme = s; }, description);
}

void addModelOptions(CLI::App &app, ModelOptions &model, ModelFlag modelFlag) {
  const char *sources = "a .gguf, llama2.c .bin, .anepak, Hugging Face "
                        "folder or synthetic:NAME[?layers=N]";
  CLI::Option *m = app.add_option(
      "-m,--model", model.model,
      modelFlag == ModelFlag::Required
          ? std::string(sources)
          : std::string(sources) + " (default: stories260K from ../shared, "
                                   "else synthetic:tiny)");
  if (modelFlag == ModelFlag::Required)
    m->required();
  app.add_option("-z,--tokenizer", model.tokenizer,
                 "llama2.c tokenizer.bin or tokenizer.json, for checkpoints "
                 "that carry none");
}

void addBuildOptions(CLI::App &app, BuildOptions &build) {
  build.givenFlag = [&app](const std::string &flag) {
    const CLI::Option *o = app.get_option_no_throw(flag);
    return o && o->count() > 0;
  };
  addSchemeOption(app, build.quant,
                  "weight storage: f16, q8, q4, q3 or lut4 (default: the "
                  "source's own: q4 for Q4 GGUFs, q8 for Q8/Q6, else f16)");
  app.add_option("--group", build.group,
                 "quantization group along a row (0: the scheme's default)")
      ->check(atLeast(0));
  const abi::DType dtypes[] = {abi::DType::FP16, abi::DType::FP32};
  addEnumOption(
      app, "--dtype", dtypes, abi::dtypeName,
      [&build](abi::DType d) { build.dtype = d; }, "kernel compute type");
  const abi::WeightBinding bindings[] = {abi::WeightBinding::Blob,
                                         abi::WeightBinding::Input};
  addEnumOption(
      app, "--weight-binding", bindings, abi::weightBindingName,
      [&build](abi::WeightBinding b) { build.binding = b; },
      "how a layer's weights reach the kernels: blob (weight.bin "
      "segments) or input (kernel inputs)");
  app.add_option("-c,--ctx", build.ctx,
                 "context length to compile for (0: what the run needs)")
      ->check(atLeast(0));
  app.add_option("--prefill", build.prefill,
                 "prompt tokens per prefill call (1: no prefill bucket; "
                 "default: 64 on cpu, with a bucket of 16 for the rest of a "
                 "prompt, else 16)")
      ->check(between(1, 4096));
  app.add_option("--decode-batch", build.decodeBatch,
                 "also compile seq buckets 2, 4, ... up to N, so that serve "
                 "decodes N sequences in one pass over the weights without "
                 "padding to the prefill bucket")
      ->check(between(1, 256));
  app.add_option("--kernels", build.kernelDir,
                 "run the kernels of DIR (ane-translate --kernel-dir) on the "
                 "model's weights instead of compiling them; DIR fixes the "
                 "scheme, dtype, binding and buckets");
  app.add_option("--backend", build.backend,
                 "where kernels run: cpu, cpu-reference (the oracle), "
                 "ane-sim (the ANE simulator) or ane (macOS)");
  app.add_option("--family", build.family,
                 "legalize the kernels for an ANE family: channels padded "
                 "to 64-byte rows, axes over its cap tiled (ane-compile "
                 "family=)")
      ->check(CLI::IsMember({"m1", "m2", "m3", "m4"}));
  app.add_option("--ane-cache", build.aneCache,
                 "where ane and ane-sim keep compiled programs (default: "
                 "$ANE_CACHE_DIR, else $XDG_CACHE_HOME/ane-mlir, else "
                 "~/.cache/ane-mlir)");
  std::vector<std::string> chipNames;
  for (const runtime::ChipSpec &c : runtime::chips())
    chipNames.push_back(c.name);
  app.add_option("--ane-chip", build.aneChip,
                 "the chip ane-sim models (default: --family's, else m2)")
      ->check(CLI::IsMember(chipNames));
  app.add_option("--lora", build.loraFiles,
                 "a LoRA adapter (llama.cpp's GGUF form) to apply at scale 1; "
                 "repeatable");
  app.add_option("--lora-scaled", build.loraScaled,
                 "FILE SCALE: an adapter at a scale of its own; repeatable");
  app.add_flag("--lora-merge", build.loraMerge,
               "add the adapters into the weights before packing, instead "
               "of passing them to the kernels as inputs");
  app.add_flag("--ane-blob-reload", build.aneBlobReload,
               "compile each weight-file kernel once and reload it with "
               "each layer's weights, where ane-exec probe's gate G1 holds "
               "(refused elsewhere; the default bakes a program per layer)");
  app.add_option("--ane-compile-budget", build.aneCompileBudget,
                 "compiles per process before the rest go to worker "
                 "processes (the ANE's compiler fails after about 119)")
      ->check(between(1, 119));
  app.add_flag("--mmap", build.mapWeights,
               "leave a .anepak's weights mapped from the page cache "
               "(starts sooner and shares the pages with other processes) "
               "instead of reading the ones the kernels stream into huge "
               "pages");
  using loader::PackCachePolicy;
  const PackCachePolicy policies[] = {
      PackCachePolicy::Auto, PackCachePolicy::Always, PackCachePolicy::Never};
  addEnumOption(
      app, "--pack-cache", policies, loader::packCachePolicyName,
      [&build](PackCachePolicy p) { build.packCache = p; },
      "keep a model file's packed weights as a .anepak in the cache folder "
      "($ANE_CACHE_DIR, else $XDG_CACHE_HOME/ane-mlir, else "
      "~/.cache/ane-mlir; the two most recently used are kept) and reuse "
      "them when the same file runs with the same kernels: auto (weights of "
      "256 MiB or more), always or never");
  app.add_option("-t,--threads", build.threads,
                 "threads for packing (0: every core)")
      ->check(atLeast(0));
}

void printAneSummary(const runtime::Backend &backend) {
  const runtime::AneDevice *d = runtime::aneDeviceOf(backend);
  const runtime::AneBackendStats *s = runtime::aneBackendStatsOf(backend);
  if (!d || !s)
    return;
  const runtime::AneCounters &c = d->counters();
  fmt::print(stderr,
             "{}: programs: {} compiled here, {} from the compile cache, {} "
             "compiled by {} worker processes; {} evaluations; modelled "
             "device time {:.3f} s\n",
             d->target(), s->compiledHere, s->fromCache, s->compiledByWorkers,
             s->workerProcesses, c.evaluations, c.modelledSeconds);
}

void printInputBindingSummary(const runtime::ModelImage &image,
                              const runtime::EngineStats &stats) {
  const abi::KernelSet &ks = image.kernels;
  if (ks.weightBinding != abi::WeightBinding::Input)
    return;
  uint64_t stored = stats.inputStoredBytes;
  fmt::print(stderr,
             "input binding: the weights travel as {} inputs, {} ({:.1f}x "
             "the {} {} stores); converted {}: {} conversions in {:.2f} s\n",
             abi::dtypeName(ks.dtype), humanBytes(stats.inputWeightBytes),
             stored ? double(stats.inputWeightBytes) / double(stored) : 0.0,
             humanBytes(stored), abi::schemeName(ks.scheme),
             stats.inputWeightsResident ? "once and kept" : "per layer use",
             stats.inputConversions, stats.inputConversionSeconds);
}

int fail(const std::string &message) {
  fmt::print(stderr, "error: {}\n", message);
  return 1;
}

} // namespace ane::exec
