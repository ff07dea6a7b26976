//===- Compile.cpp - a model to a runtime kernel set ----------------------===//

#include "lib/Compile.h"

#include "lib/Dialect/AneMil/Export/MILTranslation.h"
#include "lib/Dialect/AneMil/IR/AneMilOps.h"
#include "lib/Dialect/Llama/IR/LlamaOps.h"
#include "lib/Dialect/Llama/Import/ModelImport.h"
#include "lib/Pipelines.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

using namespace mlir;

namespace ane {
namespace {

/// Adds one bucket's kernels to `set`. Kernels without a context bucket
/// are the same program in every ctx bucket, so only the first adds them;
/// programs with the same text are stored once.
void mergeBucket(abi::KernelSet bucket, bool firstCtx, abi::KernelSet &set,
                 std::map<std::string, int64_t> &programIndex) {
  for (abi::KernelDesc &k : bucket.kernels) {
    if (!abi::takesCtx(k.kernel) && !firstCtx)
      continue;
    const std::string &text = bucket.programs[k.program];
    auto [it, inserted] =
        programIndex.emplace(text, int64_t(set.programs.size()));
    if (inserted)
      set.programs.push_back(text);
    k.program = it->second;
    set.kernels.push_back(std::move(k));
  }
}

/// The same layout and facts in every bucket: the packer writes one.
bool sameContract(const abi::KernelSet &a, const abi::KernelSet &b) {
  return abi::writeManifest([&] {
           abi::KernelSet x = a;
           x.kernels.clear();
           x.programs.clear();
           return x;
         }()) == abi::writeManifest([&] {
           abi::KernelSet x = b;
           x.kernels.clear();
           x.programs.clear();
           return x;
         }());
}

} // namespace

KernelSetOptions sourceOptions(const model::ModelSpec &spec) {
  KernelSetOptions o;
  const model::TensorInfo *t = spec.find(model::Role::AttnQ, 0);
  switch (t ? t->type : model::TensorType::F32) {
  case model::TensorType::Q4_0:
    o.group = 32;
    o.fuse = false;
    [[fallthrough]];
  case model::TensorType::Q4_1:
  case model::TensorType::Q4_K:
    o.scheme = abi::Scheme::Q4;
    break;
  case model::TensorType::Q8_0:
    o.group = 32;
    o.fuse = false;
    [[fallthrough]];
  case model::TensorType::Q6_K:
    o.scheme = abi::Scheme::Q8;
    break;
  default:
    o.scheme = abi::Scheme::F16;
    break;
  }
  return o;
}

Result<abi::KernelSet> compileKernelSet(const model::ModelSpec &spec,
                                        const KernelSetOptions &options) {
  if (std::find(options.seqBuckets.begin(), options.seqBuckets.end(), 1) ==
          options.seqBuckets.end() ||
      options.ctxBuckets.empty())
    return Status::error(
        "the buckets need seq 1 (decode) and at least one ctx");
  MLIRContext context;
  context.loadDialect<anemil::AneMilDialect, llama::LlamaDialect,
                      func::FuncDialect>();
  std::string diagnostics;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &d) {
    if (d.getSeverity() == DiagnosticSeverity::Error)
      diagnostics += (diagnostics.empty() ? "" : "\n") + d.str();
    return success();
  });
  auto fail = [&](const std::string &what) {
    return Status::error(diagnostics.empty() ? what
                                             : what + ": " + diagnostics);
  };
  OwningOpRef<ModuleOp> imported = llama::importModel(spec, &context);
  if (!imported)
    return fail("cannot import " + spec.source);

  abi::KernelSet set;
  std::map<std::string, int64_t> programIndex;
  for (int64_t seq : options.seqBuckets)
    for (size_t c = 0; c < options.ctxBuckets.size(); ++c) {
      int64_t ctx = options.ctxBuckets[c];
      OwningOpRef<ModuleOp> module = imported->clone();
      PassManager pm(&context);
      mlir::ane::CompileOptions o;
      o.scheme = options.scheme;
      o.group = options.group;
      o.dtype = options.dtype;
      o.weightBinding = options.weightBinding;
      o.fuse = options.fuse;
      o.seq = seq;
      o.ctx = ctx;
      o.backward = options.backward;
      o.loraRank = options.loraRank;
      for (const std::string &role : options.loraTargets)
        o.loraTargets.push_back(role);
      if (!options.family.empty())
        o.family = options.family;
      mlir::ane::buildCompilePipeline(pm, o);
      if (failed(pm.run(*module)))
        return fail(
            fmt::format("ane-compile failed for seq {}, ctx {}", seq, ctx));
      FailureOr<abi::KernelSet> bucket = anemil::exportKernelSet(*module);
      if (failed(bucket))
        return fail(fmt::format("cannot export the kernels of seq {}, ctx {}",
                                seq, ctx));
      bool first = set.kernels.empty();
      if (!first && !sameContract(set, *bucket))
        return fail(fmt::format("seq {}, ctx {} lays out the weights "
                                "differently from the first bucket",
                                seq, ctx));
      if (first) {
        set = *bucket;
        set.kernels.clear();
        set.programs.clear();
      }
      mergeBucket(std::move(*bucket), c == 0, set, programIndex);
    }
  // The compiler does not know this; the model does.
  set.config = spec.config;
  if (options.cpuLayout && options.weightBinding == abi::WeightBinding::Blob &&
      !options.backward && options.family.empty())
    abi::useCpuLayout(set);
  if (Status s = set.validate(); !s.ok())
    return Status::error("the compiled kernel set: " + s.message());
  return set;
}

} // namespace ane
