//===- PackInputs.cpp - anemil-pack-inputs --------------------------------===//

#include "lib/Dialect/AneMil/Transforms/Passes.h"

#include "mlir/IR/Builders.h"

#include <numeric>

namespace mlir::anemil {
#define GEN_PASS_DEF_ANEMILPACKINPUTSPASS
#include "lib/Dialect/AneMil/Transforms/Passes.h.inc"
} // namespace mlir::anemil

using namespace mlir;
using namespace mlir::anemil;

namespace {

LogicalResult packInputs(func::FuncOp fn) {
  unsigned n = fn.getNumArguments();
  if (n < 2)
    return success();
  Type et;
  int64_t channels = 0;
  for (Type t : fn.getArgumentTypes()) {
    auto tensor = dyn_cast<RankedTensorType>(t);
    if (!tensor || !tensor.hasStaticShape())
      return fn.emitError() << "pack-inputs needs static tensor inputs";
    if (et && tensor.getElementType() != et)
      return fn.emitError() << "pack-inputs needs inputs of one element "
                               "type, got "
                            << et << " and " << tensor.getElementType();
    et = tensor.getElementType();
    channels = std::gcd(channels, tensor.getNumElements());
  }
  Builder b(fn.getContext());
  SmallVector<Attribute> parts;
  SmallVector<int64_t> widths, offsets;
  int64_t total = 0;
  for (unsigned i = 0; i < n; ++i) {
    auto t = cast<RankedTensorType>(fn.getArgumentTypes()[i]);
    int64_t w = t.getNumElements() / channels;
    auto name = fn.getArgAttrOfType<StringAttr>(i, "anemil.name");
    parts.push_back(b.getDictionaryAttr({
        b.getNamedAttr("name",
                       name ? name
                            : b.getStringAttr("input_" + std::to_string(i))),
        b.getNamedAttr("shape", b.getDenseI64ArrayAttr(t.getShape())),
        b.getNamedAttr("offset", b.getI64IntegerAttr(total)),
        b.getNamedAttr("columns", b.getI64IntegerAttr(w)),
    }));
    widths.push_back(w);
    offsets.push_back(total);
    total += w;
  }
  auto packedType = RankedTensorType::get({1, channels, 1, total}, et);
  Block &body = fn.getBody().front();
  BlockArgument packed = body.addArgument(
      packedType, NameLoc::get(b.getStringAttr("packed"), fn.getLoc()));
  OpBuilder ob = OpBuilder::atBlockBegin(&body);
  for (unsigned i = 0; i < n; ++i) {
    BlockArgument old = body.getArgument(i);
    auto t = cast<RankedTensorType>(old.getType());
    auto sliceType = RankedTensorType::get({1, channels, 1, widths[i]}, et);
    Value slice = ob.create<SliceBySizeOp>(
        fn.getLoc(), sliceType, packed,
        ob.getDenseI64ArrayAttr({0, 0, 0, offsets[i]}),
        ob.getDenseI64ArrayAttr({1, channels, 1, widths[i]}));
    Value restored = ob.create<ReshapeOp>(
        fn.getLoc(), t, slice, ob.getDenseI64ArrayAttr(t.getShape()));
    old.replaceAllUsesWith(restored);
  }
  for (unsigned i = 0; i < n; ++i)
    body.eraseArgument(0);
  fn.setFunctionType(
      FunctionType::get(fn.getContext(), {packedType}, fn.getResultTypes()));
  fn.setAllArgAttrs(ArrayRef<DictionaryAttr>{b.getDictionaryAttr(
      {b.getNamedAttr("anemil.name", b.getStringAttr("packed"))})});
  fn->setAttr("anemil.packed_inputs", b.getArrayAttr(parts));
  return success();
}

struct AneMilPackInputsPass
    : public anemil::impl::AneMilPackInputsPassBase<AneMilPackInputsPass> {
  void runOnOperation() override {
    for (auto fn : getOperation().getOps<func::FuncOp>())
      if (fn->hasAttr("anemil.kernel") && failed(packInputs(fn)))
        return signalPassFailure();
  }
};

} // namespace
