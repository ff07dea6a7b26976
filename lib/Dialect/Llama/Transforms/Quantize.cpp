//===- Quantize.cpp - llama-quantize --------------------------------------===//

#include "lib/Dialect/Llama/Transforms/Passes.h"

namespace mlir::llama {
#define GEN_PASS_DEF_LLAMAQUANTIZEPASS
#include "lib/Dialect/Llama/Transforms/Passes.h.inc"
} // namespace mlir::llama

using namespace mlir;
using namespace mlir::llama;

namespace {

/// The group actually used for rows of `inFeatures`: `group` if it divides
/// them, else the largest power of two below it (down to 16) that does, else
/// 0 (one group per row).
int64_t clampGroup(int64_t group, int64_t inFeatures) {
  if (group <= 0)
    return 0;
  if (inFeatures % group == 0)
    return group == inFeatures ? 0 : group;
  for (int64_t g = int64_t(1) << 62; g >= 16; g >>= 1)
    if (g < group && inFeatures % g == 0)
      return g;
  return 0;
}

struct LlamaQuantizePass
    : public llama::impl::LlamaQuantizePassBase<LlamaQuantizePass> {
  using LlamaQuantizePassBase::LlamaQuantizePassBase;

  void runOnOperation() override {
    std::optional<QuantScheme> qs;
    if (::ane::abi::isQuantized(scheme))
      qs = symbolizeQuantScheme(::ane::abi::schemeName(scheme));
    int64_t g = group == 0 ? ::ane::abi::defaultGroup(scheme) : int64_t(group);
    if (g < 0) {
      getOperation().emitError() << "group must be non-negative";
      return signalPassFailure();
    }
    MLIRContext *ctx = &getContext();
    getOperation()->setAttr(
        kQuantizationAttrName,
        StringAttr::get(ctx, ::ane::abi::schemeName(scheme)));
    getOperation().walk([&](func::FuncOp fn) {
      if (fn.isExternal())
        return;
      SmallVector<Type> inputs(fn.getArgumentTypes());
      for (unsigned i = 0; i < fn.getNumArguments(); ++i) {
        if (!fn.getArgAttr(i, LlamaDialect::getRoleAttrName()))
          continue;
        auto tensor = dyn_cast<RankedTensorType>(inputs[i]);
        if (!tensor || tensor.getRank() != 2)
          continue; // norms stay as they are
        Type newType;
        if (qs)
          newType =
              QWeightType::get(ctx, *qs, clampGroup(g, tensor.getDimSize(1)),
                               tensor.getShape(), Float16Type::get(ctx));
        else
          newType = tensor.clone(Float16Type::get(ctx));
        inputs[i] = newType;
        fn.getArgument(i).setType(newType);
      }
      fn.setFunctionType(
          FunctionType::get(ctx, inputs, fn.getFunctionType().getResults()));
    });
  }
};

} // namespace
