//===- Compile.cpp - a model to a runtime kernel set ----------------------===//

#include "lib/Compile.h"
#include "lib/WeightSlots.h"

#include "lib/Dialect/AneMil/Export/MILTranslation.h"
#include "lib/Dialect/AneMil/IR/AneMilOps.h"
#include "lib/Dialect/Llama/IR/LlamaOps.h"
#include "lib/Dialect/Llama/Import/ModelImport.h"
#include "lib/MIL/Text.h"
#include "lib/Pipelines.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

using namespace mlir;
namespace rt = ::ane::runtime;

rt::SlotSpec mlir::ane::slotSpecFromAttr(DictionaryAttr d) {
  rt::SlotSpec s;
  s.role = d.getAs<StringAttr>("role").str();
  s.segment = d.getAs<StringAttr>("segment").str();
  s.scheme = d.getAs<StringAttr>("scheme").str();
  s.group = d.getAs<IntegerAttr>("group").getInt();
  auto shape = d.getAs<DenseI64ArrayAttr>("shape").asArrayRef();
  s.shape.assign(shape.begin(), shape.end());
  auto offsets = d.getAs<DenseI64ArrayAttr>("offsets").asArrayRef();
  for (auto [off, t] : llvm::zip(offsets, d.getAs<ArrayAttr>("blobs"))) {
    auto type = cast<RankedTensorType>(cast<TypeAttr>(t).getValue());
    rt::BlobSpec b;
    b.dtype = *::ane::mil::parseDType(
        anemil::stringifyDType(*anemil::getDTypeFor(type.getElementType())));
    b.shape.assign(type.getShape().begin(), type.getShape().end());
    b.offset = off;
    s.blobs.push_back(b);
  }
  if (auto rows = d.getAs<IntegerAttr>("rope_rows")) {
    s.ropeRows = rows.getInt();
    s.headDim = d.getAs<IntegerAttr>("head_dim").getInt();
  }
  if (auto from = d.getAs<ArrayAttr>("fused_from"))
    for (Attribute r : from)
      s.fusedFrom.push_back(cast<StringAttr>(r).str());
  if (auto fold = d.getAs<StringAttr>("fold_norm"))
    s.foldNorm = fold.str();
  return s;
}

std::vector<rt::SlotSpec> mlir::ane::slotSpecsOf(ModuleOp module,
                                                 StringRef segment) {
  std::vector<rt::SlotSpec> list;
  if (auto slots = module->getAttrOfType<ArrayAttr>("anemil.weight_slots"))
    for (Attribute a : slots) {
      auto d = cast<DictionaryAttr>(a);
      if (d.getAs<StringAttr>("segment").getValue() == segment)
        list.push_back(slotSpecFromAttr(d));
    }
  return list;
}

namespace {

std::vector<rt::TensorDesc> outputsOf(const ::ane::mil::Function &fn) {
  std::vector<rt::TensorDesc> outs;
  for (const std::string &o : fn.outputs)
    for (const ::ane::mil::Statement &s : fn.body)
      for (const auto &out : s.outputs)
        if (out.name == o)
          outs.push_back({o, out.type.dtype, out.type.dims});
  return outs;
}

/// Adds every kernel of a compiled module; programs with the same text
/// are stored once.
LogicalResult addKernels(ModuleOp module, int64_t seq, int64_t ctx,
                         bool firstCtx, rt::KernelSet &set,
                         std::map<std::string, int64_t> &programIndex) {
  for (auto fn : module.getOps<func::FuncOp>()) {
    auto kernel = fn->getAttrOfType<StringAttr>("anemil.kernel");
    if (!kernel)
      continue;
    bool hasCtx = kernel.getValue() == "attn_core";
    if (!hasCtx && !firstCtx)
      continue; // the same program as in the first ctx bucket
    OwningOpRef<ModuleOp> single = ModuleOp::create(fn.getLoc());
    auto clone = cast<func::FuncOp>(fn->clone());
    clone.setSymName("main");
    single->push_back(clone);
    auto program = anemil::exportMIL(*single, anemil::MILExportOptions());
    if (failed(program))
      return failure();
    std::string text = ::ane::mil::printProgram(*program);
    auto [it, inserted] =
        programIndex.emplace(text, int64_t(set.programs.size()));
    if (inserted)
      set.programs.push_back(text);
    rt::KernelDesc d;
    d.name = kernel.str();
    d.seq = seq;
    d.ctx = hasCtx ? ctx : 0;
    d.program = it->second;
    const ::ane::mil::Function &mf = program->functions[0];
    for (const ::ane::mil::Param &p : mf.params)
      d.inputs.push_back({p.name, p.type.dtype, p.type.dims});
    d.outputs = outputsOf(mf);
    if (auto weights = fn->getAttrOfType<ArrayAttr>("anemil.weights"))
      for (Attribute a : weights)
        d.weights.push_back(
            cast<DictionaryAttr>(a).getAs<StringAttr>("role").str());
    set.kernels.push_back(std::move(d));
  }
  return success();
}

} // namespace

namespace ane {

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
    o.scheme = "q4";
    break;
  case model::TensorType::Q8_0:
    o.group = 32;
    o.fuse = false;
    [[fallthrough]];
  case model::TensorType::Q6_K:
    o.scheme = "q8";
    break;
  default:
    o.scheme = "f16";
    break;
  }
  return o;
}

Result<rt::KernelSet> compileKernelSet(const model::ModelSpec &spec,
                                       const KernelSetOptions &options) {
  if (std::find(options.seqBuckets.begin(), options.seqBuckets.end(), 1) ==
          options.seqBuckets.end() ||
      options.ctxBuckets.empty())
    return ::ane::Status::error(
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
    return ::ane::Status::error(
        diagnostics.empty() ? what : what + ": " + diagnostics);
  };
  OwningOpRef<ModuleOp> imported = llama::importModel(spec, &context);
  if (!imported)
    return fail("cannot import " + spec.source);

  rt::KernelSet set;
  set.config = spec.config;
  set.dtype = options.dtype == "fp32" ? ::ane::mil::DType::FP32
                                      : ::ane::mil::DType::FP16;
  set.scheme = options.scheme;
  set.weightBinding = options.weightBinding;
  std::map<std::string, int64_t> programIndex;
  ArrayAttr slots;
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
      mlir::ane::buildCompilePipeline(pm, o);
      if (failed(pm.run(*module)))
        return fail(
            fmt::format("ane-compile failed for seq {}, ctx {}", seq, ctx));
      auto moduleSlots =
          (*module)->getAttrOfType<ArrayAttr>("anemil.weight_slots");
      if (!moduleSlots)
        return fail("the compiled module lists no weight slots");
      // Every bucket must read the same segment layout.
      if (slots && moduleSlots != slots)
        return fail(fmt::format("seq {}, ctx {} lays out the weights "
                                "differently from the first bucket",
                                seq, ctx));
      slots = moduleSlots;
      if (failed(addKernels(*module, seq, ctx, c == 0, set, programIndex)))
        return fail(fmt::format("cannot export the kernels of seq {}, ctx {}",
                                seq, ctx));
      if (set.slots.empty()) {
        std::vector<rt::SlotSpec> layer =
            mlir::ane::slotSpecsOf(*module, "layer");
        std::vector<rt::SlotSpec> global =
            mlir::ane::slotSpecsOf(*module, "global");
        set.layerSegmentBytes = rt::segmentEnd(layer);
        set.globalSegmentBytes = rt::segmentEnd(global);
        set.slots = layer;
        set.slots.insert(set.slots.end(), global.begin(), global.end());
      }
    }
  if (::ane::Status s = set.validate(); !s.ok())
    return ::ane::Status::error("the compiled kernel set: " + s.message());
  return set;
}

} // namespace ane
