//===- ModelLoader.cpp - a model file made ready for the engine -----------===//

#include "lib/Loader/ModelLoader.h"

#include "lib/Model/HfTokenizer.h"
#include "lib/Model/Llama2c.h"
#include "lib/Model/LoraAdapter.h"
#include "lib/Runtime/Ane/CompileCache.h"
#include "lib/Runtime/Anepak.h"
#include "lib/Runtime/ModelPacker.h"
#include "lib/Runtime/ThreadPool.h"
#include "lib/Support/FileKinds.h"

#include <fmt/format.h>

#include <unistd.h>
#if defined(__APPLE__)
#include <mach-o/dyld.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <set>
#include <thread>

namespace ane::loader {

namespace {

/// A line on stderr, unless the caller asked for quiet.
template <typename... Args>
void note(const BuildOptions &build, fmt::format_string<Args...> format,
          Args &&...args) {
  if (!build.quiet)
    fmt::print(stderr, format, std::forward<Args>(args)...);
}

} // namespace

Result<model::TokenizerData> readTokenizerFile(const std::string &path,
                                               int64_t vocabSize) {
  auto data = endsWith(path, ".json") ? model::readHfTokenizer(path)
                                      : model::readLlama2cTokenizer(path);
  if (!data.ok())
    return data.status();
  if (static_cast<int64_t>(data->tokens.size()) != vocabSize)
    return Status::error(path + ": " + std::to_string(data->tokens.size()) +
                         " tokens, the model's vocabulary has " +
                         std::to_string(vocabSize));
  return data;
}

Result<model::Tokenizer> loadTokenizer(const model::ModelSpec &spec,
                                       const std::string &path) {
  if (!path.empty()) {
    auto data = readTokenizerFile(path, spec.config.vocabSize);
    if (!data.ok())
      return data.status();
    return model::Tokenizer::create(*data);
  }
  if (!spec.tokenizer)
    return Result<model::Tokenizer>::error(
        spec.source + " carries no tokenizer: pass -z tokenizer.bin");
  return model::Tokenizer::create(*spec.tokenizer);
}

runtime::BackendOptions BuildOptions::backendOptions() const {
  runtime::BackendOptions o;
  o.compileCacheDir =
      aneCache.empty() ? runtime::defaultCompileCacheDir() : aneCache;
  o.compileBudget = aneCompileBudget;
  o.aneBlobReload = aneBlobReload;
  o.mapWeights = mapWeights;
  // ane-sim models the chip asked for, else the one the kernels are
  // legalized for.
  o.aneChip = aneChip.empty() ? family : aneChip;
  // Workers are this executable again, in its hidden worker mode.
  std::string self = executablePath();
  if (!self.empty())
    o.workerCommand = {self, kCompileWorkerCommand};
  return o;
}

std::string executablePath() {
  char path[4096];
#if defined(__APPLE__)
  uint32_t size = sizeof(path);
  if (::_NSGetExecutablePath(path, &size) != 0)
    return "";
  return path;
#else
  ssize_t n = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
  return n > 0 ? std::string(path, size_t(n)) : "";
#endif
}

namespace {

/// A .anepak fixes how its model was compiled: flags that ask for
/// something else are refused rather than ignored.
Status checkFixedByAnepak(const std::string &path, const BuildOptions &b,
                          const abi::KernelSet &ks) {
  auto refuse = [&](const std::string &flag, std::string_view holds,
                    std::string_view asked) {
    return Status::error(fmt::format(
        "{} was compiled with {} {}; {} {} needs the model it came from "
        "(ane-exec compile)",
        path, flag, holds, flag, asked));
  };
  if (b.quant && *b.quant != ks.scheme)
    return refuse("--quant", abi::schemeName(ks.scheme),
                  abi::schemeName(*b.quant));
  if (b.given("--dtype") && b.dtype != ks.dtype)
    return refuse("--dtype", abi::dtypeName(ks.dtype), abi::dtypeName(b.dtype));
  if (b.given("--family"))
    return Status::error(fmt::format(
        "{} holds compiled kernels; --family applies when compiling a model "
        "file (ane-exec compile --family)",
        path));
  if (b.given("--weight-binding") && b.binding != ks.weightBinding)
    return refuse("--weight-binding", abi::weightBindingName(ks.weightBinding),
                  abi::weightBindingName(b.binding));
  std::vector<int64_t> seq = ks.seqBuckets(), ctx = ks.ctxBuckets();
  if (b.given("--decode-batch") && b.decodeBatch > 1 &&
      std::find(seq.begin(), seq.end(), b.decodeBatch) == seq.end())
    return refuse("--decode-batch",
                  "buckets " + fmt::format("{}", fmt::join(seq, "/")),
                  std::to_string(b.decodeBatch));
  if (b.given("--prefill") && b.prefillChunk() != seq.back())
    return refuse("--prefill", std::to_string(seq.back()),
                  std::to_string(b.prefillChunk()));
  if (b.given("--ctx") && !ctx.empty() && b.ctx > ctx.back())
    return refuse("--ctx", "up to " + std::to_string(ctx.back()),
                  std::to_string(b.ctx));
  if (ks.hasInterleavedSlots() && b.backend != "cpu")
    return Status::error(fmt::format(
        "{} holds weights packed for the cpu backend (interleaved16 slots); "
        "--backend {} reads Core ML's row-major layout: compile the model "
        "with --backend {}",
        path, b.backend, b.backend));
  if (b.given("--group"))
    for (const abi::SlotSpec &s : ks.slots)
      if (abi::isQuantized(s.scheme) && b.group != s.group &&
          !(b.group == 0 && s.group == abi::defaultGroup(s.scheme)))
        return refuse("--group", std::to_string(s.group),
                      std::to_string(b.group));
  return Status::success();
}

} // namespace

/// The prefill chunk of backends other than cpu, and the smaller bucket
/// beside the cpu's default.
constexpr int64_t kSmallChunk = 16;

int64_t BuildOptions::prefillChunk() const {
  if (prefill > 0)
    return prefill;
  return backend == "cpu" ? 64 : kSmallChunk;
}

int BuildOptions::threadCount() const {
  return threads > 0 ? threads
                     : std::max(1, int(std::thread::hardware_concurrency()));
}

ModelOptions withDefaultModel(const ModelOptions &given, bool quiet) {
  if (!given.model.empty())
    return given;
  ModelOptions m = given;
  std::string dir = ANE_DEFAULT_MODEL_DIR;
  if (std::ifstream(dir + "/stories260K.bin").good() &&
      std::ifstream(dir + "/tok512.bin").good()) {
    m.model = dir + "/stories260K.bin";
    if (m.tokenizer.empty())
      m.tokenizer = dir + "/tok512.bin";
  } else {
    m.model = "synthetic:tiny";
  }
  if (!quiet)
    fmt::print(stderr, "model: {} (the built-in default; pass -m to choose)\n",
               m.model);
  return m;
}

namespace {

double secondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t)
      .count();
}

} // namespace

Result<KernelSetOptions> kernelSetOptions(const model::ModelSpec &spec,
                                          const BuildOptions &build,
                                          int64_t minContext) {
  KernelSetOptions o = sourceOptions(spec);
  // The quantizer would quietly clamp any other group to one it can take.
  int64_t g = build.group;
  if (g != 0 && (g < 16 || g > 4096 || (g & (g - 1)) != 0))
    return Status::error(fmt::format(
        "--group {}: a group is a power of two from 16 to 4096 (0: the "
        "scheme's default)",
        g));
  // Another scheme or group than the source's: requantized, so fused.
  if ((build.quant && *build.quant != o.scheme) ||
      (build.group && build.group != o.group)) {
    o.group = build.group;
    o.fuse = true;
  }
  if (build.quant)
    o.scheme = *build.quant;
  o.dtype = build.dtype;
  o.weightBinding = build.binding;
  o.family = build.family;
  o.loraRank = build.loraRank;
  o.loraTargets = build.loraTargets;
  o.backward = build.backward;
  // Packed for the cpu backend, the int4 weights take its kernels' layout;
  // any other backend reads Core ML's (and refuses the cpu's).
  o.cpuLayout = build.backend == "cpu";
  // Batched decode pads a step to the next bucket: powers of two keep the
  // padding under half.
  const int64_t chunk = build.prefillChunk();
  std::set<int64_t> seq = {1, chunk};
  if (build.prefill == 0 && chunk > kSmallChunk)
    seq.insert(kSmallChunk);
  for (int64_t b = 2; b < build.decodeBatch * 2; b *= 2)
    seq.insert(std::min(b, build.decodeBatch));
  o.seqBuckets.assign(seq.begin(), seq.end());
  int64_t asked =
      build.ctx || !build.fullContext ? build.ctx : spec.config.maxSeqLen;
  int64_t ctx = std::max(asked, minContext);
  if (ctx <= 0 || ctx > (int64_t(1) << 20))
    return Status::error(fmt::format("a context of {} is out of range", ctx));
  int64_t window = spec.config.slidingWindow;
  if (window > 0 && ctx > window)
    return Status::error(fmt::format(
        "{}: a context of {} passes the model's sliding window of {}; "
        "sliding-window attention is not implemented, so contexts stop at "
        "the window",
        spec.source, ctx, window));
  if (build.exactContext) {
    o.ctxBuckets = {std::max(ctx, chunk)};
    return o;
  }
  if (ctx > spec.config.maxSeqLen)
    note(build,
         "warning: a context of {} is longer than the model's "
         "max_seq_len {}\n",
         ctx, spec.config.maxSeqLen);
  // Four buckets per octave (256, 320, 384, 448, 512, 640, ...). Attention
  // reads its whole bucket of K/V cache, so a context reads at most 25%
  // more columns than it holds, not up to twice as many: at pp512 + tg128,
  // 640 columns rather than 1024 (7B: 0.34 GB a token instead of 0.54).
  // A prefill call writes its whole chunk into the cache, so every bucket
  // holds at least one chunk.
  o.ctxBuckets.clear();
  for (int64_t p = 256;; p *= 2)
    for (int64_t step = 0; step < 4; ++step) {
      int64_t b = p + step * p / 4;
      if (b >= chunk)
        o.ctxBuckets.push_back(b);
      if (b >= ctx && !o.ctxBuckets.empty()) {
        // The last bucket ends at the window, where the kernels stop being
        // right.
        if (window > 0 && o.ctxBuckets.back() > window)
          o.ctxBuckets.back() = std::max(window, chunk);
        return o;
      }
    }
}

Result<abi::KernelSet> compileAndReport(const model::ModelSpec &spec,
                                        const KernelSetOptions &options,
                                        double &seconds, bool quiet) {
  auto start = std::chrono::steady_clock::now();
  auto kernels = compileKernelSet(spec, options);
  if (!kernels.ok())
    return kernels.status();
  seconds = secondsSince(start);
  if (!quiet)
    fmt::print(stderr,
               "compiled {} ({} kernels, {} programs, {} {}) in {:.3f} s\n",
               describeKernels(*kernels), kernels->kernels.size(),
               kernels->programs.size(), abi::schemeName(options.scheme),
               abi::dtypeName(options.dtype), seconds);
  return kernels;
}

/// The kernel set of a kernel directory, checked against the model it is
/// to run.
Result<abi::KernelSet> kernelsFromDir(const std::string &dir,
                                      const model::ModelSpec &spec,
                                      const BuildOptions &build) {
  auto kernels = abi::readKernelDir(dir);
  if (!kernels.ok())
    return kernels.status();
  const model::Config &k = kernels->config, &m = spec.config;
  if (k.dim != m.dim || k.nLayers != m.nLayers || k.nHeads != m.nHeads ||
      k.nKvHeads != m.nKvHeads || k.headDim != m.headDim ||
      k.hiddenDim != m.hiddenDim || k.vocabSize != m.vocabSize)
    return Status::error(fmt::format(
        "{}: the kernels were compiled for dim {}, {} layers, vocabulary {}; "
        "{} has dim {}, {} layers, vocabulary {}",
        dir, k.dim, k.nLayers, k.vocabSize, spec.source, m.dim, m.nLayers,
        m.vocabSize));
  // What the compiler cannot know about the model.
  kernels->config = m;
  note(build, "kernels from {}: {} ({} {})\n", dir, describeKernels(*kernels),
       abi::schemeName(kernels->scheme), abi::dtypeName(kernels->dtype));
  return kernels;
}

namespace {

/// The adapters as one: none, the only one at scale 1, or their sum.
std::optional<model::LoraAdapter> combinedAdapter(
    const std::vector<std::pair<model::LoraAdapter, double>> &list) {
  if (list.empty())
    return std::nullopt;
  if (list.size() == 1 && list[0].second == 1.0)
    return list[0].first;
  return model::combineAdapters(list);
}

} // namespace

Result<std::optional<model::LoraAdapter>>
readAdapters(const BuildOptions &build, const model::Config &config) {
  auto adapters = readAdapterList(build, config);
  if (!adapters.ok())
    return adapters.status();
  return combinedAdapter(*adapters);
}

Result<std::vector<std::pair<model::LoraAdapter, double>>>
readAdapterList(const BuildOptions &build, const model::Config &config) {
  std::vector<std::pair<std::string, double>> files;
  for (const std::string &f : build.loraFiles)
    files.push_back({f, 1.0});
  files.insert(files.end(), build.loraScaled.begin(), build.loraScaled.end());
  std::vector<std::pair<model::LoraAdapter, double>> adapters;
  for (const auto &[path, scale] : files) {
    auto a = model::readLoraAdapter(path, config);
    if (!a.ok())
      return a.status();
    note(build,
         "adapter: {} (rank {}, alpha {}, {} matrices) at "
         "scale {}\n",
         path, a->rank, a->alpha, 2 * a->pairs.size(), a->scale(scale));
    adapters.push_back({std::move(*a), scale});
  }
  return adapters;
}

namespace {

/// The roles an adapter changes, by name.
std::vector<std::string> adaptedRoles(const model::LoraAdapter &a) {
  std::vector<std::string> roles;
  for (const model::LoraPair &p : a.pairs) {
    std::string r(model::roleName(p.role));
    if (std::find(roles.begin(), roles.end(), r) == roles.end())
      roles.push_back(r);
  }
  return roles;
}

} // namespace

Result<runtime::Engine> createEngine(const LoadedModel &model,
                                     const BuildOptions &build) {
  auto engine = runtime::Engine::create(model.image, build.backend,
                                        build.backendOptions());
  if (engine.ok()) {
    const runtime::EngineStats &s = engine->stats();
    if (s.hugePageBytes > 0)
      note(build,
           "weights: {:.2f} GiB read into huge pages in {:.1f} s "
           "(--mmap leaves them mapped)\n",
           double(s.hugePageBytes) / double(1ull << 30), s.hugePageSeconds);
    if (!s.hugePageNote.empty())
      note(build, "note: some weights stay mapped from the file: {}\n",
           s.hugePageNote);
  }
  if (engine.ok() && model.lora)
    if (Status s = engine->setLora(model.lora); !s.ok())
      return s;
  return engine;
}

Result<LoadedModel> loadModel(const ModelOptions &given,
                              const BuildOptions &build, int64_t minContext) {
  return loadModel(given, build,
                   [minContext](const model::Tokenizer &) -> Result<int64_t> {
                     return minContext;
                   });
}

namespace {

/// The pack `path` of `kernels` when it can be opened and holds them.
Result<runtime::ModelImage> openPack(const std::string &path,
                                     const abi::KernelSet &kernels) {
  auto image = runtime::openAnepak(path);
  if (!image.ok())
    return image.status();
  if (abi::writeManifest(image->kernels) != abi::writeManifest(kernels) ||
      image->kernels.programs != kernels.programs)
    return Status::error(path + ": holds other kernels than its name says");
  return image;
}

/// Where the pack cache keeps `model` compiled as `kernels`; none when it
/// does not apply (the policy, the size, or no file behind the model).
std::optional<std::string> packCacheFile(const std::string &model,
                                         const abi::KernelSet &kernels,
                                         const BuildOptions &build) {
  if (build.packCache == PackCachePolicy::Never ||
      (build.packCache == PackCachePolicy::Auto &&
       packedWeightBytes(kernels) < kPackCacheMinBytes))
    return std::nullopt;
  std::optional<std::string> identity = sourceIdentity(model);
  std::string root = runtime::defaultCompileCacheDir();
  if (!identity || root.empty())
    return std::nullopt;
  return packCachePath(root + "/packed", model, *identity + packerIdentity(),
                       kernels);
}

/// The pack an earlier run left at `path`, when it opens and holds
/// `kernels`; a damaged one is reported and packed again.
std::optional<runtime::ModelImage> reusePack(const std::string &path,
                                             const std::string &model,
                                             const abi::KernelSet &kernels,
                                             const BuildOptions &build) {
  if (::access(path.c_str(), F_OK) != 0)
    return std::nullopt;
  auto image = openPack(path, kernels);
  if (!image.ok()) {
    note(build, "warning: {}; packing again\n", image.message());
    return std::nullopt;
  }
  touchPack(path);
  note(build,
       "weights: {}, packed from {} by an earlier run (--pack-cache never "
       "packs them again)\n",
       path, model);
  return std::move(*image);
}

/// A thread that is waited for when its owner goes, saying so when that
/// takes a while.
struct JoinedThread {
  std::thread thread;
  std::atomic<bool> done{false};
  std::string waitNote; // printed when the thread is still at work
  ~JoinedThread() {
    if (!thread.joinable())
      return;
    if (!done && !waitNote.empty())
      fmt::print(stderr, "{}", waitNote);
    thread.join();
  }
};

/// Writes the packed `image` into the pack cache at `path` on a thread of
/// its own, so that generating starts now; dropping the handle waits for
/// it. A failure is a warning: the run has its weights.
std::shared_ptr<const void> keepPack(const std::string &path,
                                     runtime::ModelImage image,
                                     const BuildOptions &build) {
  bool quiet = build.quiet;
  std::string dir = path.substr(0, path.rfind('/'));
  note(build,
       "keeping them in {} for the next run of this file with these kernels "
       "(--pack-cache never skips this)\n",
       path);
  auto joined = std::make_shared<JoinedThread>();
  if (!quiet)
    joined->waitNote = fmt::format("finishing {} (Ctrl-C leaves nothing "
                                   "behind)\n",
                                   path);
  JoinedThread *self = joined.get();
  joined->thread =
      std::thread([path, dir, image = std::move(image), quiet, self] {
        Status s = runtime::makeDirs(dir);
        if (s.ok())
          s = runtime::writeAnepakImage(path, image);
        self->done = true;
        if (!s.ok()) {
          if (!quiet)
            fmt::print(stderr,
                       "warning: cannot keep the packed weights in {}: {}\n",
                       dir, s.message());
          return;
        }
        for (const std::string &old : trimPackCache(dir, kPackCacheKeep))
          if (!quiet)
            fmt::print(stderr, "removed {} from the pack cache\n", old);
      });
  return joined;
}

} // namespace

Result<LoadedModel> loadModel(const ModelOptions &given,
                              const BuildOptions &build,
                              const ContextNeed &contextNeed) {
  runtime::ThreadPool::setDefaultThreads(build.threadCount());
  // An unavailable backend fails before any compiling or packing.
  if (auto backend = runtime::createBackend(build.backend); !backend.ok())
    return backend.status();
  ModelOptions m = withDefaultModel(given, build.quiet);
  LoadedModel loaded;
  if (endsWith(m.model, ".anepak") || runtime::hasAnepakMagic(m.model)) {
    if (!build.kernelDir.empty())
      return Status::error(m.model + " carries its own kernels; --kernels "
                                     "runs with a model file");
    auto image = runtime::openAnepak(m.model);
    if (!image.ok())
      return image.status();
    if (Status s = checkFixedByAnepak(m.model, build, image->kernels); !s.ok())
      return s;
    loaded.image = std::move(*image);
    if (!m.tokenizer.empty()) {
      auto data =
          readTokenizerFile(m.tokenizer, loaded.image.kernels.config.vocabSize);
      if (!data.ok())
        return data.status();
      loaded.image.tokenizer = std::move(*data);
    }
    if (!loaded.image.tokenizer)
      return Status::error(m.model + " carries no tokenizer: pass -z");
    auto list = readAdapterList(build, loaded.image.kernels.config);
    if (!list.ok())
      return list.status();
    loaded.adapterList = std::move(*list);
    std::optional<model::LoraAdapter> adapter =
        combinedAdapter(loaded.adapterList);
    if (adapter && build.loraMerge)
      return Status::error(m.model + " holds packed weights; --lora-merge "
                                     "needs the model file it came from");
    if (adapter) {
      auto lora = runtime::toKernelLora(*adapter, 1.0, loaded.image.kernels);
      if (!lora.ok())
        return lora.status();
      loaded.lora = std::make_shared<runtime::KernelLora>(std::move(*lora));
    }
    auto tok = model::Tokenizer::create(*loaded.image.tokenizer);
    if (!tok.ok())
      return tok.status();
    loaded.tokenizer = std::move(*tok);
    auto needed = contextNeed(*loaded.tokenizer);
    if (!needed.ok())
      return needed.status();
    std::vector<int64_t> ctx = loaded.image.kernels.ctxBuckets();
    if (!ctx.empty() && *needed > ctx.back())
      return Status::error(fmt::format(
          "{}: this run needs {} positions; the kernels hold {} (compile "
          "with a larger --ctx)",
          m.model, *needed, ctx.back()));
    return loaded;
  }

  auto spec = model::openModel(m.model);
  if (!spec.ok())
    return spec.status();
  loaded.spec = std::move(*spec);
  const model::ModelSpec &s = *loaded.spec;
  auto tok = loadTokenizer(s, m.tokenizer);
  if (!tok.ok())
    return tok.status();
  loaded.tokenizer = std::move(*tok);
  // What the run needs, known now that its text can be tokenized: checked
  // before anything is compiled or packed.
  auto minContext = contextNeed(*loaded.tokenizer);
  if (!minContext.ok())
    return minContext.status();
  if (*minContext > s.config.maxSeqLen && build.ctx < *minContext)
    return Status::error(fmt::format(
        "this run needs {} positions, more than the {} of {}; shorten the "
        "prompt, lower -n, or pass --ctx {} to go past the model's context",
        *minContext, s.config.maxSeqLen, s.source, *minContext));
  auto list = readAdapterList(build, s.config);
  if (!list.ok())
    return list.status();
  loaded.adapterList = std::move(*list);
  std::optional<model::LoraAdapter> adapter =
      combinedAdapter(loaded.adapterList);
  // Merged, the packer reads the sum; else the kernels take the adapter.
  std::optional<model::ModelSpec> merged;
  if (adapter && build.loraMerge) {
    merged = model::mergeAdapter(s, *adapter);
    note(build, "adapter merged into the weights before packing\n");
  }
  Result<abi::KernelSet> kernels = Status::error("no kernels");
  if (!build.kernelDir.empty()) {
    kernels = kernelsFromDir(build.kernelDir, s, build);
  } else {
    // The options follow the source's own storage, merged or not.
    auto options = kernelSetOptions(s, build, *minContext);
    if (!options.ok())
      return options.status();
    if (adapter && !merged) {
      options->loraRank = std::max(options->loraRank, adapter->rank);
      for (const std::string &r : adaptedRoles(*adapter))
        if (std::find(options->loraTargets.begin(), options->loraTargets.end(),
                      r) == options->loraTargets.end())
          options->loraTargets.push_back(r);
    }
    kernels = compileAndReport(s, *options, loaded.compileSeconds, build.quiet);
  }
  if (!kernels.ok())
    return kernels.status();
  if (adapter && !merged) {
    auto lora = runtime::toKernelLora(*adapter, 1.0, *kernels);
    if (!lora.ok())
      return lora.status();
    loaded.lora = std::make_shared<runtime::KernelLora>(std::move(*lora));
  }
  loaded.adapter = std::move(adapter);

  auto start = std::chrono::steady_clock::now();
  // A merged adapter is not in the files the cache names.
  std::optional<std::string> cached =
      merged ? std::nullopt : packCacheFile(m.model, *kernels, build);
  if (cached)
    if (auto image = reusePack(*cached, m.model, *kernels, build)) {
      loaded.packSeconds = secondsSince(start);
      loaded.image = std::move(*image);
      return loaded;
    }
  Progress progress("packing", !build.quiet);
  auto image = runtime::packImage(
      merged ? *merged : s, std::move(*kernels),
      [&](int64_t done, int64_t total) { progress.update(done, total); },
      build.threadCount());
  if (!image.ok())
    return image.status();
  loaded.packSeconds = secondsSince(start);
  uint64_t bytes = image->embedding.size + image->globalSegment.size;
  for (const runtime::Bytes &l : image->layerSegments)
    bytes += l.size;
  note(build, "packed {} of weights in {:.2f} s\n", humanBytes(bytes),
       loaded.packSeconds);
  loaded.image = std::move(*image);
  if (cached)
    loaded.packWrite = keepPack(*cached, loaded.image, build);
  return loaded;
}

Progress::Progress(std::string label, bool shown)
    : label(std::move(label)), terminal(isatty(STDERR_FILENO)), shown(shown) {}

void Progress::update(int64_t done, int64_t total) {
  if (!shown || (!terminal && done != total))
    return;
  const int width = 30;
  int filled = total ? int(width * done / total) : width;
  fmt::print(stderr, "{}{} [{}{}] {}/{}{}", terminal ? "\r" : "", label,
             std::string(filled, '='), std::string(width - filled, ' '), done,
             total, done == total ? "\n" : "");
  std::fflush(stderr);
}

std::string describeKernels(const abi::KernelSet &kernels) {
  std::vector<std::string_view> names;
  for (const abi::KernelDesc &k : kernels.kernels)
    if (std::find(names.begin(), names.end(), k.name()) == names.end())
      names.push_back(k.name());
  return fmt::format("{} for seq {}, ctx {}", fmt::join(names, ", "),
                     fmt::join(kernels.seqBuckets(), "/"),
                     fmt::join(kernels.ctxBuckets(), "/"));
}

std::string humanBytes(uint64_t b) {
  const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", b)
                : fmt::format("{:.2f} {}", v, units[u]);
}

} // namespace ane::loader
