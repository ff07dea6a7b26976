//===- AneBackend.cpp - kernel programs on an AneDevice -------------------===//

#include "lib/Runtime/Ane/AneBackend.h"

#include "lib/MIL/Text.h"
#include "lib/MIL/WeightFile.h"
#include "lib/Runtime/Ane/CompileCache.h"
#include "lib/Runtime/Ane/Probe.h"
#include "lib/Runtime/Ane/SimulatedAneDevice.h"
#include "lib/Support/MappedFile.h"
#include "lib/Support/TextInput.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <tuple>

#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace ane::runtime {
namespace {

bool namesWeightFile(const mil::Function &fn) {
  bool found = false;
  mil::forEachBlobFile(
      fn, [&](const mil::Value &, const mil::Statement &) { found = true; });
  return found;
}

/// What a device compiles: a program's text and the weight file baked in.
struct BakedSource {
  std::string milText;
  std::vector<uint8_t> weights;
};

/// `program` with `segment` baked in: only the blobs it reads, so that a
/// 7B q4 attn_qkv keeps its own 26 MB rather than the layer's 104 MB (and
/// so does its compile-cache entry).
Result<BakedSource> bakedSource(const mil::Program &program, Bytes segment,
                                const std::string &name) {
  auto reader =
      mil::WeightReader::fromBuffer(segment.data, segment.size, name, nullptr);
  if (!reader.ok())
    return reader.status();
  mil::Program copy = program;
  auto weights = mil::compactWeightFile(copy, *reader);
  if (!weights.ok())
    return Status::error(name + ": " + weights.message());
  return BakedSource{mil::printProgram(copy), std::move(*weights)};
}

class AneProgram;

/// Compiles, imports and loads programs for AneProgram (AneBackend below).
class ProgramSource {
public:
  virtual ~ProgramSource() = default;
  virtual AneDevice &device() = 0;
  /// A loaded program of `program` with `segment` baked in (none: no
  /// weight file), from the cache or compiled.
  virtual Result<AneProgramId> obtain(const AneProgram &program, Bytes segment,
                                      const std::string &name) = 0;
  /// Whether weight-file programs take a new layer by reload.
  virtual bool blobReload() const = 0;
  /// A loaded program compiled with `weights`, which the caller keeps and
  /// rewrites before each reload; refused unless gate G1 holds.
  virtual Result<AneProgramId> compileForReload(const std::string &milText,
                                                Bytes weights) = 0;
  virtual void countReload() = 0;
};

class AneProgram final : public BackendProgram {
public:
  AneProgram(ProgramSource &source, std::string milText, mil::Program parsed,
             const mil::Function &fn)
      : source(source), device(source.device()), milText(std::move(milText)),
        parsed(std::move(parsed)), fn(fn),
        weightFile(namesWeightFile(this->fn)) {}

  /// What the device compiles when `segment` is bound.
  Result<BakedSource> bakedWith(Bytes segment, const std::string &name) const {
    if (!weightFile)
      return BakedSource{milText, {}};
    return bakedSource(parsed, segment, name);
  }
  bool usesWeightFile() const { return weightFile; }
  bool holds(Bytes segment) const {
    auto it = baked.find(segment.data);
    return it != baked.end() && it->second.second == segment.size;
  }

  /// Compiles and loads now when the program needs no weight file.
  Status prepare() {
    for (const std::string &out : fn.outputs)
      for (const mil::Statement &s : fn.body)
        for (const mil::Statement::Output &o : s.outputs)
          if (o.name == out) {
            auto shape = aneSurfaceShape(o.type, "output '" + out + "'");
            if (!shape.ok())
              return shape.status();
            outputs.push_back(std::make_unique<AneSurface>(*shape));
          }
    for (const mil::Param &p : fn.params) {
      auto shape = aneSurfaceShape(p.type, "input '" + p.name + "'");
      if (!shape.ok())
        return shape.status();
      inputShapes.push_back(*shape);
      activations.push_back(std::make_unique<AneSurface>(*shape));
    }
    if (weightFile)
      return Status::success(); // compiled per layer, in bindWeights
    auto id = source.obtain(*this, {}, "the program");
    if (!id.ok())
      return id.status();
    current = *id;
    return Status::success();
  }

  const std::vector<mil::Param> &params() const override { return fn.params; }

  /// Baked: the first time a segment is bound, a program is compiled with
  /// it; later binds of the same segment select that program again.
  Status bindWeights(Bytes segment, const std::string &name) override {
    if (holds(segment)) {
      current = baked[segment.data].first;
      return Status::success();
    }
    if (source.blobReload())
      return reloadWith(segment, name);
    auto id = source.obtain(*this, segment, name);
    if (!id.ok())
      return Status::error(name + ": " + id.message());
    baked[segment.data] = {*id, segment.size};
    current = *id;
    return Status::success();
  }

  void setConstantInputs(size_t first) override { constantFrom = first; }

  Result<std::vector<Tensor>>
  run(const std::vector<TensorRef> &inputs) override {
    if (current < 0)
      return Status::error("no weights are bound to this program");
    if (inputs.size() != fn.params.size())
      return Status::error(fmt::format("the program takes {} inputs, given {}",
                                       fn.params.size(), inputs.size()));
    std::vector<const AneSurface *> in;
    for (size_t i = 0; i < inputs.size(); ++i) {
      auto surface = surfaceFor(i, inputs[i]);
      if (!surface.ok())
        return surface.status();
      in.push_back(*surface);
    }
    std::vector<AneSurface *> out;
    for (auto &s : outputs)
      out.push_back(s.get());
    if (Status s = device.evaluate(current, in, out); !s.ok())
      return s;
    std::vector<Tensor> results;
    for (auto &s : outputs)
      results.push_back(s->read());
    return results;
  }

private:
  /// One program for every layer: compiled with a buffer of its own, into
  /// which a later layer's blobs are copied before unload + load.
  Status reloadWith(Bytes segment, const std::string &name) {
    auto made = bakedWith(segment, name);
    if (!made.ok())
      return made.status();
    if (current < 0) {
      reloadText = std::move(made->milText);
      reloadBuffer = std::move(made->weights);
      auto id = source.compileForReload(
          reloadText, Bytes{reloadBuffer.data(), reloadBuffer.size()});
      if (!id.ok())
        return Status::error(name + ": " + id.message());
      current = *id;
    } else {
      if (made->milText != reloadText ||
          made->weights.size() != reloadBuffer.size())
        return Status::error(name + ": its weights are laid out unlike those "
                                    "the program was compiled with");
      std::copy(made->weights.begin(), made->weights.end(),
                reloadBuffer.begin());
      if (Status s = device.unload(current); !s.ok())
        return s;
      if (Status s = device.load(current); !s.ok())
        return s;
      source.countReload();
    }
    baked.clear(); // the buffer holds this segment now, no other
    baked[segment.data] = {current, segment.size};
    return Status::success();
  }

  /// The surface of input `i`: a constant input's is packed once per
  /// tensor and kept while the tensor lives; the others are rewritten.
  Result<const AneSurface *> surfaceFor(size_t i, const TensorRef &t) {
    if (i >= constantFrom) {
      auto it = constants.find(t.get());
      if (it != constants.end() && it->second.source.lock() == t)
        return it->second.surface.get();
      // A tensor converted per use leaves its surface behind when it goes.
      for (auto c = constants.begin(); c != constants.end();)
        c = c->second.source.expired() ? constants.erase(c) : std::next(c);
      auto surface = std::make_unique<AneSurface>(inputShapes[i]);
      if (Status s = surface->write(*t); !s.ok())
        return s;
      const AneSurface *raw = surface.get();
      constants[t.get()] = {t, std::move(surface)};
      return raw;
    }
    if (Status s = activations[i]->write(*t); !s.ok())
      return Status::error("input '" + fn.params[i].name + "': " + s.message());
    return activations[i].get();
  }

  struct Constant {
    std::weak_ptr<const Tensor> source;
    std::unique_ptr<AneSurface> surface;
  };

  ProgramSource &source;
  AneDevice &device;
  std::string milText;
  mil::Program parsed;
  mil::Function fn;
  bool weightFile;
  AneProgramId current = -1;
  std::map<const uint8_t *, std::pair<AneProgramId, uint64_t>> baked;
  std::string reloadText;            // aneBlobReload: what was compiled
  std::vector<uint8_t> reloadBuffer; // and the buffer it reads at load
  size_t constantFrom = SIZE_MAX;
  std::map<const Tensor *, Constant> constants;
  std::vector<mil::Shape> inputShapes;
  /// One surface per input, rewritten by every call (constant inputs use
  /// those in `constants` instead).
  std::vector<std::unique_ptr<AneSurface>> activations;
  std::vector<std::unique_ptr<AneSurface>> outputs;
};

/// Writes `bytes` to `path` whole, or says why not.
Status writeWhole(const std::string &path, const void *bytes, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char *>(bytes), std::streamsize(size));
  out.close();
  if (!out)
    return Status::error("cannot write " + path);
  return Status::success();
}

std::string requestPath(const std::string &cacheDir, const std::string &key,
                        const char *suffix) {
  return cacheDir + "/requests/" + key + suffix;
}

class AneBackend final : public Backend, public ProgramSource {
  /// A program still to be bound to a segment, and what errors call it.
  struct Work {
    AneProgram *program;
    Bytes segment;
    std::string name;
  };

public:
  AneBackend(std::unique_ptr<AneDevice> device, const BackendOptions &options)
      : device_(std::move(device)), options(options) {
    if (!options.compileCacheDir.empty())
      cache.emplace(options.compileCacheDir);
  }

  std::string_view name() const override { return device_->name(); }
  AneDevice &device() override { return *device_; }
  const AneDevice &device() const { return *device_; }
  const AneBackendStats &stats() const { return stats_; }

  Result<std::unique_ptr<BackendProgram>>
  compile(const std::string &milText) override {
    auto parsed = mil::parseProgram(milText);
    if (!parsed.ok())
      return parsed.status();
    const mil::Function *fn = parsed->function("main");
    if (!fn)
      return Status::error("the program has no function 'main'");
    auto program = std::make_unique<AneProgram>(*this, milText, *parsed, *fn);
    if (Status s = program->prepare(); !s.ok())
      return s;
    return std::unique_ptr<BackendProgram>(std::move(program));
  }

  Result<AneProgramId> obtain(const AneProgram &program, Bytes segment,
                              const std::string &name) override {
    std::string key;
    if (cache) {
      auto found = keyOf(program, segment, name);
      if (!found.ok())
        return found.status();
      key = *found;
      if (auto entry = cache->find(key)) {
        Result<AneProgramId> id =
            entry->ok()
                ? device_->importCompiled((*entry)->data(), (*entry)->size(),
                                          cache->pathOf(key))
                : Result<AneProgramId>(entry->status());
        if (id.ok()) {
          stats_.fromCache += 1;
          return loaded(*id);
        }
        // A damaged entry is compiled again and replaced.
        fmt::print(stderr, "warning: {}; compiling it again\n", id.message());
      }
    }
    if (compilesHere >= options.compileBudget)
      return Status::error(fmt::format(
          "this process has spent its compile budget ({} compiles); with a "
          "compile cache, programs beyond it compile in worker processes",
          options.compileBudget));
    auto baked = program.bakedWith(segment, name);
    if (!baked.ok())
      return baked.status();
    std::vector<AneWeightFile> weights;
    if (!baked->weights.empty())
      weights.push_back({mil::kModelWeightPath,
                         Bytes{baked->weights.data(), baked->weights.size()}});
    auto id = device_->compile(baked->milText, weights);
    if (!id.ok())
      return id.status();
    compilesHere += 1;
    stats_.compiledHere += 1;
    if (cache) {
      auto bytes = device_->exportCompiled(*id);
      if (bytes.ok())
        if (Status s = cache->store(key, *bytes); !s.ok())
          fmt::print(stderr, "warning: {}\n", s.message());
    }
    return loaded(*id);
  }

  bool blobReload() const override { return options.aneBlobReload; }
  void countReload() override { stats_.reloads += 1; }

  Result<AneProgramId> compileForReload(const std::string &milText,
                                        Bytes weights) override {
    if (Status s = reloadGate(); !s.ok())
      return s;
    if (compilesHere >= options.compileBudget)
      return Status::error(
          fmt::format("this process has spent its compile budget ({} compiles)",
                      options.compileBudget));
    auto id = device_->compile(milText, {{mil::kModelWeightPath, weights}});
    if (!id.ok())
      return id.status();
    compilesHere += 1;
    stats_.compiledHere += 1;
    return loaded(*id);
  }

  Status prepareBindings(const std::vector<PlannedBinding> &plan) override {
    if (options.aneBlobReload)
      return reloadGate(); // one program a kernel; nothing to plan
    std::vector<Work> work;
    for (const PlannedBinding &b : plan)
      if (auto *p = dynamic_cast<AneProgram *>(b.program);
          p && p->usesWeightFile())
        for (size_t i = 0; i < b.segments.size(); ++i)
          if (!p->holds(b.segments[i]))
            work.push_back({p, b.segments[i],
                            i < b.names.size() ? b.names[i] : "a segment"});
    if (Status s = compileInWorkers(work); !s.ok())
      return s;
    for (const Work &w : work)
      if (Status s = w.program->bindWeights(w.segment, w.name); !s.ok())
        return s;
    return Status::success();
  }

private:
  /// The cache key of a program with a segment baked in: the hash of what
  /// the device compiles, worked out once (planning and binding both need
  /// it).
  Result<std::string> keyOf(const AneProgram &program, Bytes segment,
                            const std::string &name) {
    auto id = std::make_tuple(&program, segment.data, segment.size);
    auto it = keys.find(id);
    if (it != keys.end())
      return it->second;
    auto baked = program.bakedWith(segment, name);
    if (!baked.ok())
      return baked.status();
    std::string key =
        compileKey(device_->target(), baked->milText,
                   Bytes{baked->weights.data(), baked->weights.size()});
    keys.emplace(id, key);
    return key;
  }

  /// Asks the device once whether a reload takes a rewritten weight
  /// buffer (gate G1); without it a reload would run stale weights.
  Status reloadGate() {
    if (!reloadChecked) {
      reloadChecked = true;
      auto works = reloadTakesEffect(*device_);
      compilesHere += 1; // the probe's program
      reloadRefusal =
          !works.ok() ? Status::error("--ane-blob-reload: " + works.message())
          : *works
              ? Status::success()
              : Status::error(
                    std::string(device_->name()) +
                    " does not take a rewritten weight buffer at reload "
                    "(ane-exec probe, gate G1: the output did not change), "
                    "so --ane-blob-reload would run stale weights; without "
                    "it the kernels run baked");
    }
    return reloadRefusal;
  }

  Result<AneProgramId> loaded(AneProgramId id) {
    if (Status s = device_->load(id); !s.ok())
      return s;
    return id;
  }

  /// Compiles, in worker processes, the programs of `work` that are not in
  /// the cache when there are more than this process may compile.
  Status compileInWorkers(const std::vector<Work> &work) {
    if (!cache)
      return work.size() <= size_t(options.compileBudget - compilesHere)
                 ? Status::success()
                 : Status::error(fmt::format(
                       "{} programs must compile and this process may "
                       "compile {}: give a compile cache (--ane-cache DIR) "
                       "so worker processes compile the rest",
                       work.size(), options.compileBudget - compilesHere));
    std::vector<std::string> keys;
    std::vector<const Work *> requests;
    std::set<std::string> seen;
    for (const Work &w : work) {
      auto key = keyOf(*w.program, w.segment, w.name);
      if (!key.ok())
        return key.status();
      if (seen.count(*key) || ::access(cache->pathOf(*key).c_str(), F_OK) == 0)
        continue;
      seen.insert(*key);
      keys.push_back(*key);
      requests.push_back(&w);
    }
    if (keys.size() <= size_t(options.compileBudget - compilesHere))
      return Status::success(); // they fit here after all
    if (options.workerCommand.empty() || !device_->canExportCompiled())
      return Status::error(fmt::format(
          "{} programs must compile and this process may compile {}; {}",
          keys.size(), options.compileBudget - compilesHere,
          device_->canExportCompiled()
              ? "no worker command was given"
              : std::string(device_->name()) +
                    " cannot keep compiled programs, so no other process "
                    "can compile them"));
    for (size_t i = 0; i < keys.size(); ++i)
      if (Status s = writeRequest(keys[i], *requests[i]); !s.ok())
        return s;
    for (size_t at = 0; at < keys.size(); at += size_t(options.compileBudget)) {
      std::vector<std::string> chunk(
          keys.begin() + at,
          keys.begin() +
              std::min(keys.size(), at + size_t(options.compileBudget)));
      if (Status s = runWorker(chunk); !s.ok())
        return s;
      stats_.workerProcesses += 1;
      stats_.compiledByWorkers += int64_t(chunk.size());
    }
    return Status::success();
  }

  Status writeRequest(const std::string &key, const Work &w) {
    if (Status s = makeDirs(cache->dir() + "/requests"); !s.ok())
      return s;
    auto baked = w.program->bakedWith(w.segment, w.name);
    if (!baked.ok())
      return baked.status();
    if (Status s = writeWhole(requestPath(cache->dir(), key, ".mil"),
                              baked->milText.data(), baked->milText.size());
        !s.ok())
      return s;
    return writeWhole(requestPath(cache->dir(), key, ".weights"),
                      baked->weights.data(), baked->weights.size());
  }

  Status runWorker(const std::vector<std::string> &keys) {
    std::vector<std::string> args = options.workerCommand;
    args.push_back(device_->target());
    args.push_back(std::to_string(options.compileBudget));
    args.push_back(cache->dir());
    args.insert(args.end(), keys.begin(), keys.end());
    std::vector<char *> argv;
    for (std::string &a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid;
    int err =
        ::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ);
    if (err != 0)
      return Status::error(fmt::format("cannot start the compile worker {}: {}",
                                       args[0], std::strerror(err)));
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      return Status::error(fmt::format(
          "a compile worker failed ({} programs; its error is above)",
          keys.size()));
    return Status::success();
  }

  std::unique_ptr<AneDevice> device_;
  BackendOptions options;
  std::optional<AneCompileCache> cache;
  int64_t compilesHere = 0;
  AneBackendStats stats_;
  bool reloadChecked = false;
  Status reloadRefusal = Status::success();
  std::map<std::tuple<const AneProgram *, const uint8_t *, uint64_t>,
           std::string>
      keys;
};

} // namespace

std::unique_ptr<Backend> createAneBackend(std::unique_ptr<AneDevice> device,
                                          const BackendOptions &options) {
  return std::make_unique<AneBackend>(std::move(device), options);
}

const AneDevice *aneDeviceOf(const Backend &backend) {
  auto *ane = dynamic_cast<const AneBackend *>(&backend);
  return ane ? &ane->device() : nullptr;
}

AneDevice *aneDeviceOf(Backend &backend) {
  auto *ane = dynamic_cast<AneBackend *>(&backend);
  return ane ? &ane->device() : nullptr;
}

const AneBackendStats *aneBackendStatsOf(const Backend &backend) {
  auto *ane = dynamic_cast<const AneBackend *>(&backend);
  return ane ? &ane->stats() : nullptr;
}

namespace {

/// Compiles one request of the cache into it.
Status compileRequest(AneDevice &device, AneCompileCache &cache,
                      const std::string &key) {
  std::string milPath = requestPath(cache.dir(), key, ".mil");
  std::string weightsPath = requestPath(cache.dir(), key, ".weights");
  auto text = readTextInput(milPath);
  if (!text.ok())
    return text.status();
  auto weights = MappedFile::open(weightsPath);
  if (!weights.ok())
    return weights.status();
  Bytes segment{(*weights)->data(), (*weights)->size()};
  if (compileKey(device.target(), *text, segment) != key)
    return Status::error(milPath + ": the request does not match its key");
  std::vector<AneWeightFile> files;
  if (segment.size)
    files.push_back({mil::kModelWeightPath, segment});
  auto id = device.compile(*text, files);
  if (!id.ok())
    return id.status();
  auto bytes = device.exportCompiled(*id);
  if (!bytes.ok())
    return bytes.status();
  if (Status s = cache.store(key, *bytes); !s.ok())
    return s;
  ::unlink(milPath.c_str());
  ::unlink(weightsPath.c_str());
  return Status::success();
}

} // namespace

int aneCompileWorkerMain(const std::vector<std::string> &args) {
  auto fail = [](const std::string &message) {
    fmt::print(stderr, "error: compile worker: {}\n", message);
    return 1;
  };
  if (args.size() < 3)
    return fail("usage: ane-sim/CHIP BUDGET CACHE_DIR KEY...");
  SimulatedAneOptions options;
  if (args[0].rfind("ane-sim/", 0) != 0)
    return fail("unknown device '" + args[0] + "'");
  auto chip = findChip(args[0].substr(8));
  if (!chip.ok())
    return fail(chip.message());
  options.chip = *chip;
  char *end = nullptr;
  long long budget = std::strtoll(args[1].c_str(), &end, 10);
  if (!end || *end || budget <= 0)
    return fail("budget '" + args[1] + "' is not a positive number");
  options.compileBudget = budget;
  std::unique_ptr<AneDevice> device = createSimulatedAneDevice(options);
  AneCompileCache cache(args[2]);
  for (size_t i = 3; i < args.size(); ++i)
    if (Status s = compileRequest(*device, cache, args[i]); !s.ok())
      return fail(s.message());
  return 0;
}

} // namespace ane::runtime
