//===- ServeCommand.cpp - ane-exec serve ----------------------------------===//
//
// An OpenAI-compatible server (lib/Serve) on the model of -m: it listens at
// once (/health answers 503 while the model compiles and packs), then
// serves --parallel slots with batched decode until SIGTERM or SIGINT,
// which drain the requests in flight (bounded by --drain-timeout) and exit
// 0.
//
//===----------------------------------------------------------------------===//

#include "tools/ane-exec/Commands.h"
#include "tools/ane-exec/ModelLoader.h"

#include "lib/Runtime/Anepak.h"
#include "lib/Serve/Server.h"
#include "lib/Support/FileKinds.h"
#include "lib/Support/ProcessMemory.h"

#include <fmt/format.h>

#include <csignal>
#include <filesystem>
#include <map>
#include <mutex>
#include <pthread.h>
#include <unistd.h>

namespace ane::exec {
namespace {

struct ServeOptions {
  ModelOptions model;
  BuildOptions build;
  serve::ServerOptions server;
  int parallel = 1;
  int queue = 64;
  int64_t memoryLimit = -1; // -1: a share of physical memory
  double stepTimeout = 0;
  double drainTimeout = 30;
  double debugStepDelay = 0;
  std::string chatTemplate;
  std::string alias;
  bool printOpenclaw = false;
};

uint64_t physicalMemory() {
  long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  return pages > 0 && size > 0 ? uint64_t(pages) * uint64_t(size) : 0;
}

/// What the process holds besides the K/V caches: its resident set now,
/// plus the mapped weights not yet read in (a .anepak pages them in as the
/// layers first run).
uint64_t baseBytes(const runtime::ModelImage &image) {
  uint64_t rss = residentBytes();
  uint64_t weights = image.globalSegment.size + image.embedding.size;
  for (const auto &s : image.layerSegments)
    weights += s.size;
  return image.mapped ? rss + weights : rss;
}

std::string defaultModelId(const std::string &path) {
  std::string stem = std::filesystem::path(path).stem().string();
  return stem.empty() ? path : stem;
}

/// The kernel inputs of the --lora adapters at the scales a request asks
/// for, made once per set of scales (requests call from their threads).
struct AdapterCache {
  std::vector<std::pair<model::LoraAdapter, double>> list;
  const abi::KernelSet *kernels = nullptr;
  std::mutex mu;
  std::map<std::vector<double>, std::shared_ptr<const runtime::KernelLora>>
      made;

  Result<std::shared_ptr<const runtime::KernelLora>>
  get(const std::vector<double> &scales) {
    std::lock_guard lk(mu);
    auto it = made.find(scales);
    if (it != made.end())
      return it->second;
    std::vector<std::pair<model::LoraAdapter, double>> scaled = list;
    for (size_t i = 0; i < scaled.size() && i < scales.size(); ++i)
      scaled[i].second = scales[i];
    auto lora =
        runtime::toKernelLora(model::combineAdapters(scaled), 1.0, *kernels);
    if (!lora.ok())
      return lora.status();
    auto shared = std::make_shared<const runtime::KernelLora>(std::move(*lora));
    // A server keeps a bounded number of adapter mixes.
    if (made.size() >= 16)
      made.erase(made.begin());
    return made[scales] = shared;
  }
};

int serveModel(ServeOptions o) {
  std::optional<serve::ChatFamily> forced;
  if (!o.chatTemplate.empty() &&
      !(forced = serve::parseChatFamily(o.chatTemplate)))
    return fail(fmt::format("--chat-template {}: not llama2, llama3, chatml, "
                            "zephyr or plain",
                            o.chatTemplate));
  if (!o.build.given("--decode-batch"))
    o.build.decodeBatch = o.parallel;
  // SIGINT and SIGTERM reach sigwait below, not a thread of the server.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGINT);
  sigaddset(&stopSignals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);

  // Without --ctx: the model's own context, up to 4096 (a .anepak's
  // kernels fix theirs).
  int64_t ctx = o.build.ctx;
  if (ctx <= 0) {
    ctx = 4096;
    if (!endsWith(o.model.model, ".anepak") &&
        !runtime::hasAnepakMagic(o.model.model))
      if (auto spec = model::openModel(o.model.model); spec.ok())
        ctx = std::min<int64_t>(ctx, spec->config.maxSeqLen);
  }
  bool anepak = endsWith(o.model.model, ".anepak") ||
                runtime::hasAnepakMagic(o.model.model);
  auto needed = [&](const model::Tokenizer &) -> Result<int64_t> {
    return anepak && o.build.ctx <= 0 ? 1 : ctx;
  };
  std::optional<serve::Server> server;
  if (!o.printOpenclaw) {
    server.emplace(o.server);
    if (Status s = server->start(); !s.ok())
      return fail(s.message());
    fmt::print(stderr,
               "listening on http://{}:{} (503 on /health until the "
               "model is ready)\n",
               o.server.host, server->port());
  }
  // A taken port is reported before anything is compiled; the model's id
  // is known now.
  auto loaded = loadModel(o.model, o.build, needed);
  if (!loaded.ok())
    return fail(loaded.message());
  auto engine = createEngine(*loaded, o.build);
  if (!engine.ok())
    return fail(engine.message());
  int64_t context = anepak && o.build.ctx <= 0
                        ? engine->maxContext()
                        : std::min(engine->maxContext(), ctx);
  if (o.printOpenclaw) {
    fmt::print("{}", serve::openclawConfig(o.server, context));
    return 0;
  }
  std::string jinja;
  if (loaded->spec && loaded->spec->tokenizer)
    jinja = loaded->spec->tokenizer->chatTemplate;
  else if (loaded->image.tokenizer)
    jinja = loaded->image.tokenizer->chatTemplate;
  serve::ChatFamily family = forced ? *forced : serve::detectChatFamily(jinja);
  fmt::print(stderr, "chat template: {} ({})\n", serve::chatFamilyName(family),
             forced          ? "--chat-template"
             : jinja.empty() ? "the model has none"
             : family == serve::ChatFamily::Plain
                 ? "the model's is of no known family"
                 : "detected from the model's tokenizer.chat_template");

  serve::SchedulerOptions so;
  so.parallel = o.parallel;
  so.queueLimit = o.queue;
  so.memoryLimit =
      o.memoryLimit >= 0 ? uint64_t(o.memoryLimit) : physicalMemory() / 10 * 8;
  so.baseBytes = baseBytes(loaded->image);
  so.stepTimeout = o.stepTimeout;
  so.stepDelay = o.debugStepDelay;
  so.defaultLora = loaded->lora;
  serve::ServedModel served{nullptr, &*loaded->tokenizer, family, context};
  AdapterCache adapters;
  if (loaded->lora && !o.build.loraMerge) {
    adapters.list = loaded->adapterList;
    adapters.kernels = &loaded->image.kernels;
    served.adapters = int64_t(adapters.list.size());
    served.loraFor = [&adapters](const std::vector<double> &scales) {
      return adapters.get(scales);
    };
  }
  serve::Scheduler scheduler(*engine, *loaded->tokenizer, so);
  served.scheduler = &scheduler;
  server->setModel(served);
  fmt::print(stderr,
             "ready: model '{}', {} slots, context {}, memory limit {} "
             "(base {})\n",
             o.server.modelId, o.parallel, context,
             so.memoryLimit ? humanBytes(so.memoryLimit) : "none",
             humanBytes(so.baseBytes));

  int signal = 0;
  sigwait(&stopSignals, &signal);
  fmt::print(stderr, "{}: draining requests in flight (up to {} s)\n",
             signal == SIGTERM ? "SIGTERM" : "SIGINT", o.drainTimeout);
  scheduler.shutdown(std::chrono::milliseconds(int64_t(o.drainTimeout * 1e3)));
  server->stop();
  serve::SchedulerMetrics m = scheduler.metrics();
  fmt::print(stderr,
             "served {} requests ({} failed): {} prompt tokens, {} generated "
             "in {} decode steps; peak RSS {}\n",
             m.requestsDone, m.requestsFailed, m.promptTokens,
             m.generatedTokens, m.batchedSteps,
             humanBytes(peakResidentBytes()));
  return 0;
}

} // namespace

void addServeCommand(CLI::App &app) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App *cmd = app.add_subcommand(
      "serve", "an OpenAI-compatible HTTP server (docs/serving.md)");
  addModelOptions(*cmd, o->model, ModelFlag::DefaultModel);
  cmd->add_option("--host", o->server.host,
                  "address to listen on (default: loopback only)");
  cmd->add_option("--port", o->server.port, "port (0: any free one)")
      ->check(between(0, 65535));
  cmd->add_option("--parallel", o->parallel,
                  "slots: requests decoded together, each with its own K/V "
                  "cache")
      ->check(between(1, 64));
  cmd->add_option("--queue", o->queue,
                  "requests that may wait for a slot before 429")
      ->check(between(0, 100000));
  cmd->add_option("--api-key", o->server.apiKey,
                  "require 'Authorization: Bearer KEY' (not on /health and "
                  "/v1/models)");
  cmd->add_option("--memory-limit", o->memoryLimit,
                  "bytes the model and the admitted requests' K/V caches may "
                  "take (default: 80% of physical memory; 0: no guard)")
      ->check(atLeast(0));
  cmd->add_option("--step-timeout", o->stepTimeout,
                  "seconds a prefill or decode step may take before its "
                  "requests end with an error (0: no limit)")
      ->check(atLeast(0));
  cmd->add_option("--drain-timeout", o->drainTimeout,
                  "seconds SIGTERM waits for requests in flight")
      ->check(atLeast(0));
  cmd->add_flag("--metrics", o->server.metrics,
                "serve Prometheus metrics on /metrics");
  cmd->add_option("--chat-template", o->chatTemplate,
                  "llama2, llama3, chatml, zephyr or plain (default: detected "
                  "from the model's tokenizer.chat_template)");
  cmd->add_option("-a,--alias", o->alias,
                  "the model id clients name (default: the file's stem)");
  cmd->add_option("--max-body", o->server.maxBodyBytes,
                  "largest request body in bytes (413 beyond)")
      ->check(between(1024, 1 << 30));
  cmd->add_flag("--print-openclaw-config", o->printOpenclaw,
                "print a models.providers entry for ~/.openclaw/openclaw.json "
                "and exit");
  cmd->add_option("--debug-step-delay", o->debugStepDelay,
                  "testing: sleep this many seconds in every step")
      ->group(""); // hidden
  addBuildOptions(*cmd, o->build);
  cmd->callback([o] {
    ServeOptions copy = *o;
    copy.model = withDefaultModel(copy.model);
    copy.server.modelId =
        copy.alias.empty() ? defaultModelId(copy.model.model) : copy.alias;
    // A waiting request holds an HTTP thread: enough for every slot and
    // the whole queue, and a few for /health and /metrics besides.
    copy.server.httpThreads = std::min(1024, copy.parallel + copy.queue + 4);
    if (int rc = serveModel(copy))
      throw CLI::RuntimeError(rc);
  });
}

} // namespace ane::exec
