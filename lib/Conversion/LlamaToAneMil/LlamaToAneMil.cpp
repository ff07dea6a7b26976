//===- LlamaToAneMil.cpp - convert-llama-to-anemil ------------------------===//
//
// The pass: lays out the module's weight slots (SlotTable), then lowers
// each outlined kernel (KernelLowering): backward kernels first, as they
// read the llama kernels the forward lowering replaces.
//
//===----------------------------------------------------------------------===//

#include "lib/Conversion/Passes.h"

#include "lib/Conversion/LlamaToAneMil/KernelLowering.h"

namespace mlir::ane {
#define GEN_PASS_DEF_CONVERTLLAMATOANEMILPASS
#include "lib/Conversion/Passes.h.inc"
} // namespace mlir::ane

using namespace mlir;
using namespace mlir::anemil;
using namespace mlir::anemil::lowering;

namespace {

/// Whether a llama kernel has a backward program of its own.
bool hasBackward(func::FuncOp fn) {
  StringRef name = fn->getAttrOfType<StringAttr>("llama.kernel").getValue();
  auto kernel =
      ::ane::abi::parseKernel(std::string_view(name.data(), name.size()));
  return !kernel || ::ane::abi::backwardOf(*kernel); // unknown: run() says so
}

struct ConvertLlamaToAneMilPass
    : public mlir::ane::impl::ConvertLlamaToAneMilPassBase<
          ConvertLlamaToAneMilPass> {
  using ConvertLlamaToAneMilPassBase::ConvertLlamaToAneMilPassBase;

  FailureOr<LoraOptions> loraOptions(ModuleOp module) {
    LoraOptions lora;
    if (loraRank < 0 || (loraRank == 0) != loraTargets.empty())
      return module.emitError()
             << "lora-rank " << static_cast<int64_t>(loraRank) << " with "
             << loraTargets.size()
             << " lora-targets: a positive rank needs targets, and targets "
                "a positive rank";
    lora.rank = loraRank;
    for (const std::string &name : loraTargets) {
      std::optional<llama::Role> role = llama::symbolizeRole(name);
      if (!role || !::ane::abi::isLoraRole(name))
        return module.emitError()
               << "'" << name << "' is not a role adapters can target";
      if (!llvm::is_contained(lora.targets, *role))
        lora.targets.push_back(*role);
    }
    return lora;
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    Type compute = dtype == ::ane::abi::DType::FP16
                       ? Type(Float16Type::get(ctx))
                       : Type(Float32Type::get(ctx));
    // Every weight a kernel reads, so all kernels share one slot layout.
    // The token embedding is the host's (looked up by row from a section of
    // its own): the templates' @embed takes it, no kernel does.
    std::pair<int64_t, int64_t> qkRows{0, 0};
    int64_t headDim = 0;
    if (auto config = module->getAttrOfType<llama::ConfigAttr>(
            llama::LlamaDialect::getConfigAttrName())) {
      headDim = config.getHeadDim();
      qkRows = {config.getNHeads() * headDim, config.getNKvHeads() * headDim};
    }
    bool inputs = weightBinding == ::ane::abi::WeightBinding::Input;
    FailureOr<LoraOptions> lora = loraOptions(module);
    if (failed(lora))
      return signalPassFailure();
    SlotTable slots(ctx, compute, !inputs, qkRows, headDim);
    bool failedLayout = false;
    module.walk([&](func::FuncOp fn) {
      if (!fn->hasAttr("llama.kernel"))
        return;
      for (unsigned i = 0; i < fn.getNumArguments(); ++i)
        if (auto role = fn.getArgAttrOfType<llama::RoleAttr>(
                i, llama::LlamaDialect::getRoleAttrName()))
          failedLayout |=
              failed(slots.add(role.getValue(), fn.getArgument(i).getType(),
                               fn.getArgAttrDict(i), fn.getLoc()));
    });
    if (failedLayout)
      return signalPassFailure();
    slots.layout();
    SmallVector<func::FuncOp> kernels;
    for (auto fn : module.getOps<func::FuncOp>())
      if (fn->hasAttr("llama.kernel"))
        kernels.push_back(fn);
    if (kernels.empty()) {
      module.emitError() << "no kernels: run llama-outline-kernels first";
      return signalPassFailure();
    }
    // Backward kernels first: they read the llama kernels the forward
    // lowering then replaces. attn_out's backward is part of attn_core's.
    if (backward)
      for (func::FuncOp fn : kernels)
        if (hasBackward(fn) &&
            failed(
                KernelLowering(fn, slots, compute, inputs, true, *lora).run()))
          return signalPassFailure();
    for (func::FuncOp fn : kernels)
      if (failed(
              KernelLowering(fn, slots, compute, inputs, false, *lora).run()))
        return signalPassFailure();
    if (lora->rank > 0) {
      SmallVector<Attribute> targets;
      for (llama::Role r : lora->targets)
        targets.push_back(StringAttr::get(ctx, llama::stringifyRole(r)));
      module->setAttr("anemil.lora_rank",
                      IntegerAttr::get(IntegerType::get(ctx, 64), lora->rank));
      module->setAttr("anemil.lora_targets", ArrayAttr::get(ctx, targets));
    }
    // The packer lays out segments from this, host-side slots included.
    module->setAttr("anemil.weight_slots", slots.describeAll());
    module->setAttr("anemil.dtype",
                    StringAttr::get(ctx, ::ane::abi::dtypeName(dtype)));
    module->setAttr(
        "anemil.weight_binding",
        StringAttr::get(ctx, ::ane::abi::weightBindingName(weightBinding)));
  }
};

} // namespace
