//===- CompileCommand.cpp - ane-exec compile ------------------------------===//
//
// Compiles a model and streams its packed weights into one .anepak, a
// layer at a time, so a 7B model never sits in memory whole.
//
//===----------------------------------------------------------------------===//

#include "tools/ane-exec/Commands.h"
#include "tools/ane-exec/ModelLoader.h"

#include "lib/Runtime/Anepak.h"
#include "lib/Support/ProcessMemory.h"

#include <fmt/format.h>

#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <vector>

namespace ane::exec {
namespace {

struct CompileCommandOptions {
  ModelOptions model;
  BuildOptions build;
  std::string output;
};

/// The output must not be one of the files the command reads: renaming
/// the .anepak into place would replace the model (or tokenizer) with it.
Status checkNotAnInput(const std::string &output,
                       const std::vector<std::string> &inputs) {
  struct stat out;
  if (::stat(output.c_str(), &out) != 0)
    return Status::success(); // nothing there yet
  for (const std::string &in : inputs) {
    struct stat st;
    if (!in.empty() && ::stat(in.c_str(), &st) == 0 &&
        st.st_dev == out.st_dev && st.st_ino == out.st_ino)
      return Status::error(fmt::format(
          "{}: the output is the input {}; write the .anepak elsewhere", output,
          in));
  }
  return Status::success();
}

int compile(const CompileCommandOptions &o) {
  if (Status s = checkNotAnInput(o.output, {o.model.model, o.model.tokenizer});
      !s.ok())
    return fail(s.message());
  auto spec = model::openModel(o.model.model);
  if (!spec.ok())
    return fail(spec.message());
  bool adapters = !o.build.loraFiles.empty() || !o.build.loraScaled.empty();
  if (adapters && !o.build.loraMerge)
    return fail("a .anepak holds weights: --lora needs --lora-merge here (or "
                "--lora-rank, and --lora at run time)");
  if (!o.model.tokenizer.empty()) {
    auto data = readTokenizerFile(o.model.tokenizer, spec->config.vocabSize);
    if (!data.ok())
      return fail(data.message());
    spec->tokenizer = std::move(*data);
  }
  if (!spec->tokenizer)
    fmt::print(stderr,
               "warning: {} carries no tokenizer; pass -z to embed "
               "one, or give -z to run\n",
               spec->source);
  // Without --ctx the kernels cover the model's own context.
  int64_t ctx = o.build.ctx ? o.build.ctx
                            : std::min<int64_t>(spec->config.maxSeqLen, 4096);
  auto options = kernelSetOptions(*spec, o.build, ctx);
  if (!options.ok())
    return fail(options.message());
  double compileSeconds = 0;
  auto kernels = compileAndReport(*spec, *options, compileSeconds);
  if (!kernels.ok())
    return fail(kernels.message());
  if (adapters) {
    auto adapter = readAdapters(o.build, spec->config);
    if (!adapter.ok())
      return fail(adapter.message());
    *spec = model::mergeAdapter(*spec, **adapter);
  }
  auto start = std::chrono::steady_clock::now();
  Progress progress("packing");
  Status written = runtime::writeAnepak(
      o.output, *spec, *kernels,
      [&](int64_t done, int64_t total) { progress.update(done, total); },
      o.build.threadCount());
  if (!written.ok())
    return fail(written.message());
  double packSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::ifstream file(o.output, std::ios::binary | std::ios::ate);
  uint64_t bytes = uint64_t(file.tellg());
  fmt::print(stderr, "wrote {} ({}) in {:.2f} s ({:.1f} MiB/s); peak RSS {}\n",
             o.output, humanBytes(bytes), packSeconds,
             packSeconds > 0 ? bytes / packSeconds / (1 << 20) : 0.0,
             humanBytes(peakResidentBytes()));
  return 0;
}

} // namespace

void addCompileCommand(CLI::App &app) {
  auto o = std::make_shared<CompileCommandOptions>();
  CLI::App *cmd = app.add_subcommand(
      "compile", "compile a model and pack its weights into one .anepak");
  addModelOptions(*cmd, o->model);
  cmd->add_option("-o,--output", o->output, "the .anepak to write")->required();
  cmd->add_option("--lora-rank", o->build.loraRank,
                  "kernels that take adapters up to this rank at run time "
                  "(--lora)")
      ->check(between(0, 1024));
  cmd->add_option("--lora-targets", o->build.loraTargets,
                  "the roles they adapt: attn_q, attn_k, attn_v, attn_out, "
                  "ffn_gate, ffn_up, ffn_down")
      ->delimiter(',');
  addBuildOptions(*cmd, o->build);
  cmd->callback([o] {
    if (int rc = compile(*o))
      throw CLI::RuntimeError(rc);
  });
}

} // namespace ane::exec
